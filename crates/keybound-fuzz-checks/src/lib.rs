//! Invariant checks run by the cargo-fuzz targets in `fuzz/` and, on stable, by the corpus
//! replay test in `tests/corpus.rs`.
//!
//! Each check takes arbitrary bytes and panics only when an invariant of the library is
//! violated (a round trip that does not hold, a normalization that is not idempotent), never
//! because the input is bad: bad input must come back as a typed error.
//!
//! A fuzz target `fuzz/fuzz_targets/NAME.rs` is one line calling the check registered here
//! under `NAME`; its seed corpus lives in `fuzz/corpus/NAME/`.
#![forbid(unsafe_code)]
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic is how a fuzz check reports a violated invariant"
)]

pub mod client;
pub mod cnf;
pub mod differential;
pub mod dpop;
pub mod htu;
pub mod json;
pub mod jwk;
pub mod jwt;
pub mod mtls;

/// A named check: the fuzz target of the same name calls it.
pub type Check = fn(&[u8]);

/// Every registered check, by fuzz-target name.
pub fn all_checks() -> impl Iterator<Item = (&'static str, Check)> {
    [
        json::CHECKS,
        cnf::CHECKS,
        jwk::CHECKS,
        dpop::CHECKS,
        jwt::CHECKS,
        differential::CHECKS,
        htu::CHECKS,
        mtls::CHECKS,
        client::CHECKS,
    ]
    .into_iter()
    .flatten()
    .copied()
}

/// The check registered under `name`.
pub fn check(name: &str) -> Option<Check> {
    all_checks().find(|(n, _)| *n == name).map(|(_, c)| c)
}
