//! Shared helpers for the integration tests: a deterministic RNG and a tiny replay store.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::indexing_slicing
)]

use std::cell::RefCell;
use std::collections::HashSet;
use std::convert::Infallible;

use keybound_dpop::replay::{ReplayError, ReplayKey, ReplayStore};
use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

/// SHA-256 in counter mode: deterministic, good enough for test keys and jtis.
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

/// An unbounded in-memory replay store for tests.
#[derive(Default)]
pub struct SetStore(RefCell<HashSet<(Vec<u8>, String)>>);

impl ReplayStore for SetStore {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> Result<(), ReplayError> {
        if self
            .0
            .borrow_mut()
            .insert((key.scope.to_vec(), key.jti.to_owned()))
        {
            Ok(())
        } else {
            Err(ReplayError::Replayed)
        }
    }
}

/// A store that is always full (fail closed).
pub struct FullStore;

impl ReplayStore for FullStore {
    fn check_and_insert(
        &self,
        _key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> Result<(), ReplayError> {
        Err(ReplayError::Full)
    }
}

pub fn b64(bytes: &[u8]) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::encode_string(bytes)
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}
