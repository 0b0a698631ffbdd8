//! `cargo xtask size`: code size of an ES256-only no_std DPoP verifier.
//!
//! Builds `crates/keybound-budgets` as a `staticlib` for [`NOSTD_TARGET`] (opt-level `z`, fat LTO,
//! `panic = "abort"`, one codegen unit, `--cfg size_check`), links it with the toolchain's own
//! `rust-lld` (`--gc-sections`, entry [`ENTRY`]) so only what the entry reaches is counted, and
//! reads the section headers itself (a small `ar` + ELF32 reader) — no binutils needed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{NOSTD_TARGET, Result, cargo, ensure_target, root, step};

/// The exported validation entry of `keybound-budgets`.
const ENTRY: &str = "keybound_dpop_check_es256";
/// Budget for `.text + .rodata` of the linked verifier.
const BUDGET_BYTES: u64 = 64 * 1024;
/// The cargo profile defined on the command line (nothing in Cargo.toml to keep in sync).
const PROFILE: &str = "xtask-size";

pub(crate) fn run(args: &[String]) -> Result {
    let write_doc = !args.iter().any(|a| a == "--no-doc");
    if !ensure_target(NOSTD_TARGET) {
        return Err(format!(
            "target {NOSTD_TARGET} is not installed and `rustup target add` failed"
        ));
    }
    step("building the ES256-only verifier staticlib");
    let mut c = cargo();
    for setting in [
        "inherits=\"release\"",
        "opt-level=\"z\"",
        "lto=true",
        "panic=\"abort\"",
        "codegen-units=1",
        "debug=false",
        "incremental=false",
    ] {
        c.args(["--config", &format!("profile.{PROFILE}.{setting}")]);
    }
    c.args([
        "rustc",
        "-p",
        "keybound-budgets",
        "--lib",
        "--crate-type",
        "staticlib",
    ]);
    c.args([
        "--target",
        NOSTD_TARGET,
        "--profile",
        PROFILE,
        "--message-format",
        "json-render-diagnostics",
        "--",
        "--cfg",
        "size_check",
    ]);
    c.current_dir(root()).stdout(Stdio::piped());
    eprintln!("$ {c:?}");
    let out = c
        .spawn()
        .and_then(|child| child.wait_with_output())
        .map_err(|e| format!("cannot run cargo rustc: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the size-check staticlib failed: {}",
            out.status
        ));
    }
    // The artifact path as cargo reports it (whatever the target-dir configuration).
    let messages = String::from_utf8_lossy(&out.stdout);
    let archive = messages
        .split('"')
        .find(|s| s.ends_with("libkeybound_budgets.a"))
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            target_dir()
                .join(NOSTD_TARGET)
                .join(PROFILE)
                .join("libkeybound_budgets.a")
        });
    let bytes = std::fs::read(&archive).map_err(|e| format!("{}: {e}", archive.display()))?;

    let mut ours = Sizes::default();
    let mut builtins = Sizes::default();
    for (name, data) in ar_members(&bytes)? {
        if !data.starts_with(b"\x7fELF") {
            continue;
        }
        let s = elf32_sizes(data).map_err(|e| format!("{name}: {e}"))?;
        if name.starts_with("compiler_builtins") || !name.contains(".rcgu.") {
            builtins.add(&s);
        } else {
            ours.add(&s);
        }
    }

    let linked = link(&archive)?;
    let kib = |b: u64| b as f64 / 1024.0;
    let mut report = String::new();
    let line = |r: &mut String, s: String| {
        println!("{s}");
        r.push_str(&s);
        r.push('\n');
    };
    line(
        &mut report,
        format!(
            "ES256-only DPoP verifier (`check_proof` + RustCrypto p256, entry `{ENTRY}`), \
             {NOSTD_TARGET}, opt-level z, LTO, panic=abort, codegen-units=1:\n"
        ),
    );
    line(
        &mut report,
        "| measure | .text | .rodata | .text + .rodata | .data / .bss |".into(),
    );
    line(&mut report, "|---|---:|---:|---:|---:|".into());
    if let Some(l) = &linked {
        line(
            &mut report,
            format!(
                "| **linked** (`rust-lld --gc-sections`) | {} | {} | **{} B = {:.1} KiB** | {} / {} |",
                l.text,
                l.rodata,
                l.code(),
                kib(l.code()),
                l.data,
                l.bss
            ),
        );
    }
    line(
        &mut report,
        format!(
            "| staticlib, LTO object | {} | {} | {} B = {:.1} KiB | {} / {} |",
            ours.text,
            ours.rodata,
            ours.code(),
            kib(ours.code()),
            ours.data,
            ours.bss
        ),
    );
    line(
        &mut report,
        format!(
            "| staticlib, compiler_builtins (mostly unused) | {} | {} | {} B | {} / {} |",
            builtins.text,
            builtins.rodata,
            builtins.code(),
            builtins.data,
            builtins.bss
        ),
    );
    let headline = linked.as_ref().map_or(ours.code(), Sizes::code);
    line(
        &mut report,
        format!(
            "\nBudget {} KiB: {} ({:.1} KiB). The .bss is the 8 KiB heap arena of the test \
             artifact, not the verifier.",
            BUDGET_BYTES / 1024,
            if headline <= BUDGET_BYTES {
                "met"
            } else {
                "EXCEEDED"
            },
            kib(headline)
        ),
    );
    if write_doc {
        crate::bench::write_doc_section("size", &report)?;
    }
    if headline > BUDGET_BYTES {
        return Err(format!(
            "code size {headline} B exceeds the {BUDGET_BYTES} B budget"
        ));
    }
    Ok(())
}

/// Where cargo puts its output (honours `CARGO_TARGET_DIR`, else the workspace `target/`).
pub(crate) fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() { d } else { root().join(d) }
        }
        None => root().join("target"),
    }
}

/// Links the archive with the toolchain's `rust-lld`, keeping only what [`ENTRY`] reaches.
/// `None` (with a note) when `rust-lld` cannot be found.
fn link(archive: &Path) -> Result<Option<Sizes>> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = |args: &[&str]| {
        Command::new(&rustc)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let sysroot = out(&["--print", "sysroot"]).map(|s| s.trim().to_owned());
    let host = out(&["-vV"]).and_then(|v| {
        v.lines()
            .find_map(|l| l.strip_prefix("host: "))
            .map(str::to_owned)
    });
    let (Some(sysroot), Some(host)) = (sysroot, host) else {
        eprintln!("note: cannot ask rustc for its sysroot; reporting archive sizes only");
        return Ok(None);
    };
    let lld = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(host)
        .join("bin/rust-lld");
    if !lld.exists() {
        eprintln!(
            "note: {} not found; reporting archive sizes only",
            lld.display()
        );
        return Ok(None);
    }
    let elf = archive.with_extension("elf");
    crate::run(
        Command::new(&lld)
            .args([
                "-flavor",
                "gnu",
                "--gc-sections",
                "--strip-debug",
                "-e",
                ENTRY,
                "-u",
                ENTRY,
                "-o",
            ])
            .arg(&elf)
            .arg(archive),
    )?;
    let bytes = std::fs::read(&elf).map_err(|e| format!("{}: {e}", elf.display()))?;
    elf32_sizes(&bytes)
        .map(Some)
        .map_err(|e| format!("{}: {e}", elf.display()))
}

/// Allocated section bytes by kind.
#[derive(Default, Debug)]
struct Sizes {
    text: u64,
    rodata: u64,
    data: u64,
    bss: u64,
}

impl Sizes {
    fn code(&self) -> u64 {
        self.text + self.rodata
    }
    fn add(&mut self, o: &Sizes) {
        self.text += o.text;
        self.rodata += o.rodata;
        self.data += o.data;
        self.bss += o.bss;
    }
}

/// The members of a System V / GNU `ar` archive: (name, contents).
fn ar_members(bytes: &[u8]) -> Result<Vec<(String, &[u8])>> {
    let mut rest = bytes
        .strip_prefix(b"!<arch>\n")
        .ok_or("not an ar archive")?;
    let mut long_names: &[u8] = &[];
    let mut members = Vec::new();
    while rest.len() >= 60 {
        let (header, body) = rest.split_at(60);
        let field = |a: usize, b: usize| {
            String::from_utf8_lossy(header.get(a..b).unwrap_or_default())
                .trim()
                .to_owned()
        };
        let raw_name = field(0, 16);
        let size: usize = field(48, 58).parse().map_err(|_| "bad ar member size")?;
        let data = body.get(..size).ok_or("truncated ar member")?;
        rest = body.get(size + (size & 1)..).unwrap_or(&[]);
        let name = if raw_name == "//" {
            long_names = data;
            continue;
        } else if raw_name == "/" || raw_name == "/SYM64/" {
            continue;
        } else if let Some(offset) = raw_name
            .strip_prefix('/')
            .and_then(|o| o.parse::<usize>().ok())
        {
            let tail = long_names.get(offset..).unwrap_or(&[]);
            let end = tail
                .iter()
                .position(|&b| b == b'\n' || b == b'/')
                .unwrap_or(tail.len());
            String::from_utf8_lossy(tail.get(..end).unwrap_or_default()).into_owned()
        } else {
            raw_name.trim_end_matches('/').to_owned()
        };
        members.push((name, data));
    }
    Ok(members)
}

/// Sums the allocated sections of a little-endian ELF32 file by kind.
fn elf32_sizes(elf: &[u8]) -> Result<Sizes> {
    const SHT_NOBITS: u32 = 8;
    const SHF_WRITE: u32 = 1;
    const SHF_ALLOC: u32 = 2;
    const SHF_EXECINSTR: u32 = 4;
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .and_then(|b| b.try_into().ok())
            .map(u16::from_le_bytes)
    };
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
    };
    if elf.get(4..6) != Some(&[1, 1][..]) {
        return Err("not a little-endian ELF32 file".into());
    }
    let bad = || "truncated ELF header".to_owned();
    let shoff = u32_at(0x20).ok_or_else(bad)? as usize;
    let shentsize = usize::from(u16_at(0x2e).ok_or_else(bad)?);
    let shnum = usize::from(u16_at(0x30).ok_or_else(bad)?);
    let mut sizes = Sizes::default();
    for i in 0..shnum {
        let sh = shoff + i * shentsize;
        let (Some(kind), Some(flags), Some(size)) =
            (u32_at(sh + 4), u32_at(sh + 8), u32_at(sh + 20))
        else {
            return Err("truncated section header table".into());
        };
        let size = u64::from(size);
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        if kind == SHT_NOBITS {
            sizes.bss += size;
        } else if flags & SHF_EXECINSTR != 0 {
            sizes.text += size;
        } else if flags & SHF_WRITE != 0 {
            sizes.data += size;
        } else {
            sizes.rodata += size;
        }
    }
    Ok(sizes)
}
