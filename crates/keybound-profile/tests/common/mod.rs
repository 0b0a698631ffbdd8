//! Shared helpers: a deterministic RNG, cached signing keys and proof checking.
#![allow(dead_code, unreachable_pub, missing_docs)]

use core::convert::Infallible;
use std::sync::OnceLock;

use keybound_dpop::{
    Algorithm, CheckedProof, DpopError, Policy, ProofParams, Request, RustCryptoVerifier,
    SigningKey, check_proof,
};
use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

/// Fixed clock for every test (2026-01-01T00:00:00Z).
pub const NOW: u64 = 1_767_225_600;
pub const HTM: &str = "POST";
pub const HTU: &str = "https://as.example.com/token";

/// SHA-256 in counter mode: deterministic keys and jtis.
pub struct TestRng {
    seed: [u8; 32],
    counter: u64,
}

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng {
            seed: Sha256::digest(seed.to_le_bytes()).into(),
            counter: 0,
        }
    }
}

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.counter += 1;
            let block: [u8; 32] = h.finalize().into();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

/// One key per algorithm, generated once per test binary (RSA key generation is slow).
pub fn key(alg: Algorithm) -> &'static SigningKey {
    static KEYS: OnceLock<Vec<(Algorithm, SigningKey)>> = OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let mut rng = TestRng::new(7);
        Algorithm::ALL
            .into_iter()
            .map(|a| {
                (
                    a,
                    SigningKey::generate(a, &mut rng).expect("key generation"),
                )
            })
            .collect()
    });
    &keys
        .iter()
        .find(|(a, _)| *a == alg)
        .expect("every algorithm has a key")
        .1
}

/// A real proof signed by `alg`'s key for `POST https://as.example.com/token` at `iat`.
pub fn proof(alg: Algorithm, iat: u64) -> String {
    let mut rng = TestRng::new(iat ^ 0x5eed);
    key(alg)
        .sign_proof(&ProofParams::new(HTM, HTU, iat), &mut rng)
        .expect("signing")
}

/// Runs every stateless RFC 9449 §4.3 check with the pure-Rust verifier at [`NOW`].
pub fn check(proof: &str, policy: &Policy<'_>) -> Result<CheckedProof, DpopError> {
    check_proof(
        proof,
        &Request::new(HTM, HTU),
        policy,
        &RustCryptoVerifier,
        NOW,
    )
}
