//! `cargo xtask bench`: runs the criterion benches in quick mode and writes a table of medians
//! and same-run ratios to `docs/performance.md`, with the machine it ran on.
//!
//! Not part of `cargo xtask ci`: it takes minutes and its figures depend on the machine's load.
//! Ratios are only ever taken between rows of one run.

use core::fmt::Write as _;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::SystemTime;

use crate::{Result, cargo, root, step};

/// The bench files of `keybound-benches`, in the order they run.
const BENCHES: &[&str] = &["dpop", "thumbprint", "mtls", "replay_nonce"];
/// Quick mode: enough samples for a stable median on an idle machine, minutes in all.
const QUICK: &[&str] = &["--warm-up-time", "1", "--measurement-time", "3", "--noplot"];
/// The performance document the results go to.
const DOC: &str = "docs/performance.md";

pub(crate) fn run(args: &[String]) -> Result {
    let write_doc = !args.iter().any(|a| a == "--no-doc");
    let mut chosen: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for name in &chosen {
        if !BENCHES.contains(name) && *name != "batch" {
            return Err(format!(
                "unknown bench `{name}`; one of {BENCHES:?} or `batch`"
            ));
        }
    }
    // The side-by-side batch rows (not criterion): their own section and chart.
    let batch = chosen.is_empty() || chosen.contains(&"batch");
    chosen.retain(|n| *n != "batch");
    if batch {
        let report = if args.iter().any(|a| a == "--report-only") {
            crate::batch::report_saved(write_doc)?
        } else {
            crate::batch::run_batch(write_doc)?
        };
        println!("\n{report}");
        if write_doc {
            let mut section = String::new();
            machine_line(&mut section, SystemTime::now(), &load_average());
            section.push_str(&report);
            write_doc_section("batch", &section)?;
            eprintln!("wrote {DOC} (batch)");
        }
        if chosen.is_empty() && !args.is_empty() {
            return Ok(());
        }
    }
    let benches: Vec<&str> = if chosen.is_empty() {
        BENCHES.to_vec()
    } else {
        chosen
    };

    let saved = crate::size::target_dir()
        .join("criterion")
        .join("xtask-bench-run.txt");
    let (started, load_before, load_after, stdout) = if args.iter().any(|a| a == "--report-only") {
        load_run(&saved)?
    } else {
        let load_before = load_average();
        let started = SystemTime::now();
        let mut stdout = String::new();
        for bench in &benches {
            step(&format!("bench {bench}"));
            stdout.push_str(&bench_output(bench)?);
        }
        let load_after = load_average();
        let secs = started
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = format!("{secs}\n{load_before}\n{load_after}\n{stdout}");
        std::fs::write(&saved, text).map_err(|e| format!("{}: {e}", saved.display()))?;
        (started, load_before, load_after, stdout)
    };

    let medians = read_estimates(&crate::size::target_dir().join("criterion"), started)?;
    if medians.is_empty() {
        return Err("no criterion estimates were written by this run".into());
    }
    let mut report = String::new();
    machine(&mut report, started, &load_before, &load_after);
    headline(&mut report, &medians, &stdout);
    all_rows(&mut report, &medians);
    println!("\n{report}");
    if write_doc {
        write_doc_section("bench", &report)?;
        eprintln!("wrote {DOC}");
    }
    Ok(())
}

/// The start time, load averages and stdout saved by the last full run (`--report-only`).
fn load_run(path: &Path) -> Result<(SystemTime, String, String, String)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e} (run `cargo xtask bench` first)", path.display()))?;
    let mut parts = text.splitn(4, '\n');
    let secs: u64 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or("bad saved run")?;
    let started = SystemTime::UNIX_EPOCH + core::time::Duration::from_secs(secs);
    let mut next = || parts.next().unwrap_or_default().to_owned();
    Ok((started, next(), next(), next()))
}

/// Runs one bench in quick mode, echoing and returning its stdout (our own report lines).
fn bench_output(bench: &str) -> Result<String> {
    let mut c = cargo();
    c.args(["bench", "-p", "keybound-benches", "--bench", bench, "--"])
        .args(QUICK);
    echoed_stdout(&mut c, bench)
}

/// Runs `cargo bench …` in the workspace root, echoing its stdout line by line and returning
/// it; an error names `bench` when it fails.
pub(crate) fn echoed_stdout(c: &mut Command, bench: &str) -> Result<String> {
    c.current_dir(root()).stdout(Stdio::piped());
    eprintln!("$ {c:?}");
    let mut child = c
        .spawn()
        .map_err(|e| format!("cannot start cargo bench: {e}"))?;
    let mut out = String::new();
    if let Some(pipe) = child.stdout.take() {
        for line in BufReader::new(pipe).lines() {
            let line = line.map_err(|e| e.to_string())?;
            println!("{line}");
            out.push_str(&line);
            out.push('\n');
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(out)
    } else {
        Err(format!("cargo bench --bench {bench} exited with {status}"))
    }
}

/// Median (ns) of every benchmark whose estimates were written after `since`, by full id.
fn read_estimates(dir: &Path, since: SystemTime) -> Result<BTreeMap<String, f64>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let in_new = path
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == "new");
            if !in_new || path.file_name().is_none_or(|n| n != "estimates.json") {
                continue;
            }
            let fresh = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= since);
            if !fresh {
                continue;
            }
            let estimates = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
            let meta = std::fs::read_to_string(path.with_file_name("benchmark.json"))
                .map_err(|e| e.to_string())?;
            if let (Some(id), Some(median)) = (
                json_string(&meta, "full_id"),
                json_number_after(&estimates, "\"median\"", "\"point_estimate\""),
            ) {
                found.insert(id, median);
            }
        }
    }
    Ok(found)
}

/// The string value of `"key":"…"` in criterion's flat `benchmark.json` (no escapes there).
fn json_string(text: &str, key: &str) -> Option<String> {
    let at = text.find(&format!("\"{key}\":\""))? + key.len() + 4;
    let rest = text.get(at..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

/// The number after `key` that follows `section` (e.g. the median's point estimate).
fn json_number_after(text: &str, section: &str, key: &str) -> Option<f64> {
    let rest = text.get(text.find(section)?..)?;
    let rest = rest
        .get(rest.find(key)? + key.len()..)?
        .trim_start_matches([':', ' ']);
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest.get(..end)?.trim().parse().ok()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn command_line(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
}

/// The CPU count and model (`/proc/cpuinfo`).
fn cpus_and_model() -> (usize, String) {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    (cpus, model)
}

/// `at` as a UTC date and minute.
fn utc_date(at: SystemTime) -> String {
    let secs = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    command_line(
        "date",
        &["-u", "-d", &format!("@{secs}"), "+%Y-%m-%d %H:%M UTC"],
    )
    .unwrap_or_else(|| format!("Unix time {secs}"))
}

fn machine(report: &mut String, started: SystemTime, load_before: &str, load_after: &str) {
    let (cpus, model) = cpus_and_model();
    let rustc = command_line(
        &std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
        &["--version"],
    )
    .unwrap_or_else(|| "rustc (unknown)".into());
    let date = utc_date(started);
    let _ = writeln!(
        report,
        "Run of `cargo xtask bench` on {date}: {cpus} CPUs ({model}), {rustc}, load average \
         {load_before} before and {load_after} after (1, 5, 15 min). Criterion quick mode \
         (`{}`); medians. Figures from a shared, loaded machine are noisy: compare the ratios, \
         which are taken within this one run.\n",
        QUICK.join(" ")
    );
}

/// One line naming the machine, for sections written outside the criterion run.
fn machine_line(report: &mut String, at: SystemTime, load: &str) {
    let (cpus, model) = cpus_and_model();
    let date = utc_date(at);
    let _ = writeln!(
        report,
        "Written {date} on {cpus} CPUs ({model}); load average {load} when it finished.\n"
    );
}

/// Formats nanoseconds with a unit that keeps 3–4 significant digits.
fn time(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// The value printed after `label` on a line of the benches' stdout that starts with `prefix`.
fn stdout_number(stdout: &str, prefix: &str, label: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with(prefix))?;
    let rest = line.get(line.find(label)? + label.len()..)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

/// The value printed just before `label` on a line that starts with `prefix`.
fn stdout_number_before(stdout: &str, prefix: &str, label: &str) -> Option<f64> {
    let line = stdout.lines().find(|l| l.starts_with(prefix))?;
    let head = line.get(..line.find(label)?)?.trim_end();
    let start = head
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |i| i + 1);
    head.get(start..)?.parse().ok()
}

fn headline(report: &mut String, m: &BTreeMap<String, f64>, stdout: &str) {
    let get = |id: &str| m.get(id).copied();
    let ratio = |a: &str, b: &str| Some(get(a)? / get(b)?);
    let show = |r: Option<f64>| r.map_or_else(|| "—".into(), |r| format!("{r:.3}"));
    let check = |ok: Option<bool>| match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    };

    let _ = writeln!(report, "### Full validation vs the bare signature floor\n");
    let _ = writeln!(
        report,
        "`full` = `check_proof` (decode, strict JSON, header and key checks, signature, claims, htu \
         normalization, iat, ath, thumbprint); `bare` = the backend's own verification of the same \
         bytes with the key imported from the same coordinates. The interleaved ratio alternates \
         full and bare runs and takes the median of per-round ratios (robust to load changes). \
         Target: ≤ 1.05.\n"
    );
    let _ = writeln!(
        report,
        "| alg | backend | full | bare | full / bare (criterion) | full / bare (interleaved) | ≤ 1.05 |"
    );
    let _ = writeln!(report, "|---|---|---:|---:|---:|---:|:---:|");
    for alg in ["ES256", "EdDSA", "PS256"] {
        for (backend, full, bare, label) in [
            ("RustCrypto", "full", "bare", "rustcrypto"),
            ("ring", "ring_full", "ring_bare", "ring"),
            ("aws-lc-rs", "awslc_full", "awslc_bare", "aws-lc"),
        ] {
            let (f, b) = (format!("{alg}/{full}"), format!("{alg}/{bare}"));
            let inter = stdout_number(stdout, &format!("ratio {alg} {label} "), "median ratio");
            let _ = writeln!(
                report,
                "| {alg} | {backend} | {} | {} | {} | {} | {} |",
                get(&f).map_or_else(|| "—".into(), time),
                get(&b).map_or_else(|| "—".into(), time),
                show(ratio(&f, &b)),
                show(inter),
                check(inter.or(ratio(&f, &b)).map(|r| r <= 1.05)),
            );
        }
    }
    let inter = stdout_number(stdout, "ratio ES256 ring+replay ", "median ratio");
    let _ = writeln!(
        report,
        "| ES256 | ring, + replay commit | — | — | — | {} | {} |",
        show(inter),
        check(inter.map(|r| r <= 1.05)),
    );

    let _ = writeln!(report, "\n### Other targets\n");
    let _ = writeln!(report, "| target | measured | met |");
    let _ = writeln!(report, "|---|---:|:---:|");
    for (backend, id) in [
        ("ring", "ES256/ring_full"),
        ("aws-lc-rs", "ES256/awslc_full"),
    ] {
        let speedup = ratio("ES256/full", id);
        let _ = writeln!(
            report,
            "| ES256 validation with {backend} ≥ 4× faster than with p256 | {}× | {} |",
            show(speedup),
            check(speedup.map(|s| s >= 4.0))
        );
    }
    for (label, id) in [
        (
            "replay check-and-insert, 1 thread ≥ 2 M/s",
            "replay/insert_1t",
        ),
        ("replay check-and-insert, 2 threads", "replay/insert_2t"),
    ] {
        let rate = get(id).map(|ns| 1e3 / ns);
        let met = if id.ends_with("1t") {
            check(rate.map(|r| r >= 2.0))
        } else {
            "—"
        };
        let _ = writeln!(
            report,
            "| {label} | {} M/s | {met} |",
            rate.map_or_else(|| "—".into(), |r| format!("{r:.2}"))
        );
    }
    let per_entry = stdout_number_before(stdout, "replay/at_capacity:", " bytes per live entry");
    let _ = writeln!(
        report,
        "| replay store bytes per live entry at 1 M entries ≤ 64 | {} B | {} |",
        per_entry.map_or_else(|| "—".into(), |b| format!("{b:.1}")),
        check(per_entry.map(|b| b <= 64.0))
    );
    let dups = stdout_number_before(stdout, "replay/at_capacity:", " duplicates accepted");
    let _ = writeln!(
        report,
        "| replay duplicates accepted at capacity = 0 | {} | {} |",
        dups.map_or_else(|| "—".into(), |d| format!("{d:.0}")),
        check(dups.map(|d| d == 0.0))
    );
    for (label, a, b) in [
        (
            "checks without signature, ES256 (decode … thumbprint)",
            "overhead_ES256/checks_without_signature",
            "",
        ),
        (
            "the same plus the replay commit",
            "overhead_ES256/checks_and_replay_commit",
            "",
        ),
        (
            "RFC 7638 thumbprint / SHA-256 of the canonical JSON",
            "thumbprint/p256_thumbprint_only",
            "thumbprint/floor_sha256_of_canonical_json",
        ),
        (
            "x5t#S256 of a 1165-byte certificate / bare SHA-256",
            "x5t_s256/checked",
            "x5t_s256/sha256_floor",
        ),
        (
            "nginx `$ssl_client_escaped_cert` → x5t#S256 / bare SHA-256",
            "nginx_decode_x5t/nginx",
            "x5t_s256/sha256_floor",
        ),
        (
            "RFC 9440 `Client-Cert` → x5t#S256 / bare SHA-256",
            "nginx_decode_x5t/rfc9440",
            "x5t_s256/sha256_floor",
        ),
    ] {
        let measured = if b.is_empty() {
            get(a).map_or_else(|| "—".into(), time)
        } else {
            format!(
                "{} ({}×)",
                get(a).map_or_else(|| "—".into(), time),
                show(ratio(a, b))
            )
        };
        let _ = writeln!(report, "| {label} | {measured} | — |");
    }
}

fn all_rows(report: &mut String, m: &BTreeMap<String, f64>) {
    let _ = writeln!(report, "\n### Every median of this run\n");
    let _ = writeln!(report, "| benchmark | median |");
    let _ = writeln!(report, "|---|---:|");
    for (id, ns) in m {
        let _ = writeln!(report, "| `{id}` | {} |", time(*ns));
    }
}

/// Replaces the text between `<!-- xtask:NAME:begin -->` and `<!-- xtask:NAME:end -->` in
/// `docs/performance.md` (appending the block when the markers are missing).
pub(crate) fn write_doc_section(name: &str, body: &str) -> Result {
    let path = root().join(DOC);
    let old = std::fs::read_to_string(&path).unwrap_or_else(|_| "# Performance\n".into());
    let (begin, end) = (
        format!("<!-- xtask:{name}:begin -->"),
        format!("<!-- xtask:{name}:end -->"),
    );
    let block = format!("{begin}\n{}\n{end}", body.trim_end());
    let new = match (old.find(&begin), old.find(&end)) {
        (Some(b), Some(e)) if b < e => {
            format!(
                "{}{block}{}",
                old.get(..b).unwrap_or_default(),
                old.get(e + end.len()..).unwrap_or_default()
            )
        }
        _ => format!("{}\n{block}\n", old.trim_end()),
    };
    std::fs::write(&path, new).map_err(|e| format!("{}: {e}", path.display()))
}
