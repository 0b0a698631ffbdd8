//! `cargo xtask` — project automation with no dependencies beyond std.
//!
//! Run `cargo xtask help` for the list of tasks.

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Embedded target used to prove the protocol crates build without std.
const NOSTD_TARGET: &str = "thumbv7em-none-eabihf";

/// (crate, feature sets) built for [`NOSTD_TARGET`] by `cargo xtask nostd`.
/// An empty feature string means `--no-default-features` alone.
const NOSTD_MATRIX: &[(&str, &[&str])] = &[
    ("keybound-json", &["", "alloc"]),
    ("keybound-cnf", &["", "alloc"]),
    (
        "keybound-jwk",
        &["", "alloc", "alloc,p256,p384,ed25519,rsa"],
    ),
    (
        "keybound-jose",
        &["", "alloc", "alloc,p256", "alloc,p256,p384,ed25519,rsa"],
    ),
    ("keybound-dpop", &["alloc", "alloc,p256"]),
    ("keybound-mtls", &["", "alloc"]),
    ("keybound-profile", &["alloc"]),
];

/// Protocol crates also linted with no default features (catches feature-gated dead code).
const PROTOCOL_CRATES: &[&str] = &[
    "keybound-json",
    "keybound-cnf",
    "keybound-jwk",
    "keybound-jose",
    "keybound-dpop",
    "keybound-mtls",
    "keybound-profile",
];

mod batch;
mod bench;
mod interop;
mod size;

type Result<T = ()> = core::result::Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = args.get(1..).unwrap_or(&[]);
    let started = Instant::now();
    let result = match task {
        "ci" => ci(),
        "nostd" => nostd(),
        "fuzz" => fuzz(rest),
        "fuzz-smoke" => fuzz_smoke(rest),
        "interop" => interop::run(rest),
        "bench" => bench::run(rest),
        "bench-layer" => bench_layer(rest),
        "size" => size::run(rest),
        "help" | "--help" | "-h" => {
            print_help();
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => {
            eprintln!(
                "xtask {task}: ok in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("xtask {task}: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn print_help() {
    println!(
        "cargo xtask <task>\n\n\
         ci                      fmt, clippy (-D warnings), tests + doc tests, docs, nostd, size, fuzz-smoke, interop\n\
         nostd                   build the protocol crates for {NOSTD_TARGET} (no std)\n\
         fuzz TARGET [--time S]  run one fuzz target (installs cargo-fuzz when missing)\n\
         fuzz-smoke [--time S]   run every fuzz target briefly (default 10 s each)\n\
         interop [--no-install]  keybound against npm dpop/jose/oauth4webapi, jwcrypto, openssl, curl, nginx\n\
         bench [BENCH..] [--no-doc]  quick criterion run; medians + ratios to docs/performance.md\n\
         \x20                       (`batch`: full validation vs bare signature floors, docs/batch.svg)\n\
         bench-layer [N R C]     keybound-tower's layer vs a handler verifying only the two ES256\n\
         \x20                       signatures, over loopback HTTP (N requests x R rounds, C connections)\n\
         size [--no-doc]         code size of the ES256-only no_std verifier ({NOSTD_TARGET}, budget 64 KiB)"
    );
}

/// `cargo xtask bench-layer`: the layer's cost beyond two signature verifications
/// (docs/performance.md, "The tower layer").
fn bench_layer(args: &[String]) -> Result {
    step("bench-layer: keybound-tower example layer_bench (release)");
    run(cargo()
        .args([
            "run",
            "--release",
            "-p",
            "keybound-tower",
            "--features",
            "axum",
            "--example",
            "layer_bench",
            "--",
        ])
        .args(args))
}

fn root() -> PathBuf {
    // xtask/ lives directly under the workspace root.
    let manifest = env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    manifest
        .and_then(|m| m.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn step(name: &str) {
    eprintln!("\n==> {name}");
}

/// Runs a command in the workspace root, failing with its rendering when it fails.
fn run(cmd: &mut Command) -> Result {
    exec(cmd.current_dir(root()))
}

/// Runs `cmd` where it was set up to run, failing with its rendering when it fails.
fn exec(cmd: &mut Command) -> Result {
    let shown = format!("{cmd:?}");
    eprintln!("$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} exited with {status}"))
    }
}

fn cargo() -> Command {
    Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// `cargo +TOOLCHAIN` through rustup (the CARGO variable would pin the outer toolchain).
fn cargo_on(toolchain: &str) -> Command {
    let mut c = Command::new("cargo");
    c.arg(format!("+{toolchain}"));
    // Do not leak the outer cargo's toolchain choice into the inner one.
    c.env_remove("RUSTUP_TOOLCHAIN");
    c.env_remove("CARGO");
    c.env_remove("RUSTC");
    c
}

fn ci() -> Result {
    step("rustfmt");
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "fmt",
        "--manifest-path",
        "fuzz/Cargo.toml",
        "--all",
        "--check",
    ]))?;

    step("clippy (workspace, all targets, all features)");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;
    step("clippy (protocol crates, no default features)");
    for krate in PROTOCOL_CRATES {
        run(cargo().args([
            "clippy",
            "-p",
            krate,
            "--no-default-features",
            "--",
            "-D",
            "warnings",
        ]))?;
    }

    step("tests and doc tests");
    ensure_redis()?;
    run(cargo().args(["test", "--workspace", "--all-features"]))?;

    step("rustdoc (-D warnings)");
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--all-features"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;

    step("no_std");
    nostd()?;

    step("code size budget (ES256-only no_std verifier)");
    size::run(&["--no-doc".to_owned()])?;

    step("fuzz smoke");
    fuzz_smoke(&[])?;

    step("interop with real peers (npm dpop/jose/oauth4webapi, jwcrypto, openssl, curl, nginx)");
    interop::run(&[])?;
    Ok(())
}

/// keybound-redis tests start their own `redis-server` processes (standalone, Cluster,
/// Sentinel) and drive them with `redis-cli`; install both when missing (Debian packages).
fn ensure_redis() -> Result {
    let have = |program: &str| {
        let path = env::var_os("PATH").unwrap_or_default();
        env::split_paths(&path)
            .chain(["/usr/bin", "/usr/sbin", "/usr/local/bin"].map(PathBuf::from))
            .any(|dir| dir.join(program).is_file())
    };
    if have("redis-server") && have("redis-cli") {
        return Ok(());
    }
    step("apt-get install redis-server redis-tools");
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(["redis-server", "redis-tools"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn nostd() -> Result {
    let have_target = ensure_target(NOSTD_TARGET);
    if have_target {
        for (krate, sets) in NOSTD_MATRIX {
            for features in *sets {
                let mut c = cargo();
                c.args([
                    "build",
                    "-p",
                    krate,
                    "--no-default-features",
                    "--target",
                    NOSTD_TARGET,
                ]);
                if !features.is_empty() {
                    c.args(["--features", features]);
                }
                run(&mut c)?;
            }
        }
        Ok(())
    } else {
        Err(format!(
            "target {NOSTD_TARGET} is not installed and `rustup target add` failed; \
             install it to prove the no_std builds"
        ))
    }
}

/// Adds a rustup target when missing; false when it cannot be had.
fn ensure_target(target: &str) -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == target)
        })
        .unwrap_or(false);
    installed
        || Command::new("rustup")
            .args(["target", "add", target])
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

/// The toolchain used for fuzzing: nightly (sanitizers) when present, else stable without one.
fn fuzz_toolchain() -> (&'static str, bool) {
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if nightly {
        ("nightly", true)
    } else {
        ("stable", false)
    }
}

fn ensure_cargo_fuzz() -> Result {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if present {
        return Ok(());
    }
    step("installing cargo-fuzz (once per machine)");
    run(cargo().args(["install", "cargo-fuzz", "--locked"]))
}

fn fuzz_targets() -> Result<Vec<String>> {
    let dir = root().join("fuzz/fuzz_targets");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn parse_time(args: &[String], default: u64) -> Result<u64> {
    match args.iter().position(|a| a == "--time") {
        None => Ok(default),
        Some(i) => args
            .get(i + 1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| "--time takes a whole number of seconds".to_owned()),
    }
}

fn fuzz_run(target: &str, seconds: u64) -> Result {
    let (toolchain, sanitizer) = fuzz_toolchain();
    let scratch = root().join("fuzz/target/smoke-corpus").join(target);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let seeds = root().join("fuzz/corpus").join(target);
    std::fs::create_dir_all(&seeds).map_err(|e| e.to_string())?;
    let mut c = cargo_on(toolchain);
    c.args(["fuzz", "run", "--fuzz-dir", "fuzz"]);
    if !sanitizer {
        c.args(["-s", "none"]);
    }
    // New inputs go to a scratch corpus; the committed seeds are read-only.
    c.arg(target).arg(&scratch).arg(&seeds);
    c.args([
        "--",
        &format!("-max_total_time={seconds}"),
        "-print_final_stats=1",
    ]);
    run(&mut c)
}

fn fuzz(args: &[String]) -> Result {
    let target = args
        .first()
        .filter(|a| !a.starts_with('-'))
        .ok_or("usage: cargo xtask fuzz TARGET [--time S]")?;
    let seconds = parse_time(args, 60)?;
    ensure_cargo_fuzz()?;
    fuzz_run(target, seconds)
}

fn fuzz_smoke(args: &[String]) -> Result {
    let seconds = parse_time(args, 10)?;
    let targets = fuzz_targets()?;
    if targets.is_empty() {
        return Err("no fuzz targets under fuzz/fuzz_targets".into());
    }
    ensure_cargo_fuzz()?;
    let (toolchain, _) = fuzz_toolchain();
    run(cargo_on(toolchain).args([
        "clippy",
        "--manifest-path",
        "fuzz/Cargo.toml",
        "--",
        "-D",
        "warnings",
    ]))?;
    for t in &targets {
        step(&format!("fuzz {t} for {seconds} s"));
        fuzz_run(t, seconds)?;
    }
    Ok(())
}
