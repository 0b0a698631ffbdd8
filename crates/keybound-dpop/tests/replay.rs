//! Replay detection (RFC 9449 §11.1): the trait contract and the bounded memory store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
#![cfg(feature = "std")]

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use keybound_dpop::replay::{MemoryReplayStore, ReplayError, ReplayKey, ReplayStore};

const SCOPE: &[u8] = b"https://server.example.com/token";

fn key(jti: &str) -> ReplayKey<'_> {
    ReplayKey { scope: SCOPE, jti }
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
    let a = ReplayKey {
        scope: b"https://a.example/",
        jti: "j",
    };
    let b = ReplayKey {
        scope: b"https://b.example/",
        jti: "j",
    };
    assert_eq!(s.check_and_insert(a, 400, 100), Ok(()));
    assert_eq!(s.check_and_insert(b, 400, 100), Ok(()));
    assert_eq!(s.check_and_insert(b, 400, 100), Err(ReplayError::Replayed));
}

#[test]
fn scope_and_jti_boundary_is_unambiguous() {
    let s = store(16);
    assert_eq!(
        s.check_and_insert(
            ReplayKey {
                scope: b"ab",
                jti: "c"
            },
            400,
            100
        ),
        Ok(())
    );
    assert_eq!(
        s.check_and_insert(
            ReplayKey {
                scope: b"a",
                jti: "bc"
            },
            400,
            100
        ),
        Ok(())
    );
    assert_eq!(
        s.check_and_insert(
            ReplayKey {
                scope: b"",
                jti: "abc"
            },
            400,
            100
        ),
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
