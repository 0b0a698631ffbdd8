//! A bounded cache of prepared keys for servers (feature `std`): the same client key signs
//! many proofs, and importing it (point validation and decompression, RSA set-up, the
//! backend's parsing) is a large share of a verification. [`CachedVerifier`] keeps the
//! backend's prepared key, looked up by the full key.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::RwLock;

use keybound_cnf::JwkThumbprint;
use keybound_jwk::Jwk;

use crate::alg::Algorithm;
use crate::verify::{PrepareKey, SignatureVerifier, VerifyError};

/// Default bound on cached keys (all shards together).
pub const DEFAULT_CACHE_ENTRIES: usize = 4096;
/// Default bound on the bytes the cache holds (keys, prepared keys, bookkeeping, the table of
/// keys seen once).
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

const SHARDS: usize = 16;
/// Per-entry bookkeeping beyond the key text and the prepared key.
const ENTRY_OVERHEAD: usize = 96;
/// Most slots of the table of keys seen once (8 bytes each).
const MAX_SEEN_SLOTS: usize = 1 << 17;
/// Slots per bucket of that table (one cache line).
const SEEN_WAYS: usize = 4;

/// Counters of a [`CachedVerifier`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Verifications that found their key prepared.
    pub hits: u64,
    /// Verifications that prepared their key (seen before, not held) and, when it verified,
    /// kept it.
    pub misses: u64,
    /// Verifications of a key not seen recently: the backend verified once, without
    /// preparing; the key is prepared when it comes again.
    pub first_seen: u64,
    /// Keys held now.
    pub entries: usize,
    /// Bytes held now (estimate: key text, prepared key, bookkeeping, and the fixed table of
    /// keys seen once).
    pub bytes: usize,
}

struct Entry<P> {
    alg: Algorithm,
    /// The key's RFC 7638 canonical JSON: the whole key, compared on every hit.
    text: Box<[u8]>,
    key: Arc<P>,
    size: usize,
}

/// Entries by the keyed hash of the algorithm and the key's thumbprint (collisions chained
/// and compared in full).
struct Shard<P> {
    map: HashMap<u64, Vec<Entry<P>>, BuildHasherDefault<Identity>>,
    entries: usize,
    bytes: usize,
}

/// The map key is already a keyed SipHash.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A [`SignatureVerifier`] that keeps each key prepared by `V` (bounded, sharded, evicting:
/// eviction only costs a re-import), so repeated keys skip their import.
///
/// - **Certain hits**: a key is found by a keyed SipHash of the algorithm and the key's
///   RFC 7638 SHA-256 thumbprint (which a DPoP validation computes anyway for `jkt` and hands
///   over through [`SignatureVerifier::verify_with_thumbprint`]; [`SignatureVerifier::verify`]
///   computes it), then the algorithm and the key's whole RFC 7638 canonical JSON are
///   compared with the entry's, so a hit is the same key.
/// - **Only checked keys that came back**: the first time a key is seen, `V` verifies it once
///   without preparing (as a server without a cache would: one-time keys neither pay for an
///   import nor fill the cache), and a fixed table remembers the key's hash. When it comes
///   again it is prepared by `V::prepare`, which runs every key check, and kept once it
///   verified a signature (forgeries with throwaway keys do not fill the cache).
/// - **Bounded**: at most `max_entries` keys and `max_bytes` bytes in all (estimated from the
///   key text and the backend's prepared-key size, plus the table of keys seen once: 8 bytes
///   per slot, twice `max_entries` rounded up to a power of two, at most 128 Ki slots, so
///   64 KiB for the default 4096 entries), split over 16 shards; a full shard evicts an
///   arbitrary entry.
/// - **No allocation on a hit**: the key is compared in place, the map is read under a
///   shared lock, and the prepared key is shared by reference count.
/// - A poisoned lock only bypasses the cache.
pub struct CachedVerifier<V: PrepareKey> {
    inner: V,
    shards: Box<[RwLock<Shard<V::Prepared>>]>,
    /// Hashes of keys seen once, in buckets of [`SEEN_WAYS`] slots (0: empty).
    seen: Box<[AtomicU64]>,
    /// Which slot of a bucket the next record replaces.
    seen_turn: AtomicU64,
    hasher: std::hash::RandomState,
    shard_entries: usize,
    shard_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
    first_seen: AtomicU64,
}

impl<V: PrepareKey> fmt::Debug for CachedVerifier<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedVerifier")
            .field("stats", &self.stats())
            .field("max_entries", &(self.shard_entries * SHARDS))
            .field(
                "max_bytes",
                &(self.shard_bytes * SHARDS + self.seen_bytes()),
            )
            .finish_non_exhaustive()
    }
}

impl<V: PrepareKey> CachedVerifier<V> {
    /// A cache over `inner` with [`DEFAULT_CACHE_ENTRIES`] keys and [`DEFAULT_CACHE_BYTES`].
    pub fn new(inner: V) -> Self {
        Self::with_limits(inner, DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_BYTES)
    }

    /// A cache over `inner` holding at most `max_entries` keys and `max_bytes` bytes in all
    /// (the table of keys seen once included; with no room for it, nothing is cached).
    pub fn with_limits(inner: V, max_entries: usize, max_bytes: usize) -> Self {
        let slots = if max_entries == 0 {
            0
        } else {
            max_entries
                .saturating_mul(2)
                .next_power_of_two()
                .clamp(SEEN_WAYS, MAX_SEEN_SLOTS)
        };
        let seen_bytes = slots * core::mem::size_of::<AtomicU64>();
        let (slots, entry_bytes) = match max_bytes.checked_sub(seen_bytes) {
            Some(rest) => (slots, rest),
            None => (0, 0),
        };
        let shards = (0..SHARDS)
            .map(|_| {
                RwLock::new(Shard {
                    map: HashMap::default(),
                    entries: 0,
                    bytes: 0,
                })
            })
            .collect();
        CachedVerifier {
            inner,
            shards,
            seen: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            seen_turn: AtomicU64::new(0),
            hasher: std::hash::RandomState::new(),
            shard_entries: if slots == 0 { 0 } else { max_entries / SHARDS },
            shard_bytes: entry_bytes / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            first_seen: AtomicU64::new(0),
        }
    }

    /// The backend.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// Hits, misses and what is held now.
    pub fn stats(&self) -> CacheStats {
        let (mut entries, mut bytes) = (0, self.seen_bytes());
        for s in self.shards.iter() {
            if let Ok(s) = s.read() {
                entries += s.entries;
                bytes += s.bytes;
            }
        }
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            first_seen: self.first_seen.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    fn seen_bytes(&self) -> usize {
        self.seen.len() * core::mem::size_of::<AtomicU64>()
    }

    fn shard(&self, hash: u64) -> Option<&RwLock<Shard<V::Prepared>>> {
        self.shards.get((hash >> 60) as usize % SHARDS)
    }

    /// Whether the key of `hash` was seen before; records it when not. A key's hash goes in
    /// one bucket of [`SEEN_WAYS`] slots, replacing them in turn, so a key keeps its record
    /// while [`SEEN_WAYS`] - 1 other keys of the same bucket come.
    fn seen_before(&self, hash: u64) -> bool {
        let tag = hash | 1;
        // A power of two (see `with_limits`); an empty table records nothing.
        let Some(mask) = (self.seen.len() / SEEN_WAYS).checked_sub(1) else {
            return false;
        };
        let first = ((hash >> 24) as usize & mask) * SEEN_WAYS;
        let Some(bucket) = self.seen.get(first..first + SEEN_WAYS) else {
            return false;
        };
        if bucket
            .iter()
            .any(|slot| slot.load(Ordering::Relaxed) == tag)
        {
            return true;
        }
        let turn = self.seen_turn.fetch_add(1, Ordering::Relaxed) as usize % SEEN_WAYS;
        if let Some(slot) = bucket.get(turn) {
            slot.store(tag, Ordering::Relaxed);
        }
        false
    }

    fn lookup(&self, hash: u64, alg: Algorithm, key: &Jwk<'_>) -> Option<Arc<V::Prepared>> {
        let shard = self.shard(hash)?.read().ok()?;
        shard
            .map
            .get(&hash)?
            .iter()
            .find(|e| e.alg == alg && same_key(&e.text, key))
            .map(|e| Arc::clone(&e.key))
    }

    fn insert(&self, hash: u64, alg: Algorithm, key: &Jwk<'_>, prepared: V::Prepared) {
        let mut text = String::new();
        if key.write_thumbprint_input(&mut text).is_err() {
            return;
        }
        let text = text.into_bytes().into_boxed_slice();
        let size = text.len() + V::prepared_size(&prepared) + ENTRY_OVERHEAD;
        if size > self.shard_bytes || self.shard_entries == 0 {
            return;
        }
        let Some(Ok(mut shard)) = self.shard(hash).map(RwLock::write) else {
            return;
        };
        if shard
            .map
            .get(&hash)
            .is_some_and(|chain| chain.iter().any(|e| e.alg == alg && e.text == text))
        {
            return;
        }
        while shard.entries >= self.shard_entries || shard.bytes + size > self.shard_bytes {
            // Evict an arbitrary chain entry (hash order is keyed, so not attacker-chosen).
            let Some(victim) = shard.map.keys().next().copied() else {
                break;
            };
            let (freed_entries, freed_bytes) = match shard.map.get_mut(&victim) {
                Some(chain) => match chain.pop() {
                    Some(e) => (1, e.size),
                    None => (0, 0),
                },
                None => (0, 0),
            };
            if shard.map.get(&victim).is_some_and(Vec::is_empty) {
                shard.map.remove(&victim);
            }
            shard.entries -= freed_entries;
            shard.bytes -= freed_bytes;
        }
        shard.map.entry(hash).or_default().push(Entry {
            alg,
            text,
            key: Arc::new(prepared),
            size,
        });
        shard.entries += 1;
        shard.bytes += size;
    }

    /// One verification through the cache; `thumbprint` is `key`'s, or only costs a miss.
    fn verify_cached(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        if self.shard_entries == 0 {
            return self.verify_once(alg, key, msg, sig);
        }
        let hash = self.hasher.hash_one((alg.name(), thumbprint.as_bytes()));
        if let Some(prepared) = self.lookup(hash, alg, key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return self.inner.verify_prepared(&prepared, msg, sig);
        }
        if !self.seen_before(hash) {
            self.first_seen.fetch_add(1, Ordering::Relaxed);
            return self.verify_once(alg, key, msg, sig);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let prepared = self.inner.prepare(alg, key)?;
        self.inner.verify_prepared(&prepared, msg, sig)?;
        self.insert(hash, alg, key, prepared);
        Ok(())
    }

    /// The backend's one-off verification, with every key check (`prepare` runs them for a
    /// backend whose `verify` leaves them to the caller).
    fn verify_once(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        if self.inner.checks_keys() {
            self.inner.verify(alg, key, msg, sig)
        } else {
            let prepared = self.inner.prepare(alg, key)?;
            self.inner.verify_prepared(&prepared, msg, sig)
        }
    }
}

/// Whether `key`'s RFC 7638 canonical JSON is `text`, compared as it is written out.
fn same_key(text: &[u8], key: &Jwk<'_>) -> bool {
    let mut rest = Compare(text);
    key.write_thumbprint_input(&mut rest).is_ok() && rest.0.is_empty()
}

/// Consumes the expected text as matching pieces are written; a mismatch stops the writer.
struct Compare<'t>(&'t [u8]);

impl fmt::Write for Compare<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.0.split_at_checked(s.len()) {
            Some((head, tail)) if head == s.as_bytes() => {
                self.0 = tail;
                Ok(())
            }
            _ => Err(fmt::Error),
        }
    }
}

impl<V: PrepareKey + Default> Default for CachedVerifier<V> {
    fn default() -> Self {
        Self::new(V::default())
    }
}

impl<V: PrepareKey> SignatureVerifier for CachedVerifier<V> {
    fn supports(&self, alg: Algorithm) -> bool {
        self.inner.supports(alg)
    }

    /// Keys are checked by `V` before every verification that is not a hit, and by
    /// `V::prepare` before they are cached.
    fn checks_keys(&self) -> bool {
        true
    }

    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_cached(alg, key, &key.thumbprint(), msg, sig)
    }

    fn verify_with_thumbprint(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        self.verify_cached(alg, key, thumbprint, msg, sig)
    }
}
