//! RFC 9449 §11.1: proof replay detection (`jti` check-and-insert), step 11 of validation.
//!
//! A [`ReplayStore`] remembers each accepted proof's `jti`, within a scope, until the proof
//! can no longer pass the `iat` window, and refuses to accept it twice. The two ways a store
//! can be wrong are not alike:
//!
//! - **accepting a replay is a security bug**: a captured proof is honoured again;
//! - **rejecting a fresh proof is unavailability**: the client retries with a new proof.
//!
//! So every implementation must fail closed: when it cannot decide (full, poisoned lock,
//! unreachable backend), it answers with an error, never with `Ok`.
//!
//! `MemoryReplayStore` (feature `std`) is a bounded, sharded, in-process store that never
//! evicts an unexpired entry: when full it rejects new proofs with [`ReplayError::Full`], and
//! one client key holding its quota of live entries gets [`ReplayError::QuotaExceeded`], so it
//! cannot fill the store for every other client.

use core::fmt;

/// A replay-detection key: the `jti` of a proof within a scope (RFC 9449 §11.1), and the
/// client key it counts against.
///
/// The scope keeps `jti` spaces apart: the normalized `htu` (as RFC 9449 §11.1 suggests),
/// the client id, or the proof key's thumbprint. The owner names whose quota the entry uses;
/// proof validation ([`CheckedProof::commit`](crate::CheckedProof::commit) and
/// [`CheckedProof::commit_scoped`](crate::CheckedProof::commit_scoped)) sets it to the proof
/// key's RFC 7638 thumbprint whatever the scope, so a replayed proof always names the same
/// owner. A store may place entries by owner: keys built by hand must give one proof the same
/// owner every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayKey<'a> {
    /// What the `jti` is unique within (normalized target URI, client id, JWK thumbprint…).
    pub scope: &'a [u8],
    /// The proof's `jti` claim (RFC 9449 §4.2).
    pub jti: &'a str,
    /// Whose quota the entry counts against: the proof key's thumbprint (32 bytes) when
    /// validation builds the key; `None` for no per-owner quota (only the store's capacity).
    pub owner: Option<&'a [u8]>,
}

impl<'a> ReplayKey<'a> {
    /// The key of `jti` within `scope` (RFC 9449 §11.1), without an owner.
    pub const fn new(scope: &'a [u8], jti: &'a str) -> Self {
        Self {
            scope,
            jti,
            owner: None,
        }
    }

    /// This key counted against `owner`'s quota (the proof key's RFC 7638 thumbprint).
    #[must_use]
    pub const fn with_owner(mut self, owner: &'a [u8]) -> Self {
        self.owner = Some(owner);
        self
    }
}

/// Why a replay store did not accept a `jti` (RFC 9449 §11.1); every variant rejects the proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The key was already recorded and has not expired: the proof is a replay.
    Replayed,
    /// The store holds as many unexpired entries as it may; it rejects rather than evict.
    Full,
    /// The store could not answer (backend down, lock poisoned…); it rejects to fail closed.
    Unavailable,
    /// `expires_at` lies before `now` (or before the latest `now` the store has seen): such
    /// an entry could be forgotten at once, so the store refuses it rather than accept a
    /// `jti` it would not remember.
    AlreadyExpired,
    /// The key's owner (the proof key, see [`ReplayKey::owner`]) already holds as many
    /// unexpired entries as one owner may; the store rejects rather than let one client key
    /// fill it for everyone. Other owners are still served.
    QuotaExceeded,
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Replayed => "jti was already used (replay)",
            Self::Full => "replay store is full",
            Self::Unavailable => "replay store is unavailable",
            Self::AlreadyExpired => "replay entry would expire before now",
            Self::QuotaExceeded => "this client key holds its quota of replay entries",
        })
    }
}

impl core::error::Error for ReplayError {}

/// Atomic `jti` check-and-insert (RFC 9449 §11.1), the last step of proof validation.
///
/// # Contract for implementations
///
/// - `check_and_insert` is atomic: of any number of concurrent calls with the same key,
///   at most one returns `Ok(())` while the entry lives.
/// - `Ok(())` means the key had no live entry and now has one that lives while
///   `now <= expires_at` (Unix seconds, inclusive). `Err(Replayed)` means it had one.
/// - An entry may be forgotten only after its `expires_at` has passed. Callers choose
///   `expires_at` to outlast the proof's acceptance window (`iat + max_age + leeway`, and
///   `now + max_age + leeway`).
/// - Whenever the store cannot decide, it returns an error (fail closed): a false
///   rejection costs one retry, a false acceptance lets a captured proof through.
pub trait ReplayStore {
    /// Records `key` until `expires_at` unless it is already recorded (RFC 9449 §11.1).
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError>;
}

impl<T: ReplayStore + ?Sized> ReplayStore for &T {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        (**self).check_and_insert(key, expires_at, now)
    }
}

#[cfg(feature = "alloc")]
impl<T: ReplayStore + ?Sized> ReplayStore for alloc::boxed::Box<T> {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        (**self).check_and_insert(key, expires_at, now)
    }
}

#[cfg(all(feature = "alloc", target_has_atomic = "ptr"))]
impl<T: ReplayStore + ?Sized> ReplayStore for alloc::sync::Arc<T> {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        (**self).check_and_insert(key, expires_at, now)
    }
}

/// The async form of [`ReplayStore`] (RFC 9449 §11.1), for stores that answer over the
/// network (Redis/Valkey, a database) and must not block the runtime while they do.
///
/// The contract is [`ReplayStore`]'s, unchanged: atomic check-and-insert, an entry kept until
/// `expires_at` has passed, and every answer the store cannot give with certainty turned into
/// an error (fail closed). A future that is dropped before it completes decides nothing; the
/// caller rejects the proof.
///
/// Every `ReplayStore + Sync` is an `AsyncReplayStore` for free (its answer is ready at once),
/// so the async flows accept the in-memory store as they are. A networked store implements
/// this trait only; if it also offers a blocking form, that is a separate type.
///
/// The futures are `Send`, so async servers can hold them across `.await` on a multi-threaded
/// runtime.
pub trait AsyncReplayStore {
    /// Records `key` until `expires_at` unless it is already recorded (RFC 9449 §11.1).
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> impl core::future::Future<Output = Result<(), ReplayError>> + Send;

    /// The answer at once, when the store can decide without waiting (an in-process store):
    /// `Some` carries the verdict of [`AsyncReplayStore::check_and_insert_async`] under the
    /// same contract. `None` means the answer needs I/O and **nothing was recorded**: call
    /// `check_and_insert_async`.
    ///
    /// Callers that must name their futures (a tower service) use it to skip boxing the
    /// store's future when the answer is ready. The default answers `None`; every
    /// `ReplayStore + Sync` answers `Some`.
    fn check_and_insert_inline(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Option<Result<(), ReplayError>> {
        let _ = (key, expires_at, now);
        None
    }
}

impl<T: ReplayStore + Sync + ?Sized> AsyncReplayStore for T {
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> impl core::future::Future<Output = Result<(), ReplayError>> + Send {
        core::future::ready(self.check_and_insert(key, expires_at, now))
    }

    fn check_and_insert_inline(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Option<Result<(), ReplayError>> {
        Some(self.check_and_insert(key, expires_at, now))
    }
}

#[cfg(feature = "std")]
pub use memory::MemoryReplayStore;

#[cfg(feature = "std")]
mod memory {
    use super::{ReplayError, ReplayKey, ReplayStore};
    use alloc::boxed::Box;
    use alloc::vec::Vec;
    use core::fmt;
    use std::sync::Mutex;

    /// At most this many shards (each a `Mutex`), a power of two.
    const MAX_SHARDS: usize = 16;
    /// A store is split into more shards only while each keeps at least this many entries,
    /// so small stores hold exactly their capacity.
    const MIN_SHARD_CAPACITY: usize = 4096;
    /// The owner tag of an entry without owner.
    const NO_OWNER: u64 = 0;

    /// An open-addressing table entry: empty or not, and the hash that places it.
    trait Entry: Copy {
        const EMPTY: Self;
        fn is_empty(&self) -> bool;
        /// The 64-bit hash whose high bits choose the home slot.
        fn hash(&self) -> u64;
    }

    /// Home slot of `hash` in a table of `n` slots: multiply-shift range reduction.
    fn home(n: usize, hash: u64) -> usize {
        ((u128::from(hash) * n as u128) >> 64) as usize
    }

    fn next(n: usize, i: usize) -> usize {
        let j = i.saturating_add(1);
        if j >= n { 0 } else { j }
    }

    /// Empties slot `i` of a linear-probing table and shifts later members of its cluster
    /// back (Knuth 6.4 R), so lookups stop at the first empty slot and no tombstones
    /// accumulate.
    fn remove_shift<T: Entry>(slots: &mut [T], mut i: usize) {
        let n = slots.len();
        let mut j = i;
        for _ in 0..n {
            j = next(n, j);
            let s = slots.get(j).copied().unwrap_or(T::EMPTY);
            if s.is_empty() {
                break;
            }
            let k = home(n, s.hash());
            // `s` may stay at `j` only if its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                if let Some(slot) = slots.get_mut(i) {
                    *slot = s;
                }
                i = j;
            }
        }
        if let Some(slot) = slots.get_mut(i) {
            *slot = T::EMPTY;
        }
    }

    /// Allocates `n` empty slots, or `None` when the memory cannot be had.
    fn table<T: Entry>(n: usize) -> Option<Box<[T]>> {
        let mut slots = Vec::new();
        slots.try_reserve_exact(n).ok()?;
        slots.resize(n, T::EMPTY);
        Some(slots.into_boxed_slice())
    }

    /// One hash-table slot: the 128-bit keyed tag of (scope, jti), the expiry and the owner's
    /// tag. 32 bytes.
    #[derive(Clone, Copy)]
    struct Slot {
        /// `tag[0]` has its low bit forced to 1, so 0 marks an empty slot.
        tag: [u64; 2],
        expires_at: u64,
        /// The owner's keyed tag (low bit forced to 1), or [`NO_OWNER`].
        owner: u64,
    }

    impl Entry for Slot {
        const EMPTY: Self = Slot {
            tag: [0, 0],
            expires_at: 0,
            owner: NO_OWNER,
        };
        fn is_empty(&self) -> bool {
            self.tag[0] == 0
        }
        fn hash(&self) -> u64 {
            self.tag[1]
        }
    }

    /// How many occupied slots of a shard carry one owner. 12 bytes (the tag is kept as two
    /// halves so the slot needs no 8-byte alignment).
    #[derive(Clone, Copy)]
    struct OwnerSlot {
        /// The owner's keyed tag, low and high halves; [`NO_OWNER`] marks an empty slot.
        owner: [u32; 2],
        count: u32,
    }

    impl OwnerSlot {
        fn new(owner: u64) -> Self {
            Self {
                owner: [owner as u32, (owner >> 32) as u32],
                count: 1,
            }
        }

        fn owner(&self) -> u64 {
            u64::from(self.owner[0]) | (u64::from(self.owner[1]) << 32)
        }
    }

    impl Entry for OwnerSlot {
        const EMPTY: Self = OwnerSlot {
            owner: [0, 0],
            count: 0,
        };
        fn is_empty(&self) -> bool {
            self.owner() == NO_OWNER
        }
        fn hash(&self) -> u64 {
            self.owner()
        }
    }

    /// Per-owner entry counts of one shard. An owner is listed while it has an occupied slot
    /// (live, or expired and not yet swept) and removed when its count drops to zero, so the
    /// table never holds more owners than the shard holds entries: sized like the slot table,
    /// it cannot fill.
    struct Owners {
        slots: Box<[OwnerSlot]>,
    }

    impl Owners {
        /// The slot of `owner`, or of the empty slot where it would go.
        fn position(&self, owner: u64) -> Option<(usize, bool)> {
            let n = self.slots.len();
            let mut i = home(n, owner);
            for _ in 0..n {
                let s = self.slots.get(i)?;
                if s.is_empty() {
                    return Some((i, false));
                }
                if s.owner() == owner {
                    return Some((i, true));
                }
                i = next(n, i);
            }
            None
        }

        fn count(&self, owner: u64) -> u64 {
            match self.position(owner) {
                Some((i, true)) => self.slots.get(i).map_or(0, |s| u64::from(s.count)),
                _ => 0,
            }
        }

        /// Counts one more entry of `owner`; `false` when the table has no room (it always
        /// has: see the type's documentation).
        fn increment(&mut self, owner: u64) -> bool {
            let Some((i, found)) = self.position(owner) else {
                return false;
            };
            let Some(slot) = self.slots.get_mut(i) else {
                return false;
            };
            if found {
                slot.count = slot.count.saturating_add(1);
            } else {
                *slot = OwnerSlot::new(owner);
            }
            true
        }

        /// Counts one entry of `owner` less, forgetting the owner at zero.
        fn decrement(&mut self, owner: u64) {
            if let Some((i, true)) = self.position(owner) {
                let gone = match self.slots.get_mut(i) {
                    Some(slot) => {
                        slot.count = slot.count.saturating_sub(1);
                        slot.count == 0
                    }
                    None => false,
                };
                if gone {
                    remove_shift(&mut self.slots, i);
                }
            }
        }
    }

    /// Linear-probing table with backward-shift deletion, and its owners' counts.
    struct Shard {
        slots: Box<[Slot]>,
        owners: Owners,
        /// Occupied slots (live, or expired and not yet swept).
        len: usize,
        /// Most occupied slots allowed; `slots.len() > cap`, so a probe always ends.
        cap: usize,
        /// Latest `now` seen: time never runs backwards inside a shard.
        clock: u64,
        /// No occupied slot expires before this (`u64::MAX` when none is known).
        min_expiry: u64,
    }

    impl Shard {
        fn new(cap: usize) -> Self {
            // Load factor at most 3/4 keeps linear-probing misses short.
            let nslots = cap.saturating_add(cap / 3).saturating_add(1);
            match (table(nslots), table(nslots)) {
                (Some(slots), Some(owners)) => Self::with_tables(slots, owners, cap),
                // No memory: a store that holds nothing rejects everything (fail closed).
                _ => Self::with_tables(Box::new([Slot::EMPTY]), Box::new([OwnerSlot::EMPTY]), 0),
            }
        }

        fn with_tables(slots: Box<[Slot]>, owners: Box<[OwnerSlot]>, cap: usize) -> Self {
            Self {
                slots,
                owners: Owners { slots: owners },
                len: 0,
                cap,
                clock: 0,
                min_expiry: u64::MAX,
            }
        }

        fn home(&self, tag: &[u64; 2]) -> usize {
            home(self.slots.len(), tag[1])
        }

        fn next(&self, i: usize) -> usize {
            next(self.slots.len(), i)
        }

        fn slot(&self, i: usize) -> Slot {
            self.slots.get(i).copied().unwrap_or(Slot::EMPTY)
        }

        /// Empties slot `i` (backward shift) and uncounts its owner.
        fn remove_at(&mut self, i: usize) {
            let owner = self.slot(i).owner;
            remove_shift(&mut self.slots, i);
            self.len = self.len.saturating_sub(1);
            if owner != NO_OWNER {
                self.owners.decrement(owner);
            }
        }

        /// Removes every entry expired at `now` and recomputes `min_expiry`.
        fn sweep(&mut self, now: u64) {
            let mut min = u64::MAX;
            let mut i = 0;
            while i < self.slots.len() {
                let s = self.slot(i);
                if !s.is_empty() && s.expires_at < now {
                    // Re-examine `i`: the shift may have moved another entry into it.
                    self.remove_at(i);
                } else {
                    if !s.is_empty() {
                        min = min.min(s.expires_at);
                    }
                    i = i.saturating_add(1);
                }
            }
            self.min_expiry = min;
        }

        /// Whether `owner` may add an entry under `quota`: counts are exact for unexpired
        /// entries once expired ones are swept, which happens here only when one may have
        /// expired (at most once per advance of the clock past the earliest expiry).
        fn within_quota(&mut self, owner: u64, quota: u64, now: u64) -> bool {
            if owner == NO_OWNER || self.owners.count(owner) < quota {
                return true;
            }
            if now > self.min_expiry {
                self.sweep(now);
            }
            self.owners.count(owner) < quota
        }

        fn check_and_insert(
            &mut self,
            tag: [u64; 2],
            owner: u64,
            quota: u64,
            expires_at: u64,
            now: u64,
        ) -> Result<(), ReplayError> {
            let now = now.max(self.clock);
            self.clock = now;
            if expires_at < now {
                return Err(ReplayError::AlreadyExpired);
            }
            // Look the tag up, clearing expired entries met on the way.
            let mut i = self.home(&tag);
            let mut steps = 0usize;
            loop {
                let s = self.slot(i);
                if s.is_empty() {
                    break;
                }
                if s.expires_at < now {
                    self.remove_at(i);
                    continue;
                }
                if s.tag == tag {
                    return Err(ReplayError::Replayed);
                }
                i = self.next(i);
                steps = steps.saturating_add(1);
                if steps > self.slots.len() {
                    // Unreachable while `len < slots.len()`; refuse rather than loop.
                    return Err(ReplayError::Unavailable);
                }
            }
            let before = self.len;
            if !self.within_quota(owner, quota, now) {
                return Err(ReplayError::QuotaExceeded);
            }
            if self.len >= self.cap {
                if now <= self.min_expiry {
                    return Err(ReplayError::Full);
                }
                self.sweep(now);
                if self.len >= self.cap {
                    return Err(ReplayError::Full);
                }
            }
            if self.len != before {
                // A sweep moved entries: find the first empty slot again.
                i = self.home(&tag);
                for _ in 0..self.slots.len() {
                    if self.slot(i).is_empty() {
                        break;
                    }
                    i = self.next(i);
                }
                if !self.slot(i).is_empty() {
                    return Err(ReplayError::Unavailable);
                }
            }
            if owner != NO_OWNER && !self.owners.increment(owner) {
                return Err(ReplayError::Unavailable);
            }
            let Some(slot) = self.slots.get_mut(i) else {
                if owner != NO_OWNER {
                    self.owners.decrement(owner);
                }
                return Err(ReplayError::Unavailable);
            };
            *slot = Slot {
                tag,
                expires_at,
                owner,
            };
            self.len = self.len.saturating_add(1);
            self.min_expiry = self.min_expiry.min(expires_at);
            Ok(())
        }
    }

    /// Bounded in-memory [`ReplayStore`] (RFC 9449 §11.1) for one process: sharded, fails
    /// closed when full, never evicts an unexpired entry, and keeps one client key from
    /// filling it.
    ///
    /// - **Memory** is allocated once, in [`MemoryReplayStore::new`], and never grows: each
    ///   entry is a 32-byte slot (a 128-bit tag, the expiry and the owner's tag) and each
    ///   shard has an owner table of 12-byte slots as long as its slot table, both at a load
    ///   factor of at most 3/4, so about 59 bytes per entry of capacity
    ///   ([`MemoryReplayStore::memory_bytes`]).
    /// - **Keys** are not stored: the tag is SipHash-2-4-128 under a random per-store key of
    ///   `len(scope) ‖ scope ‖ jti`. Two different keys with the same tag would make the
    ///   second look like a replay — a false *rejection*, never a false acceptance, since an
    ///   `Ok` is only given when no live entry has the tag. With 128-bit tags that chance
    ///   is about `n² / 2¹²⁹` (negligible), and the secret key stops clients from aiming
    ///   collisions at each other's proofs or at one hash bucket.
    /// - **Per-key quota**: an entry whose [`ReplayKey::owner`] is set (proof validation sets
    ///   the proof key's thumbprint) counts against that owner; an owner holding
    ///   [`MemoryReplayStore::owner_quota`] unexpired entries (default
    ///   [`MemoryReplayStore::DEFAULT_OWNER_QUOTA`], 1,000) is refused with
    ///   [`ReplayError::QuotaExceeded`] until some expire, while other owners are served.
    ///   Counts are kept per owner with the entries (the owner's 64-bit keyed tag is in each
    ///   slot, and removing an expired slot uncounts it), so they cover unexpired entries
    ///   only and the count table is bounded by the store's capacity. Two owners with the
    ///   same 64-bit tag would share a quota (a false rejection, never an acceptance).
    ///   Entries without owner count against no quota.
    /// - **Concurrency**: entries are spread over up to 16 `Mutex`-guarded shards, by owner
    ///   when there is one (so an owner's count lives in one shard) and by tag otherwise;
    ///   check and insert happen under one lock, so they are atomic.
    /// - **Expiry**: an entry lives while `now <= expires_at`. Expired entries are removed
    ///   lazily, when a lookup passes them or when a full shard (or an owner at its quota)
    ///   is swept (at most once per shard per advance of the clock past its earliest
    ///   expiry). Each shard keeps the latest `now` it saw, so a caller with a lagging clock
    ///   cannot revive a slot.
    /// - **Full**: capacity is split evenly over the shards; a full shard answers
    ///   [`ReplayError::Full`] even if another has room. The keyed hash spreads owners (and
    ///   entries without owner) evenly, and no owner holds more than its quota, so with many
    ///   clients this happens within a few percent of [`MemoryReplayStore::capacity`].
    ///   Stores below 8192 entries use one shard and hold exactly their capacity.
    /// - A poisoned shard lock answers [`ReplayError::Unavailable`].
    ///
    /// The quota stops one client key (a runaway or compromised client) from exhausting the
    /// store; it does not stop someone who can use many keys. At a resource server that takes
    /// a valid access token bound to each key (the `jti` is committed after the `cnf.jkt`
    /// check); at a token or PAR endpoint, where any key may be new, rate limiting stays
    /// necessary.
    pub struct MemoryReplayStore {
        shards: Box<[Mutex<Shard>]>,
        key: [u64; 2],
        quota: usize,
    }

    impl fmt::Debug for MemoryReplayStore {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("MemoryReplayStore")
                .field("shards", &self.shards.len())
                .field("capacity", &self.capacity())
                .field("owner_quota", &self.quota)
                .finish_non_exhaustive()
        }
    }

    impl MemoryReplayStore {
        /// Unexpired entries one owner (proof key) may hold unless configured otherwise.
        pub const DEFAULT_OWNER_QUOTA: usize = 1000;

        /// A store for at least `capacity` live entries, with a random hashing key and the
        /// default per-owner quota.
        ///
        /// All memory is reserved here. If it cannot be, the store holds nothing and answers
        /// [`ReplayError::Full`] to every insert (check [`MemoryReplayStore::capacity`]).
        pub fn new(capacity: usize) -> Self {
            Self::with_key(capacity, random_key())
        }

        /// Like [`MemoryReplayStore::new`] with a caller-chosen 128-bit hashing key (for
        /// reproducible tests and benchmarks; servers should use `new`).
        pub fn with_key(capacity: usize, key: [u8; 16]) -> Self {
            let mut nshards = 1usize;
            while nshards < MAX_SHARDS && capacity / (nshards * 2) >= MIN_SHARD_CAPACITY {
                nshards *= 2;
            }
            let per_shard = capacity.div_ceil(nshards);
            let shards = (0..nshards)
                .map(|_| Mutex::new(Shard::new(per_shard)))
                .collect();
            let (k0, k1) = key.split_at(8);
            Self {
                shards,
                key: [le_u64(k0), le_u64(k1)],
                quota: Self::DEFAULT_OWNER_QUOTA,
            }
        }

        /// This store with at most `quota` unexpired entries per owner (the proof key; see
        /// [`ReplayKey::owner`]); `usize::MAX` for no per-owner limit. A quota above a
        /// shard's capacity (the capacity divided by up to 16 shards) is never reached.
        #[must_use]
        pub fn with_owner_quota(mut self, quota: usize) -> Self {
            self.quota = quota;
            self
        }

        /// Most unexpired entries one owner may hold ([`MemoryReplayStore::with_owner_quota`]).
        pub fn owner_quota(&self) -> usize {
            self.quota
        }

        /// Entries held, live or expired but not yet swept (RFC 9449 §11.1).
        pub fn len(&self) -> usize {
            self.shards
                .iter()
                .filter_map(|s| s.lock().ok())
                .map(|s| s.len)
                .sum()
        }

        /// Whether no entry is held.
        pub fn is_empty(&self) -> bool {
            self.len() == 0
        }

        /// Most entries the store may hold: `capacity` rounded up to a multiple of the
        /// shard count, or 0 when its memory could not be reserved.
        pub fn capacity(&self) -> usize {
            self.shards
                .iter()
                .filter_map(|s| s.lock().ok())
                .map(|s| s.cap)
                .sum()
        }

        /// Bytes this store occupies, all allocated up front: the struct, the shard locks,
        /// the slot arrays and the owner tables.
        pub fn memory_bytes(&self) -> usize {
            let (slots, owners) = self.shards.iter().filter_map(|s| s.lock().ok()).fold(
                (0usize, 0usize),
                |(a, b), s| {
                    (
                        a.saturating_add(s.slots.len()),
                        b.saturating_add(s.owners.slots.len()),
                    )
                },
            );
            core::mem::size_of::<Self>()
                .saturating_add(
                    self.shards
                        .len()
                        .saturating_mul(core::mem::size_of::<Mutex<Shard>>()),
                )
                .saturating_add(slots.saturating_mul(core::mem::size_of::<Slot>()))
                .saturating_add(owners.saturating_mul(core::mem::size_of::<OwnerSlot>()))
        }

        fn tag(&self, key: &ReplayKey<'_>) -> [u64; 2] {
            let mut h = sip::SipHasher128::new(self.key[0], self.key[1]);
            h.write(&(key.scope.len() as u64).to_le_bytes());
            h.write(key.scope);
            h.write(key.jti.as_bytes());
            let [lo, hi] = h.finish();
            [lo | 1, hi]
        }

        /// The owner's keyed 64-bit tag (low bit forced to 1), or [`NO_OWNER`].
        fn owner_tag(&self, key: &ReplayKey<'_>) -> u64 {
            let Some(owner) = key.owner else {
                return NO_OWNER;
            };
            let mut h = sip::SipHasher128::new(self.key[0], self.key[1]);
            // No scope is 2^64 - 1 bytes long: this prefix keeps owner and entry inputs apart.
            h.write(&u64::MAX.to_le_bytes());
            h.write(owner);
            let [lo, _] = h.finish();
            lo | 1
        }
    }

    impl ReplayStore for MemoryReplayStore {
        fn check_and_insert(
            &self,
            key: ReplayKey<'_>,
            expires_at: u64,
            now: u64,
        ) -> Result<(), ReplayError> {
            let tag = self.tag(&key);
            let owner = self.owner_tag(&key);
            // Shard by the owner when there is one (its count lives in one shard), else by
            // the tag; low bits above bit 0 (forced), while slots are placed by high bits.
            let spread = if owner == NO_OWNER { tag[0] } else { owner };
            let index = ((spread >> 1) as usize) & (self.shards.len().saturating_sub(1));
            let shard = self.shards.get(index).ok_or(ReplayError::Unavailable)?;
            let mut shard = shard.lock().map_err(|_| ReplayError::Unavailable)?;
            let quota = u64::try_from(self.quota).unwrap_or(u64::MAX);
            shard.check_and_insert(tag, owner, quota, expires_at, now)
        }
    }

    fn le_u64(b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        for (d, s) in a.iter_mut().zip(b) {
            *d = *s;
        }
        u64::from_le_bytes(a)
    }

    fn random_key() -> [u8; 16] {
        let mut key = [0u8; 16];
        if getrandom::fill(&mut key).is_err() {
            // The key only guards against aimed collisions (false rejections); std's
            // randomly seeded hasher is a fair fallback when the OS source fails.
            use core::hash::BuildHasher;
            let state = std::hash::RandomState::new();
            let (a, b) = key.split_at_mut(8);
            a.copy_from_slice(&state.hash_one(0u8).to_le_bytes());
            b.copy_from_slice(&state.hash_one(1u8).to_le_bytes());
        }
        key
    }

    /// SipHash-2-4 with 128-bit output (Aumasson & Bernstein, "SipHash: a fast short-input
    /// PRF", 2012, and the reference implementation's 128-bit mode).
    pub(super) mod sip {
        pub(crate) struct SipHasher128 {
            v: [u64; 4],
            tail: u64,
            ntail: usize,
            len: u64,
        }

        impl SipHasher128 {
            pub(crate) fn new(k0: u64, k1: u64) -> Self {
                Self {
                    v: [
                        k0 ^ 0x736f_6d65_7073_6575,
                        k1 ^ 0x646f_7261_6e64_6f6d ^ 0xee,
                        k0 ^ 0x6c79_6765_6e65_7261,
                        k1 ^ 0x7465_6462_7974_6573,
                    ],
                    tail: 0,
                    ntail: 0,
                    len: 0,
                }
            }

            fn round(&mut self) {
                let [mut v0, mut v1, mut v2, mut v3] = self.v;
                v0 = v0.wrapping_add(v1);
                v1 = v1.rotate_left(13) ^ v0;
                v0 = v0.rotate_left(32);
                v2 = v2.wrapping_add(v3);
                v3 = v3.rotate_left(16) ^ v2;
                v0 = v0.wrapping_add(v3);
                v3 = v3.rotate_left(21) ^ v0;
                v2 = v2.wrapping_add(v1);
                v1 = v1.rotate_left(17) ^ v2;
                v2 = v2.rotate_left(32);
                self.v = [v0, v1, v2, v3];
            }

            fn compress(&mut self, m: u64) {
                self.v[3] ^= m;
                self.round();
                self.round();
                self.v[0] ^= m;
            }

            pub(crate) fn write(&mut self, mut bytes: &[u8]) {
                self.len = self.len.wrapping_add(bytes.len() as u64);
                // Top up a partial word first.
                while self.ntail != 0 {
                    let Some((&b, rest)) = bytes.split_first() else {
                        return;
                    };
                    self.tail |= u64::from(b) << (8 * self.ntail);
                    self.ntail += 1;
                    bytes = rest;
                    if self.ntail == 8 {
                        let m = self.tail;
                        self.compress(m);
                        self.tail = 0;
                        self.ntail = 0;
                    }
                }
                let mut words = bytes.chunks_exact(8);
                for w in &mut words {
                    let mut a = [0u8; 8];
                    a.copy_from_slice(w);
                    self.compress(u64::from_le_bytes(a));
                }
                for (n, &b) in words.remainder().iter().enumerate() {
                    self.tail |= u64::from(b) << (8 * n);
                }
                self.ntail = words.remainder().len();
            }

            pub(crate) fn finish(mut self) -> [u64; 2] {
                let b = (self.len << 56) | self.tail;
                self.compress(b);
                self.v[2] ^= 0xee;
                for _ in 0..4 {
                    self.round();
                }
                let h0 = self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3];
                self.v[1] ^= 0xdd;
                for _ in 0..4 {
                    self.round();
                }
                let h1 = self.v[0] ^ self.v[1] ^ self.v[2] ^ self.v[3];
                [h0, h1]
            }
        }
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    mod tests {
        use super::sip::SipHasher128;
        use super::*;

        fn sip(msg: &[u8]) -> [u8; 16] {
            // Key 00 01 .. 0f, as in the reference implementation's test vectors.
            let mut h = SipHasher128::new(0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908);
            h.write(msg);
            let [a, b] = h.finish();
            let mut out = [0u8; 16];
            out[..8].copy_from_slice(&a.to_le_bytes());
            out[8..].copy_from_slice(&b.to_le_bytes());
            out
        }

        #[test]
        fn siphash128_reference_vectors() {
            // vectors_sip128[0], [15] and [63] of the SipHash reference implementation
            // (input 00 01 .. n-1 under key 00 .. 0f), also checked against the `siphasher`
            // crate.
            assert_eq!(
                sip(&[]),
                [
                    0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7,
                    0x55, 0x02, 0x93
                ]
            );
            let msg: Vec<u8> = (0u8..15).collect();
            assert_eq!(
                sip(&msg),
                [
                    0x54, 0x93, 0xe9, 0x99, 0x33, 0xb0, 0xa8, 0x11, 0x7e, 0x08, 0xec, 0x0f, 0x97,
                    0xcf, 0xc3, 0xd9
                ]
            );
            let msg: Vec<u8> = (0u8..63).collect();
            assert_eq!(
                sip(&msg),
                [
                    0x51, 0x50, 0xd1, 0x77, 0x2f, 0x50, 0x83, 0x4a, 0x50, 0x3e, 0x06, 0x9a, 0x97,
                    0x3f, 0xbd, 0x7c
                ]
            );
        }

        #[test]
        fn siphash128_incremental_writes_match_one_shot() {
            let msg: Vec<u8> = (0u8..64).collect();
            for split in 0..msg.len() {
                for split2 in split..msg.len() {
                    let mut h = SipHasher128::new(1, 2);
                    h.write(&msg[..split]);
                    h.write(&msg[split..split2]);
                    h.write(&msg[split2..]);
                    let mut g = SipHasher128::new(1, 2);
                    g.write(&msg);
                    assert_eq!(h.finish(), g.finish());
                }
            }
        }

        #[test]
        fn backward_shift_keeps_every_survivor_reachable() {
            let mut shard = Shard::new(64);
            let mut tags = Vec::new();
            for i in 0..64u64 {
                // Homes in the last and first slots: one cluster wrapping around the end.
                let hi = if i % 2 == 0 { u64::MAX - i } else { i };
                let tag = [(i << 1) | 1, hi];
                tags.push(tag);
                shard
                    .check_and_insert(
                        tag,
                        NO_OWNER,
                        u64::MAX,
                        if i % 3 == 0 { 10 } else { 100 },
                        1,
                    )
                    .unwrap();
            }
            shard.sweep(50);
            assert_eq!(shard.len, 64 - 22);
            for (i, tag) in tags.iter().enumerate() {
                let r = shard.check_and_insert(*tag, NO_OWNER, u64::MAX, 100, 50);
                if i % 3 == 0 {
                    assert_eq!(r, Ok(()));
                } else {
                    assert_eq!(r, Err(ReplayError::Replayed));
                }
            }
        }

        #[test]
        fn owner_counts_follow_inserts_expiry_and_backward_shifts() {
            let mut shard = Shard::new(64);
            // Owners whose homes collide (same high bits) and wrap around the table's end.
            let owners = [u64::MAX, u64::MAX - 2, 3, 5];
            for i in 0..48u64 {
                let owner = owners[(i % 4) as usize];
                let expires = if i % 2 == 0 { 10 } else { 100 };
                let tag = [(i << 1) | 1, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)];
                shard.check_and_insert(tag, owner, 12, expires, 1).unwrap();
            }
            for owner in owners {
                assert_eq!(shard.owners.count(owner), 12);
            }
            // Owners 0 and 2 (even i) had every entry expire at 10; a sweep forgets them.
            shard.sweep(50);
            assert_eq!(shard.owners.count(owners[0]), 0);
            assert_eq!(shard.owners.count(owners[2]), 0);
            assert_eq!(shard.owners.count(owners[1]), 12);
            assert_eq!(shard.owners.count(owners[3]), 12);
            let listed = shard.owners.slots.iter().filter(|s| !s.is_empty()).count();
            assert_eq!(listed, 2, "owners without entries leave the table");
        }
    }
}
