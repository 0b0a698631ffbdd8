//! The side-by-side batch rows of `cargo xtask bench` (issue 18): keybound's full DPoP
//! validation (warm prepared-key cache, cold keys, the CLI's `dpop verify --batch` in process
//! and whole process) beside the bare signature floors of *ring*, aws-lc-rs and RustCrypto,
//! per algorithm, from one run of `benches/benches/batch.rs`.
//!
//! Writes the `batch` section of docs/performance.md (tables, the targets with their verdicts)
//! and `docs/batch.svg`, a chart drawn from the same run's figures.

use crate::{Result, cargo, root, run, step};
use core::fmt::Write as _;
use std::collections::BTreeMap;

/// The chart the run draws (relative to the workspace root).
const SVG: &str = "docs/batch.svg";

/// One row: (algorithm, kind, backend) → (CPU µs, wall µs) per proof.
type Rows = BTreeMap<(String, String, String), (f64, f64)>;
/// (algorithm, ratio name) → (CPU ratio, wall ratio).
type Ratios = BTreeMap<(String, String), (f64, f64)>;

/// Runs the batch bench (building the release CLI first, so the CLI rows run) and returns
/// its report (markdown), after writing the chart.
pub(crate) fn run_batch(write_files: bool) -> Result<String> {
    step("build the release CLI (the batch bench runs `keybound dpop verify --batch`)");
    run(cargo().args(["build", "--release", "-p", "keybound-cli"]))?;
    step("bench batch");
    let bin = crate::size::target_dir().join("release").join("keybound");
    let mut c = cargo();
    c.args(["bench", "-p", "keybound-benches", "--bench", "batch"])
        .env("KEYBOUND_BIN", &bin);
    let out = crate::bench::echoed_stdout(&mut c, "batch")?;
    let saved = saved_run();
    let _ = std::fs::write(&saved, &out);
    report(&out, write_files)
}

/// The report of a saved run (`cargo xtask bench batch --report-only`).
pub(crate) fn report_saved(write_files: bool) -> Result<String> {
    let saved = saved_run();
    let out = std::fs::read_to_string(&saved).map_err(|e| {
        format!(
            "{}: {e} (run `cargo xtask bench batch` first)",
            saved.display()
        )
    })?;
    report(&out, write_files)
}

/// Where the last run's stdout is kept (`--report-only` reads it).
fn saved_run() -> std::path::PathBuf {
    crate::size::target_dir()
        .join("bench-batch")
        .join("last-run.txt")
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

fn parse(out: &str) -> (Rows, Ratios, BTreeMap<String, String>) {
    let (mut rows, mut ratios, mut floors) = (Rows::new(), Ratios::new(), BTreeMap::new());
    for line in out.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["batch", alg, kind, backend, "cpu", cpu, "wall", wall] => {
                rows.insert(
                    ((*alg).into(), (*kind).into(), (*backend).into()),
                    (num(cpu), num(wall)),
                );
            }
            ["batch-ratio", alg, name, "cpu", cpu, "wall", wall] => {
                ratios.insert(((*alg).into(), (*name).into()), (num(cpu), num(wall)));
            }
            ["batch-floor", alg, backend] => {
                floors.insert((*alg).to_owned(), (*backend).to_owned());
            }
            _ => {}
        }
    }
    (rows, ratios, floors)
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "—".into()
    } else {
        format!("{x:.digits$}")
    }
}

/// What each target asks, the ratio that measures it, the bound, and whether the CPU or the
/// wall-clock figure is the one compared.
const TARGETS: &[(&str, &str, f64, bool)] = &[
    (
        "full validation, warm cache (2000 proofs / 50 keys) ≤ 1.00 × fastest floor",
        "warm/floor",
        1.00,
        true,
    ),
    (
        "full validation, cold keys (2000 proofs / 2000 keys) ≤ 1.05 × fastest floor",
        "cold/floor",
        1.05,
        true,
    ),
    (
        "`dpop verify --batch`, whole process ≤ 1.05 × fastest floor",
        "cli-whole/floor",
        1.05,
        true,
    ),
    (
        "`dpop verify --batch`: whole process ≤ 1.03 × its in-process figure",
        "cli-whole/cli-inproc",
        1.03,
        false,
    ),
];

fn report(out: &str, write_files: bool) -> Result<String> {
    let (rows, ratios, floors) = parse(out);
    if rows.is_empty() {
        return Err("the batch bench printed no `batch` rows".into());
    }
    let algs: Vec<String> = {
        let mut v: Vec<String> = Vec::new();
        for (alg, _, _) in rows.keys() {
            if !v.contains(alg) {
                v.push(alg.clone());
            }
        }
        v
    };
    let mut r = String::new();
    let _ = writeln!(
        r,
        "### Side by side: full validation against the bare signature floors\n\n\
         From one run of `benches/benches/batch.rs` (`cargo xtask bench batch`): per algorithm, \
         2000 proofs over 50 keys (*warm*) and 2000 proofs over 2000 keys (*cold*). Every row \
         runs 50 proofs at a time, rows interleaved in a rotating order over the rounds, so \
         load shifts touch every row alike; figures are medians of on-CPU µs per proof \
         (`CLOCK_THREAD_CPUTIME_ID` of the bench thread; wall clock beside it), ratios medians of per-chunk ratios on the \
         same proofs. A *floor* verifies the bare signature, importing the key from its \
         decoded coordinates on every call; *prepared* is the backend's verification with the \
         key imported beforehand; *warm*/*cold* are keybound's `check_proof` + replay commit \
         through a `CachedVerifier` over that backend (*fastest* = `FastestVerifier`, the std \
         default); *cli* rows run `keybound dpop verify --batch` (whole process: `perf stat` \
         task-clock when available; in process: its `DPOP_BENCH_PASSES` median).\n"
    );
    let _ = writeln!(
        r,
        "| target | alg | ratio (CPU) | ratio (wall) | bound | verdict |"
    );
    let _ = writeln!(r, "|---|---|---:|---:|---:|---|");
    for (what, name, bound, cpu_is_the_figure) in TARGETS {
        for alg in &algs {
            let Some(&(cpu, wall)) = ratios.get(&(alg.clone(), (*name).to_owned())) else {
                continue;
            };
            let figure = if *cpu_is_the_figure && !cpu.is_nan() {
                cpu
            } else {
                wall
            };
            let verdict = if figure.is_nan() {
                "not measured"
            } else if figure <= *bound {
                "met"
            } else {
                "**not met**"
            };
            let _ = writeln!(
                r,
                "| {what} | {alg} | {} | {} | {bound:.2} | {verdict} |",
                fmt(cpu, 3),
                fmt(wall, 3)
            );
        }
    }
    for alg in &algs {
        let floor = floors.get(alg).map_or("?", String::as_str);
        let _ = writeln!(
            r,
            "\n#### {alg} (fastest floor: {floor})\n\n| row | backend | CPU µs/proof | wall µs/proof |\n|---|---|---:|---:|"
        );
        for ((a, kind, backend), (cpu, wall)) in &rows {
            if a == alg {
                let _ = writeln!(
                    r,
                    "| {kind} | {backend} | {} | {} |",
                    fmt(*cpu, 2),
                    fmt(*wall, 2)
                );
            }
        }
        let per_backend: Vec<String> = ratios
            .iter()
            .filter(|((a, n), _)| a == alg && n.contains(':'))
            .map(|((_, n), (cpu, _))| format!("{n} {}", fmt(*cpu, 3)))
            .collect();
        if !per_backend.is_empty() {
            let _ = writeln!(
                r,
                "\nPer backend (CPU ratios against that backend's own floor): {}.",
                per_backend.join(", ")
            );
        }
    }
    let _ = writeln!(
        r,
        "\n![µs per proof per algorithm and backend, cached and cold, beside the floors]({})",
        SVG.trim_start_matches("docs/")
    );
    if write_files {
        let path = root().join(SVG);
        std::fs::write(&path, svg(&rows, &algs)).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {SVG}");
    }
    Ok(r)
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Bars of CPU µs per proof, one panel per algorithm (its own scale), one bar per row.
fn svg(rows: &Rows, algs: &[String]) -> String {
    const ORDER: &[&str] = &[
        "floor",
        "prepared",
        "warm",
        "cli-inproc",
        "cli-whole",
        "floor-cold",
        "cold",
    ];
    let colour = |kind: &str| match kind {
        "floor" | "floor-cold" => "#9e9e9e",
        "prepared" => "#90caf9",
        "warm" => "#1e88e5",
        "cold" => "#fb8c00",
        _ => "#43a047",
    };
    let (label_w, bar_w, row_h, width) = (220.0, 420.0, 16.0, 760.0);
    let mut body = String::new();
    let mut y = 40.0;
    for alg in algs {
        let mut bars: Vec<(String, &str, f64)> = Vec::new();
        for kind in ORDER {
            for ((a, k, backend), (cpu, wall)) in rows {
                if a == alg && k == kind {
                    let v = if cpu.is_nan() { *wall } else { *cpu };
                    if !v.is_nan() {
                        bars.push((format!("{k} · {backend}"), colour(k), v));
                    }
                }
            }
        }
        let max = bars.iter().map(|b| b.2).fold(0.0_f64, f64::max);
        let _ = writeln!(
            body,
            r#"<text x="10" y="{y}" font-weight="bold">{} — µs per proof (CPU; cli-inproc: wall)</text>"#,
            esc(alg)
        );
        y += 8.0;
        for (label, fill, v) in &bars {
            let w = if max > 0.0 { v / max * bar_w } else { 0.0 };
            let _ = writeln!(
                body,
                r#"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{}" y="{}" width="{w:.1}" height="{}" fill="{fill}"/><text x="{}" y="{}">{v:.1}</text>"#,
                label_w - 6.0,
                y + row_h - 4.0,
                esc(label),
                label_w,
                y + 2.0,
                row_h - 4.0,
                label_w + w + 4.0,
                y + row_h - 4.0,
            );
            y += row_h;
        }
        y += 28.0;
    }
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="13">keybound DPoP validation vs bare signature floors (generated by cargo xtask bench batch)</text>
{body}</svg>
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "batch ES256 floor ring cpu 40.00 wall 41.00\n\
        batch ES256 warm fastest cpu 38.00 wall 39.00\n\
        batch ES256 cli-inproc fastest cpu - wall 39.50\n\
        batch-floor ES256 ring\n\
        batch-ratio ES256 warm/floor cpu 0.950 wall 0.951\n\
        batch-ratio ES256 cold/floor cpu 1.100 wall 1.090\n\
        batch-ratio ES256 cli-whole/cli-inproc cpu NaN wall 1.020\n";

    #[test]
    fn the_report_states_each_target_with_its_verdict() {
        let r = report(SAMPLE, false).unwrap();
        assert!(r.contains("| ES256 | 0.950 | 0.951 | 1.00 | met |"), "{r}");
        assert!(
            r.contains("| ES256 | 1.100 | 1.090 | 1.05 | **not met** |"),
            "{r}"
        );
        assert!(r.contains("| ES256 | — | 1.020 | 1.03 | met |"), "{r}");
        assert!(r.contains("| cli-inproc | fastest | — | 39.50 |"), "{r}");
    }

    #[test]
    fn the_chart_scales_each_panel_to_its_own_longest_bar() {
        let (rows, _, _) = parse(SAMPLE);
        let s = svg(&rows, &["ES256".to_owned()]);
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.contains(r#"width="420.0""#), "{s}");
        assert!(s.contains("floor · ring"), "{s}");
    }

    #[test]
    fn output_without_rows_is_an_error() {
        assert!(report("nothing here\n", false).is_err());
    }
}
