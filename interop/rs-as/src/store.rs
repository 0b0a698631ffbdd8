//! In-memory stores with expiry and a size cap (a full store refuses, it never evicts live
//! entries): pushed requests, authorization codes, refresh tokens, client-assertion `jti`s.

use std::collections::HashMap;

/// Entries by key, each with the Unix second it expires at.
#[derive(Debug)]
pub(crate) struct Expiring<T> {
    entries: HashMap<String, (u64, T)>,
    cap: usize,
}

/// The store holds `cap` live entries already.
#[derive(Debug)]
pub(crate) struct Full;

impl<T: Clone> Expiring<T> {
    pub(crate) fn new(cap: usize) -> Self {
        Expiring {
            entries: HashMap::new(),
            cap,
        }
    }

    fn purge(&mut self, now: u64) {
        self.entries.retain(|_, (exp, _)| *exp > now);
    }

    /// Inserts `key` unless it is live already: `Ok(false)` then (a replay).
    pub(crate) fn insert_new(
        &mut self,
        key: String,
        value: T,
        expires: u64,
        now: u64,
    ) -> Result<bool, Full> {
        self.purge(now);
        if self.entries.contains_key(&key) {
            return Ok(false);
        }
        if self.entries.len() >= self.cap {
            return Err(Full);
        }
        self.entries.insert(key, (expires, value));
        Ok(true)
    }

    /// The live value of `key`, left in place.
    pub(crate) fn get(&self, key: &str, now: u64) -> Option<T> {
        self.entries
            .get(key)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v.clone())
    }

    /// The live value of `key`, removed (single use).
    pub(crate) fn take(&mut self, key: &str, now: u64) -> Option<T> {
        self.entries
            .remove(key)
            .filter(|(exp, _)| *exp > now)
            .map(|(_, v)| v)
    }
}
