//! A bounded cache of prepared keys for servers (feature `std`): the same client key signs
//! many proofs, and importing it (point validation and decompression, RSA set-up, the
//! backend's parsing) is a large share of a verification. [`CachedVerifier`] keeps the
//! backend's prepared key, looked up by the full key.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::RwLock;

use keybound_jwk::Jwk;

use crate::alg::Algorithm;
use crate::verify::{PrepareKey, SignatureVerifier, VerifyError};

/// Default bound on cached keys (all shards together).
pub const DEFAULT_CACHE_ENTRIES: usize = 4096;
/// Default bound on the bytes the cache holds (keys, prepared keys, bookkeeping).
pub const DEFAULT_CACHE_BYTES: usize = 16 * 1024 * 1024;

const SHARDS: usize = 16;
/// Lookup text: the algorithm, then the RFC 7638 canonical JSON of the key (an 8192-bit RSA
/// key's is about 1.4 KB).
const MAX_LOOKUP: usize = 1600;
/// Per-entry bookkeeping beyond the key text and the prepared key.
const ENTRY_OVERHEAD: usize = 96;

/// Counters of a [`CachedVerifier`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Verifications that found their key prepared.
    pub hits: u64,
    /// Verifications that prepared their key.
    pub misses: u64,
    /// Keys held now.
    pub entries: usize,
    /// Bytes held now (estimate: key text, prepared key, bookkeeping).
    pub bytes: usize,
}

struct Entry<P> {
    text: Box<[u8]>,
    key: Arc<P>,
    size: usize,
}

/// Entries by the lookup text's keyed hash (collisions chained and compared in full).
struct Shard<P> {
    map: HashMap<u64, Vec<Entry<P>>, BuildHasherDefault<Identity>>,
    entries: usize,
    bytes: usize,
}

/// The map key is already a keyed SipHash of the lookup text.
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
/// - **Certain hits**: a key is found by the keyed SipHash of the algorithm and the key's
///   RFC 7638 canonical JSON, and the whole text is compared, so a hit is the same key.
/// - **Only checked keys**: an entry is made from `V::prepare`, which runs every key check,
///   and only after the key verified a signature (forgeries with throwaway keys do not fill
///   the cache).
/// - **Bounded**: at most `max_entries` keys and `max_bytes` bytes (estimated from the key
///   text and the backend's prepared-key size), split over 16 shards; a full shard evicts an
///   arbitrary entry.
/// - **No allocation on a hit**: the lookup text is built on the stack, the map is read
///   under a shared lock, and the prepared key is shared by reference count.
/// - A poisoned lock only bypasses the cache.
pub struct CachedVerifier<V: PrepareKey> {
    inner: V,
    shards: Box<[RwLock<Shard<V::Prepared>>]>,
    hasher: std::hash::RandomState,
    shard_entries: usize,
    shard_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl<V: PrepareKey> fmt::Debug for CachedVerifier<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedVerifier")
            .field("stats", &self.stats())
            .field("max_entries", &(self.shard_entries * SHARDS))
            .field("max_bytes", &(self.shard_bytes * SHARDS))
            .finish_non_exhaustive()
    }
}

impl<V: PrepareKey> CachedVerifier<V> {
    /// A cache over `inner` with [`DEFAULT_CACHE_ENTRIES`] keys and [`DEFAULT_CACHE_BYTES`].
    pub fn new(inner: V) -> Self {
        Self::with_limits(inner, DEFAULT_CACHE_ENTRIES, DEFAULT_CACHE_BYTES)
    }

    /// A cache over `inner` holding at most `max_entries` keys and `max_bytes` bytes.
    pub fn with_limits(inner: V, max_entries: usize, max_bytes: usize) -> Self {
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
            hasher: std::hash::RandomState::new(),
            shard_entries: max_entries / SHARDS,
            shard_bytes: max_bytes / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The backend.
    pub fn inner(&self) -> &V {
        &self.inner
    }

    /// Hits, misses and what is held now.
    pub fn stats(&self) -> CacheStats {
        let (mut entries, mut bytes) = (0, 0);
        for s in self.shards.iter() {
            if let Ok(s) = s.read() {
                entries += s.entries;
                bytes += s.bytes;
            }
        }
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    fn shard(&self, hash: u64) -> Option<&RwLock<Shard<V::Prepared>>> {
        self.shards.get((hash >> 60) as usize % SHARDS)
    }

    fn lookup(&self, hash: u64, text: &[u8]) -> Option<Arc<V::Prepared>> {
        let shard = self.shard(hash)?.read().ok()?;
        shard
            .map
            .get(&hash)?
            .iter()
            .find(|e| *e.text == *text)
            .map(|e| Arc::clone(&e.key))
    }

    fn insert(&self, hash: u64, text: &[u8], key: V::Prepared) {
        let size = text.len() + V::prepared_size(&key) + ENTRY_OVERHEAD;
        if size > self.shard_bytes || self.shard_entries == 0 {
            return;
        }
        let Some(Ok(mut shard)) = self.shard(hash).map(RwLock::write) else {
            return;
        };
        if shard
            .map
            .get(&hash)
            .is_some_and(|chain| chain.iter().any(|e| *e.text == *text))
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
            text: text.into(),
            key: Arc::new(key),
            size,
        });
        shard.entries += 1;
        shard.bytes += size;
    }
}

impl<V: PrepareKey + Default> Default for CachedVerifier<V> {
    fn default() -> Self {
        Self::new(V::default())
    }
}

/// Writes the lookup text into a stack buffer; `None` when it does not fit.
struct StackText {
    buf: [u8; MAX_LOOKUP],
    len: usize,
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl<V: PrepareKey> SignatureVerifier for CachedVerifier<V> {
    fn supports(&self, alg: Algorithm) -> bool {
        self.inner.supports(alg)
    }

    /// Keys are checked by `V::prepare` before they are cached.
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
        let mut text = StackText {
            buf: [0; MAX_LOOKUP],
            len: 0,
        };
        use fmt::Write as _;
        let written = text
            .write_str(alg.name())
            .and_then(|()| text.write_char(' '))
            .and_then(|()| key.write_thumbprint_input(&mut text));
        let Some(text) = written.ok().and_then(|()| text.buf.get(..text.len)) else {
            return self.inner.verify(alg, key, msg, sig);
        };
        let hash = self.hasher.hash_one(text);
        if let Some(prepared) = self.lookup(hash, text) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return self.inner.verify_prepared(&prepared, msg, sig);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let prepared = self.inner.prepare(alg, key)?;
        self.inner.verify_prepared(&prepared, msg, sig)?;
        self.insert(hash, text, prepared);
        Ok(())
    }
}
