//! `cargo xtask interop`: keybound against independent implementations, on loopback.
//!
//! 1. Installs the pinned peers when missing (idempotent, fast when present): Debian `nginx`,
//!    `curl`, `openssl` (apt-get), npm `dpop`, `jose`, `oauth4webapi`, `oidc-provider`,
//!    `openid-client` (`npm ci` in interop/, from the committed lock), PyPI `jwcrypto` (a venv
//!    under tools/, exact pins from interop/requirements.txt).
//! 2. Builds the `keybound` CLI and the interop binaries: the resource server
//!    (interop/rs-server), keybound-client at a real AS (interop/rs-client) and the
//!    authorization server on `keybound::authz` (interop/rs-as).
//! 3. Runs the check programs in interop/ (npm peers, jwcrypto, openssl/curl/nginx, nginx
//!    `auth_request` in front of `keybound serve`, and the end-to-end flows with oidc-provider,
//!    openid-client and nginx), each in its own process group with a deadline; the group is
//!    killed when the program ends, so no server outlives the run. Each prints
//!    `CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got` lines; a check passes when
//!    `expected == got`.
//!
//! The run ends with the line `N passed, M failed` and fails on any failed check.
//! See docs/interop.md.

use core::time::Duration;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use crate::{Result, cargo, exec, root, step};

/// Debian packages and the program each provides.
const APT_TOOLS: &[(&str, &str)] = &[("nginx", "nginx"), ("curl", "curl"), ("openssl", "openssl")];
/// Where the PyPI peers live (git-ignored).
const VENV: &str = "tools/interop-venv";
/// Written after a successful install, holding the pin file it installed.
const STAMP: &str = ".keybound-interop-stamp";
/// Longest a check program may run before its process group is killed.
const CHECK_DEADLINE: Duration = Duration::from_secs(180);
/// The same for the end-to-end program (about 6 s on the 2-core machine).
const OIDC_DEADLINE: Duration = Duration::from_secs(90);

pub(crate) fn run(args: &[String]) -> Result {
    let mut install = true;
    let mut keep = false;
    for a in args {
        match a.as_str() {
            "--no-install" => install = false,
            "--keep" => keep = true,
            other => {
                return Err(format!(
                    "unknown argument `{other}`; usage: cargo xtask interop [--no-install] [--keep]"
                ));
            }
        }
    }
    let started = Instant::now();
    step("interop: peers (install when missing)");
    for tool in ["node", "npm", "python3"] {
        if find_program(tool).is_none() {
            return Err(format!(
                "`{tool}` is not installed (the machine image provides it)"
            ));
        }
    }
    if install {
        ensure_apt_tools()?;
        ensure_npm()?;
        ensure_venv()?;
    }
    let installed = started.elapsed();

    step("interop: build keybound binaries");
    let built_at = Instant::now();
    let Built {
        keybound,
        rs_server,
        rs_client,
        authorization_server,
    } = build()?;
    let built = built_at.elapsed();

    step("interop: checks");
    let checks_at = Instant::now();
    let work = std::env::temp_dir().join(format!("keybound-interop-{}", std::process::id()));
    for sub in ["mtls", "oidc"] {
        std::fs::create_dir_all(work.join(sub)).map_err(|e| format!("{}: {e}", work.display()))?;
    }
    let interop = root().join("interop");
    let python = root().join(VENV).join("bin/python");
    let mut tally = Tally::default();
    let mut npm = Command::new("node");
    npm.arg("check-npm.mjs")
        .arg(&keybound)
        .arg(&work)
        .current_dir(&interop);
    run_checks(
        &mut tally,
        "npm dpop/jose/oauth4webapi",
        npm,
        CHECK_DEADLINE,
    );
    let mut py = Command::new(&python);
    py.arg("check_jwcrypto.py")
        .arg(&keybound)
        .arg(&work)
        .current_dir(&interop);
    run_checks(&mut tally, "PyPI jwcrypto", py, CHECK_DEADLINE);
    let mut mtls = Command::new(&python);
    mtls.arg("check_mtls.py")
        .arg(&keybound)
        .arg(&rs_server)
        .arg(work.join("mtls"))
        .current_dir(&interop);
    run_checks(&mut tally, "openssl/curl/nginx", mtls, CHECK_DEADLINE);
    std::fs::create_dir_all(work.join("forward-auth"))
        .map_err(|e| format!("{}: {e}", work.display()))?;
    let mut forward = Command::new(&python);
    forward
        .arg("check_forward_auth.py")
        .arg(&keybound)
        .arg(work.join("forward-auth"))
        .current_dir(&interop);
    run_checks(
        &mut tally,
        "nginx auth_request + keybound serve",
        forward,
        CHECK_DEADLINE,
    );
    let mut oidc = Command::new("node");
    oidc.arg("check_oidc.mjs")
        .arg(&keybound)
        .arg(&rs_server)
        .arg(work.join("oidc"))
        .arg(&rs_client)
        .arg(&authorization_server)
        .current_dir(&interop);
    run_checks(
        &mut tally,
        "oidc-provider/openid-client/nginx",
        oidc,
        OIDC_DEADLINE,
    );
    if keep {
        eprintln!("interop: kept {}", work.display());
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }

    eprintln!(
        "interop: install {:.1} s, build {:.1} s, checks {:.1} s",
        installed.as_secs_f64(),
        built.as_secs_f64(),
        checks_at.elapsed().as_secs_f64()
    );
    println!("{} passed, {} failed", tally.passed, tally.failed);
    if tally.failed > 0 {
        Err(format!("{} interop check(s) failed", tally.failed))
    } else if tally.passed == 0 {
        Err("no interop check ran".into())
    } else {
        Ok(())
    }
}

/// `name` on PATH (plus the sbin directories, where Debian puts nginx).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn ensure_apt_tools() -> Result {
    let missing: Vec<&str> = APT_TOOLS
        .iter()
        .filter(|(program, _)| find_program(program).is_none())
        .map(|(_, package)| *package)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    if String::from_utf8_lossy(&uid).trim() != "0" {
        return Err(format!(
            "missing {missing:?}: run `apt-get install -y {}` as root",
            missing.join(" ")
        ));
    }
    step(&format!("apt-get install {}", missing.join(" ")));
    exec(Command::new("apt-get").args(["update", "-qq"]))?;
    exec(
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// True when `dir/STAMP` holds exactly `pins` (the last install used these pins).
fn stamped(dir: &Path, pins: &[u8]) -> bool {
    std::fs::read(dir.join(STAMP)).is_ok_and(|s| s == pins)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn ensure_npm() -> Result {
    let interop = root().join("interop");
    let lock = read(&interop.join("package-lock.json"))?;
    let modules = interop.join("node_modules");
    if stamped(&modules, &lock) {
        return Ok(());
    }
    step("npm ci (interop/package-lock.json)");
    exec(
        Command::new("npm")
            .args([
                "ci",
                "--no-audit",
                "--no-fund",
                "--ignore-scripts",
                "--loglevel=error",
            ])
            .current_dir(&interop),
    )?;
    std::fs::write(modules.join(STAMP), &lock).map_err(|e| e.to_string())
}

fn ensure_venv() -> Result {
    let pins_file = root().join("interop/requirements.txt");
    let pins = read(&pins_file)?;
    let venv = root().join(VENV);
    if stamped(&venv, &pins) && venv.join("bin/python").is_file() {
        return Ok(());
    }
    step(&format!("python venv {VENV} (interop/requirements.txt)"));
    let _ = std::fs::remove_dir_all(&venv);
    exec(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    exec(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
            ])
            .arg(&pins_file),
    )?;
    std::fs::write(venv.join(STAMP), &pins).map_err(|e| e.to_string())
}

/// The executables the check programs run.
struct Built {
    /// `keybound` (crates/keybound-cli).
    keybound: PathBuf,
    /// `keybound-interop-rs` (interop/rs-server).
    rs_server: PathBuf,
    /// `keybound-interop-client` (interop/rs-client).
    rs_client: PathBuf,
    /// `keybound-interop-as` (interop/rs-as).
    authorization_server: PathBuf,
}

/// Builds the binaries and returns their paths.
///
/// `--tests` makes cargo resolve features as `cargo test --workspace --all-features` does
/// (dev-dependencies included), so after CI's test build nothing but the interop binaries are
/// compiled; `--bins` alone would rebuild some 30 crates with other features.
fn build() -> Result<Built> {
    let mut c = cargo();
    c.args([
        "build",
        "--workspace",
        "--all-features",
        "--tests",
        "--bins",
        "--message-format=json-render-diagnostics",
    ])
    .current_dir(root())
    .stderr(Stdio::inherit());
    let out = c
        .output()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !out.status.success() {
        return Err(format!("cargo build exited with {}", out.status));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let executable = |name: &str| {
        stdout
            .lines()
            .filter_map(|l| l.split("\"executable\":\"").nth(1))
            .filter_map(|rest| rest.split('"').next())
            .map(PathBuf::from)
            .find(|p| p.file_name().is_some_and(|f| f == name))
            .ok_or_else(|| format!("cargo build did not report the `{name}` executable"))
    };
    Ok(Built {
        keybound: executable("keybound")?,
        rs_server: executable("keybound-interop-rs")?,
        rs_client: executable("keybound-interop-client")?,
        authorization_server: executable("keybound-interop-as")?,
    })
}

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn record(&mut self, peer: &str, case: &str, expected: &str, got: &str) {
        let pass = expected == got;
        if pass {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        let mark = if pass { "pass" } else { "FAIL" };
        println!("{mark}  {peer} | {case} | expected {expected} | got {got}");
    }
}

/// Runs one check program in its own process group, tallies its CHECK lines, and kills the
/// group when it ends or misses `deadline`. A program that fails or reports nothing counts
/// as one failed check.
fn run_checks(tally: &mut Tally, what: &str, mut cmd: Command, deadline: Duration) {
    eprintln!("$ {cmd:?}");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tally.record(what, "check program starts", "started", &e.to_string());
            return;
        }
    };
    let pgid = child.id();
    let (tx, rx) = mpsc::channel();
    if let Some(stdout) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in BufReader::new(stdout)
                .lines()
                .map_while(std::io::Result::ok)
            {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let limit = deadline;
    let deadline = Instant::now() + limit;
    let mut reported = 0usize;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let fields: Vec<&str> = line.split('\t').collect();
                if let ["CHECK", peer, case, expected, got] = fields.as_slice() {
                    reported += 1;
                    tally.record(peer, case, expected, got);
                } else {
                    println!("      {line}");
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                timed_out = true;
                break;
            }
        }
    }
    // Whatever it started (servers, nginx) shares its process group.
    kill_group(pgid);
    let status = child.wait();
    if timed_out {
        tally.record(
            what,
            "check program finishes in time",
            &format!("< {} s", limit.as_secs()),
            "killed at the deadline",
        );
    } else {
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => tally.record(what, "check program exit status", "0", &s.to_string()),
            Err(e) => tally.record(what, "check program exit status", "0", &e.to_string()),
        }
    }
    if reported == 0 {
        tally.record(what, "check program reports checks", "> 0", "0");
    }
}

/// SIGKILL to every process of group `pgid` (bash's builtin `kill`: dash's cannot signal a
/// group, and std has no `kill(2)`).
fn kill_group(pgid: u32) {
    let _ = Command::new("bash")
        .args(["-c", &format!("kill -KILL -- -{pgid} 2>/dev/null")])
        .stdin(Stdio::null())
        .status();
}
