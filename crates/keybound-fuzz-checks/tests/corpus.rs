//! Replays every committed fuzz corpus on stable, so plain `cargo test` exercises the inputs
//! the fuzzers found, and proves each fuzz target has a registered check.
#![allow(
    clippy::expect_used,
    reason = "test harness: a missing corpus directory is a test failure"
)]

use std::fs;
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn target_names() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets exists")
        .filter_map(|e| {
            let p = e.ok()?.path();
            (p.extension()? == "rs").then(|| p.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_fuzz_target_has_a_registered_check() {
    for name in target_names() {
        assert!(
            keybound_fuzz_checks::check(&name).is_some(),
            "fuzz target {name} has no check in keybound-fuzz-checks"
        );
    }
}

#[test]
fn every_registered_check_has_a_fuzz_target() {
    let targets = target_names();
    for (name, _) in keybound_fuzz_checks::all_checks() {
        assert!(
            targets.iter().any(|t| t == name),
            "check {name} has no fuzz target"
        );
    }
}

#[test]
fn committed_corpora_replay_without_violations() {
    let mut replayed = 0usize;
    for (name, check) in keybound_fuzz_checks::all_checks() {
        let dir = fuzz_dir().join("corpus").join(name);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let data = fs::read(&path).expect("corpus file");
            check(&data);
            replayed += 1;
        }
    }
    eprintln!("replayed {replayed} corpus inputs");
}
