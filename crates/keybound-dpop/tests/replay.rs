//! Replay detection (RFC 9449 §11.1): the trait contract and the bounded memory store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
#![cfg(feature = "std")]

#[cfg(feature = "p256")]
mod common;

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use keybound_dpop::replay::{MemoryReplayStore, ReplayError, ReplayKey, ReplayStore};

const SCOPE: &[u8] = b"https://server.example.com/token";

fn key(jti: &str) -> ReplayKey<'_> {
    ReplayKey::new(SCOPE, jti)
}

fn store(cap: usize) -> MemoryReplayStore {
    MemoryReplayStore::with_key(cap, [7; 16])
}

#[test]
fn first_use_is_accepted_and_duplicate_is_rejected() {
    let s = store(16);
    assert_eq!(
        s.check_and_insert(key("e1j3V_bKic8-LAEB"), 400, 100),
        Ok(())
    );
    assert_eq!(
        s.check_and_insert(key("e1j3V_bKic8-LAEB"), 400, 100),
        Err(ReplayError::Replayed)
    );
    assert_eq!(
        s.check_and_insert(key("e1j3V_bKic8-LAEB"), 900, 300),
        Err(ReplayError::Replayed)
    );
    assert_eq!(s.len(), 1);
}

#[test]
fn same_jti_in_another_scope_is_accepted() {
    let s = store(16);
    let a = ReplayKey::new(b"https://a.example/", "j");
    let b = ReplayKey::new(b"https://b.example/", "j");
    assert_eq!(s.check_and_insert(a, 400, 100), Ok(()));
    assert_eq!(s.check_and_insert(b, 400, 100), Ok(()));
    assert_eq!(s.check_and_insert(b, 400, 100), Err(ReplayError::Replayed));
}

#[test]
fn scope_and_jti_boundary_is_unambiguous() {
    let s = store(16);
    assert_eq!(
        s.check_and_insert(ReplayKey::new(b"ab", "c"), 400, 100),
        Ok(())
    );
    assert_eq!(
        s.check_and_insert(ReplayKey::new(b"a", "bc"), 400, 100),
        Ok(())
    );
    assert_eq!(
        s.check_and_insert(ReplayKey::new(b"", "abc"), 400, 100),
        Ok(())
    );
}

#[test]
fn entry_lives_through_its_expiry_second() {
    let s = store(16);
    assert_eq!(s.check_and_insert(key("j"), 400, 100), Ok(()));
    assert_eq!(
        s.check_and_insert(key("j"), 400, 400),
        Err(ReplayError::Replayed)
    );
    assert_eq!(s.check_and_insert(key("j"), 800, 401), Ok(()));
}

#[test]
fn expiry_frees_room_in_a_full_store() {
    let s = store(4);
    for j in ["a", "b", "c", "d"] {
        assert_eq!(s.check_and_insert(key(j), 400, 100), Ok(()));
    }
    assert_eq!(
        s.check_and_insert(key("e"), 400, 100),
        Err(ReplayError::Full)
    );
    assert_eq!(s.check_and_insert(key("e"), 800, 401), Ok(()));
    assert_eq!(s.len(), 1, "the sweep removed all four expired entries");
}

#[test]
fn full_store_rejects_new_entries_and_still_rejects_duplicates() {
    let s = store(4);
    assert_eq!(s.capacity(), 4);
    for j in ["a", "b", "c", "d"] {
        assert_eq!(s.check_and_insert(key(j), 400, 100), Ok(()));
    }
    for i in 0..100 {
        assert_eq!(
            s.check_and_insert(key(&format!("new{i}")), 400, 200),
            Err(ReplayError::Full)
        );
    }
    for j in ["a", "b", "c", "d"] {
        assert_eq!(
            s.check_and_insert(key(j), 400, 399),
            Err(ReplayError::Replayed)
        );
    }
    assert_eq!(s.len(), 4);
}

#[test]
fn partially_expired_full_store_keeps_unexpired_entries() {
    let s = store(4);
    assert_eq!(s.check_and_insert(key("short"), 150, 100), Ok(()));
    for j in ["b", "c", "d"] {
        assert_eq!(s.check_and_insert(key(j), 400, 100), Ok(()));
    }
    assert_eq!(s.check_and_insert(key("x"), 400, 151), Ok(()));
    assert_eq!(
        s.check_and_insert(key("y"), 400, 151),
        Err(ReplayError::Full)
    );
    for j in ["b", "c", "d", "x"] {
        assert_eq!(
            s.check_and_insert(key(j), 400, 152),
            Err(ReplayError::Replayed)
        );
    }
}

#[test]
fn entry_expiring_before_now_is_refused() {
    let s = store(4);
    assert_eq!(
        s.check_and_insert(key("j"), 99, 100),
        Err(ReplayError::AlreadyExpired)
    );
    assert_eq!(s.len(), 0);
}

#[test]
fn lagging_clock_cannot_revive_a_forgotten_jti() {
    let s = store(4);
    assert_eq!(s.check_and_insert(key("j"), 400, 100), Ok(()));
    // Another caller's clock moves the store past the entry's expiry...
    assert_eq!(s.check_and_insert(key("k"), 900, 500), Ok(()));
    // ...so a caller whose clock lags cannot slip the old proof back in.
    assert_eq!(
        s.check_and_insert(key("j"), 400, 300),
        Err(ReplayError::AlreadyExpired)
    );
}

#[test]
fn zero_capacity_store_rejects_everything() {
    let s = store(0);
    assert_eq!(s.capacity(), 0);
    assert!(s.is_empty());
    assert_eq!(
        s.check_and_insert(key("j"), 400, 100),
        Err(ReplayError::Full)
    );
}

#[test]
fn random_keys_differ_between_stores_but_behave_alike() {
    let (a, b) = (MemoryReplayStore::new(8), MemoryReplayStore::new(8));
    for s in [&a, &b] {
        assert_eq!(s.check_and_insert(key("j"), 400, 100), Ok(()));
        assert_eq!(
            s.check_and_insert(key("j"), 400, 100),
            Err(ReplayError::Replayed)
        );
    }
    assert!(format!("{a:?}").contains("capacity: 8"));
}

#[test]
fn one_million_entries_cost_at_most_64_bytes_each() {
    let s = MemoryReplayStore::new(1_000_000);
    assert!(s.capacity() >= 1_000_000);
    let per_entry = s.memory_bytes() as f64 / s.capacity() as f64;
    eprintln!(
        "memory: {} bytes, {per_entry:.1} bytes per entry",
        s.memory_bytes()
    );
    assert!(per_entry <= 64.0, "{per_entry}");
}

#[test]
fn sharded_store_fills_close_to_capacity_without_growing() {
    let s = MemoryReplayStore::new(100_000);
    let bytes = s.memory_bytes();
    let mut accepted = 0usize;
    for i in 0.. {
        match s.check_and_insert(key(&i.to_string()), 1000, 1) {
            Ok(()) => accepted += 1,
            Err(ReplayError::Full) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        accepted >= s.capacity() * 95 / 100,
        "{accepted} of {}",
        s.capacity()
    );
    assert!(accepted <= s.capacity());
    assert_eq!(s.len(), accepted);
    assert_eq!(s.memory_bytes(), bytes);
    // Everything expires: the whole capacity is usable again.
    assert_eq!(s.check_and_insert(key("late"), 5000, 1001), Ok(()));
}

#[test]
fn steady_state_with_expiry_never_fills() {
    // 1000 inserts per second, each kept 60 s: about 61k live entries in a 100k store.
    let s = MemoryReplayStore::new(100_000);
    for i in 0..300_000u64 {
        let now = i / 1000;
        assert_eq!(
            s.check_and_insert(key(&i.to_string()), now + 60, now),
            Ok(()),
            "at {i}"
        );
    }
    assert!(s.len() <= 100_000);
}

#[test]
fn blanket_impls_forward_to_the_store() {
    fn take<S: ReplayStore>(s: S, jti: &str) -> Result<(), ReplayError> {
        s.check_and_insert(key(jti), 400, 100)
    }
    let s = Arc::new(store(16));
    assert_eq!(take(&*s, "a"), Ok(()));
    assert_eq!(take(Arc::clone(&s), "a"), Err(ReplayError::Replayed));
    let boxed: Box<dyn ReplayStore> = Box::new(store(16));
    assert_eq!(take(&boxed, "b"), Ok(()));
    assert_eq!(
        boxed.check_and_insert(key("b"), 400, 100),
        Err(ReplayError::Replayed)
    );
    let dyn_ref: &dyn ReplayStore = &*s;
    assert_eq!(take(dyn_ref, "a"), Err(ReplayError::Replayed));
}

#[test]
fn concurrent_flood_never_accepts_a_duplicate_and_stays_bounded() {
    const THREADS: usize = 4;
    const KEYS: usize = 50_000;
    // Fewer slots than distinct keys: the store reaches capacity during the flood.
    let s = MemoryReplayStore::new(40_000);
    let bytes = s.memory_bytes();
    let accepted: Vec<AtomicU8> = (0..KEYS).map(|_| AtomicU8::new(0)).collect();
    let full = AtomicUsize::new(0);
    let duplicate_accepted = AtomicBool::new(false);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (s, accepted, full, dup) = (&s, &accepted, &full, &duplicate_accepted);
            scope.spawn(move || {
                // Every thread inserts every key, in its own order, and re-sends some of the
                // keys it already got accepted (injected duplicates).
                let stride = [1, 7, 13, 31][t];
                let mut mine = Vec::new();
                for n in 0..KEYS {
                    let i = (n * stride + t * 101) % KEYS;
                    match s.check_and_insert(key(&format!("jti-{i}")), 1_000, 10) {
                        Ok(()) => {
                            if accepted[i].fetch_add(1, Ordering::SeqCst) != 0 {
                                dup.store(true, Ordering::SeqCst);
                            }
                            mine.push(i);
                        }
                        Err(ReplayError::Replayed) => {}
                        Err(ReplayError::Full) => {
                            full.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                    if n % 16 == 0
                        && let Some(&j) = mine.get(n % (mine.len() + 1))
                    {
                        let r = s.check_and_insert(key(&format!("jti-{j}")), 1_000, 10);
                        if r != Err(ReplayError::Replayed) {
                            dup.store(true, Ordering::SeqCst);
                        }
                    }
                }
            });
        }
    });
    assert!(
        !duplicate_accepted.load(Ordering::SeqCst),
        "a duplicate was accepted"
    );
    let total: usize = accepted
        .iter()
        .map(|a| usize::from(a.load(Ordering::SeqCst)))
        .sum();
    assert!(accepted.iter().all(|a| a.load(Ordering::SeqCst) <= 1));
    assert!(total <= s.capacity(), "{total} > {}", s.capacity());
    assert!(
        total >= s.capacity() * 9 / 10,
        "store should have filled: {total}"
    );
    assert!(
        full.load(Ordering::Relaxed) > 0,
        "the flood never hit capacity"
    );
    assert_eq!(s.len(), total);
    assert_eq!(s.memory_bytes(), bytes, "memory grew");
}

#[test]
fn concurrent_inserts_of_one_key_accept_exactly_one() {
    let s = MemoryReplayStore::new(1024);
    for round in 0..200 {
        let jti = format!("race-{round}");
        let wins = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    if s.check_and_insert(key(&jti), 1_000, 10).is_ok() {
                        wins.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        assert_eq!(wins.load(Ordering::SeqCst), 1, "round {round}");
    }
}

#[test]
fn errors_display_and_are_std_errors() {
    let e: &dyn core::error::Error = &ReplayError::Full;
    assert_eq!(e.to_string(), "replay store is full");
    for e in [
        ReplayError::Replayed,
        ReplayError::Unavailable,
        ReplayError::AlreadyExpired,
    ] {
        assert!(!e.to_string().is_empty());
    }
}

// ---- per-owner quota ----

const OWNER_A: &[u8] = &[0xa; 32];
const OWNER_B: &[u8] = &[0xb; 32];

fn owned<'a>(owner: &'a [u8], jti: &'a str) -> ReplayKey<'a> {
    ReplayKey::new(SCOPE, jti).with_owner(owner)
}

#[test]
fn rejects_flooding_key_at_its_quota_and_still_accepts_another_key() {
    // Default quota (1,000 unexpired entries per owner) in a store with room for far more.
    let s = store(20_000);
    assert_eq!(s.owner_quota(), MemoryReplayStore::DEFAULT_OWNER_QUOTA);
    assert_eq!(s.owner_quota(), 1000);
    for i in 0..1000 {
        let jti = format!("flood-{i}");
        assert_eq!(s.check_and_insert(owned(OWNER_A, &jti), 400, 100), Ok(()));
    }
    for i in 1000..1100 {
        let jti = format!("flood-{i}");
        assert_eq!(
            s.check_and_insert(owned(OWNER_A, &jti), 400, 100),
            Err(ReplayError::QuotaExceeded),
            "{jti}"
        );
    }
    // A replay of an accepted proof is still a replay, not a quota refusal.
    assert_eq!(
        s.check_and_insert(owned(OWNER_A, "flood-7"), 400, 100),
        Err(ReplayError::Replayed)
    );
    // Every other key is served, and so are keys without owner.
    for i in 0..1000 {
        let jti = format!("other-{i}");
        assert_eq!(s.check_and_insert(owned(OWNER_B, &jti), 400, 100), Ok(()));
    }
    assert_eq!(s.check_and_insert(key("no-owner"), 400, 100), Ok(()));
    assert_eq!(s.len(), 2001);
}

#[test]
fn quota_counts_only_unexpired_entries() {
    let s = store(64).with_owner_quota(3);
    for (jti, expires) in [("a", 150), ("b", 400), ("c", 400)] {
        assert_eq!(
            s.check_and_insert(owned(OWNER_A, jti), expires, 100),
            Ok(())
        );
    }
    assert_eq!(
        s.check_and_insert(owned(OWNER_A, "d"), 400, 100),
        Err(ReplayError::QuotaExceeded)
    );
    assert_eq!(
        s.check_and_insert(owned(OWNER_A, "d"), 400, 150),
        Err(ReplayError::QuotaExceeded),
        "\"a\" lives through its expiry second"
    );
    // "a" expired: the owner is under its quota again, for exactly one entry.
    assert_eq!(s.check_and_insert(owned(OWNER_A, "d"), 400, 151), Ok(()));
    assert_eq!(
        s.check_and_insert(owned(OWNER_A, "e"), 400, 151),
        Err(ReplayError::QuotaExceeded)
    );
    // Everything expired: a full quota again.
    for jti in ["f", "g", "h"] {
        assert_eq!(s.check_and_insert(owned(OWNER_A, jti), 900, 401), Ok(()));
    }
    assert_eq!(s.len(), 3, "expired entries were swept");
}

#[test]
fn quota_is_configurable_and_capacity_still_applies() {
    let s = store(8).with_owner_quota(usize::MAX);
    for i in 0..8 {
        let jti = format!("j{i}");
        assert_eq!(s.check_and_insert(owned(OWNER_A, &jti), 400, 100), Ok(()));
    }
    assert_eq!(
        s.check_and_insert(owned(OWNER_B, "x"), 400, 100),
        Err(ReplayError::Full)
    );
    let none = store(8).with_owner_quota(0);
    assert_eq!(
        none.check_and_insert(owned(OWNER_A, "x"), 400, 100),
        Err(ReplayError::QuotaExceeded)
    );
    assert_eq!(none.check_and_insert(key("x"), 400, 100), Ok(()));
}

#[test]
fn quota_memory_is_bounded_by_capacity() {
    // Every entry from a new owner: the owner table never grows past the store's own size.
    let s = store(4096);
    let before = s.memory_bytes();
    let mut accepted = 0usize;
    for i in 0..10_000u32 {
        let owner = i.to_le_bytes();
        let jti = format!("j{i}");
        match s.check_and_insert(owned(&owner, &jti), 400, 100) {
            Ok(()) => accepted += 1,
            Err(e) => assert_eq!(e, ReplayError::Full),
        }
    }
    assert_eq!(accepted, 4096);
    assert_eq!(s.memory_bytes(), before);
    assert!(before <= 4096 * 64, "{before} bytes for 4096 entries");
}

#[test]
fn concurrent_floods_of_one_owner_stop_at_its_quota() {
    let s = Arc::new(store(100_000).with_owner_quota(500));
    let accepted = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (s, accepted) = (Arc::clone(&s), Arc::clone(&accepted));
            std::thread::spawn(move || {
                for i in 0..400 {
                    let jti = format!("t{t}-{i}");
                    match s.check_and_insert(owned(OWNER_A, &jti), 400, 100) {
                        Ok(()) => {
                            accepted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => assert_eq!(e, ReplayError::QuotaExceeded),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(accepted.load(Ordering::Relaxed), 500);
}

/// Through proof validation: the quota follows the proof key even when the caller commits
/// with its own scope (here the target URI), and `commit` counts against the same owner.
#[cfg(feature = "p256")]
#[test]
fn proof_key_quota_holds_across_commit_scopes() {
    use keybound_dpop::{
        Algorithm, DpopError, Policy, ProofParams, Request, RustCryptoVerifier, SigningKey,
        check_proof,
    };
    const NOW: u64 = 1_700_000_000;
    const HTU: &str = "https://server.example.com/token";
    let mut rng = common::TestRng::new(11);
    let flooder = SigningKey::generate(Algorithm::Es256, &mut rng).unwrap();
    let other = SigningKey::generate(Algorithm::Es256, &mut rng).unwrap();
    let s = store(1024).with_owner_quota(3);
    let mut proof = |k: &SigningKey| {
        let p = k
            .sign_proof(&ProofParams::new("POST", HTU, NOW), &mut rng)
            .unwrap();
        check_proof(
            &p,
            &Request::new("POST", HTU),
            &Policy::new(),
            &RustCryptoVerifier,
            NOW,
        )
        .unwrap()
    };
    proof(&flooder).commit_scoped(&s, HTU.as_bytes()).unwrap();
    proof(&flooder)
        .commit_scoped(&s, b"https://server.example.com/par")
        .unwrap();
    proof(&flooder).commit(&s).unwrap();
    assert_eq!(
        proof(&flooder).commit_scoped(&s, HTU.as_bytes()),
        Err(DpopError::ReplayStore(ReplayError::QuotaExceeded))
    );
    let err = proof(&flooder).commit(&s).unwrap_err();
    assert_eq!(err, DpopError::ReplayStore(ReplayError::QuotaExceeded));
    // The client's doing, not the server's: rate limited (429), not unavailable (503).
    assert!(err.is_rate_limited() && !err.is_server_fault());
    assert_eq!(err.reason().as_str(), "replay");
    let ok = proof(&other).commit_scoped(&s, HTU.as_bytes()).unwrap();
    assert_eq!(ok.jkt, other.thumbprint());
}
