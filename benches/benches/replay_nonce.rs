//! Replay store (RFC 9449 §11.1) and server nonce (RFC 9449 §8) costs.
//!
//! - `replay/insert_1t`: `MemoryReplayStore` check-and-insert of fresh `jti`s on one thread,
//!   in steady state: a 1 M-entry store, 10 000 proofs per virtual second kept 60 s
//!   (≈ 600 k live entries). Target ≥ 2 M inserts/s.
//! - `replay/insert_2t`: the same, two threads sharing the store.
//! - `replay/duplicate`: a replayed `jti` (found, rejected).
//! - `replay/floor_hashset`: an unbounded `Mutex<HashSet<u128>>` insert, no expiry — the
//!   floor a bounded, fail-closed store is compared against.
//! - `nonce/*`: `HmacNonceSource` issue and check medians, `FixedNonce` check.
//!
//! Before the benchmarks run: bytes per entry of capacity at 1 M entries, and a store filled
//! to capacity — bytes per live entry, and proof that no accepted `jti` is accepted again.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark harness, fixed inputs"
)]

use core::hint::black_box;
use core::time::Duration;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Instant;

use criterion::{Criterion, Throughput};
use keybound_dpop::nonce::{FixedNonce, HmacNonceSource, NonceSource};
use keybound_dpop::replay::{MemoryReplayStore, ReplayError, ReplayKey, ReplayStore};

const SCOPE: &[u8] = b"https://server.example.com/token";
const CAPACITY: usize = 1_000_000;
const PER_SECOND: u64 = 10_000;
const KEEP_SECS: u64 = 60;

/// A 16-character jti like a client's random one, derived from `i` without allocating.
fn jti(i: u64, buf: &mut [u8; 16]) -> &str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i >> 7);
    for b in buf.iter_mut() {
        *b = HEX[(x & 15) as usize];
        x >>= 4;
    }
    core::str::from_utf8(buf).unwrap()
}

fn insert(store: &MemoryReplayStore, i: u64) {
    let mut buf = [0u8; 16];
    let now = i / PER_SECOND;
    let r = store.check_and_insert(
        ReplayKey::new(SCOPE, jti(i, &mut buf)),
        now + KEEP_SECS,
        now,
    );
    debug_assert!(r.is_ok());
    black_box(r).ok();
}

fn steady_store() -> (MemoryReplayStore, u64) {
    let store = MemoryReplayStore::with_key(CAPACITY, [9; 16]);
    let warm = (KEEP_SECS + 10) * PER_SECOND;
    for i in 0..warm {
        insert(&store, i);
    }
    (store, warm)
}

fn report_memory() {
    let store = MemoryReplayStore::new(CAPACITY);
    let bytes = store.memory_bytes();
    println!(
        "replay/memory: capacity {} entries, {} bytes allocated, {:.1} bytes per entry",
        store.capacity(),
        bytes,
        bytes as f64 / store.capacity() as f64
    );
}

/// Fills a 1 M-entry store until it refuses (no entry expires meanwhile), then offers every
/// accepted key again: a store at capacity must still reject each one as a replay (accepting
/// one is the security bug; `Full` or `Replayed` are both safe). Prints bytes per live entry.
fn report_at_capacity() {
    let store = MemoryReplayStore::with_key(CAPACITY, [7; 16]);
    let (now, expires) = (1_000, 1_000 + KEEP_SECS);
    let offer = |i: u64| {
        let mut buf = [0u8; 16];
        store.check_and_insert(ReplayKey::new(SCOPE, jti(i, &mut buf)), expires, now)
    };
    let (mut accepted, mut full, mut i) = (Vec::with_capacity(CAPACITY), 0u64, 0u64);
    // Offer fresh keys until 1 % of the capacity has been refused as `Full`: the shards fill
    // within a few percent of each other, so by then every one is full.
    while full < CAPACITY as u64 / 100 {
        match offer(i) {
            Ok(()) => accepted.push(i),
            Err(ReplayError::Full) => full += 1,
            Err(e) => panic!("fresh key {i}: {e:?}"),
        }
        i += 1;
    }
    let duplicates = accepted.iter().filter(|&&k| offer(k).is_ok()).count();
    let live = store.len();
    println!(
        "replay/at_capacity: {live} live of capacity {}, {:.1} bytes per live entry, \
         {duplicates} duplicates accepted of {} offered, {full} fresh keys refused as Full",
        store.capacity(),
        store.memory_bytes() as f64 / live as f64,
        accepted.len()
    );
    assert_eq!(duplicates, 0, "a full store accepted a replayed jti");
}

fn replay(c: &mut Criterion) {
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    let (store, mut next) = steady_store();
    g.bench_function("insert_1t", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                insert(&store, next);
                next += 1;
            }
            start.elapsed()
        });
    });

    g.bench_function("insert_2t", |b| {
        b.iter_custom(|iters| {
            let base = next;
            let half = iters.div_ceil(2);
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let store = &store;
                    s.spawn(move || {
                        for k in 0..half {
                            insert(store, base + 2 * k + t);
                        }
                    });
                }
            });
            let elapsed = start.elapsed();
            next = base + 2 * half;
            elapsed
        });
    });

    g.bench_function("duplicate", |b| {
        let mut buf = [0u8; 16];
        let now = (next - 1) / PER_SECOND;
        let key = ReplayKey::new(SCOPE, jti(next - 1, &mut buf));
        b.iter(|| black_box(store.check_and_insert(black_box(key), now + KEEP_SECS, now)));
    });

    let floor = Mutex::new(HashSet::<u128>::with_capacity(CAPACITY));
    let mut n = 0u128;
    g.bench_function("floor_hashset", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                n = n.wrapping_add(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834);
                let mut set = floor.lock().unwrap();
                if set.len() >= CAPACITY {
                    set.clear();
                }
                black_box(set.insert(n));
            }
            start.elapsed()
        });
    });
    g.finish();
}

fn nonce(c: &mut Criterion) {
    let mut g = c.benchmark_group("nonce");
    g.sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let source = HmacNonceSource::new([0x42; 32], 60);
    let now = 1_700_000_000;
    let mut buf = [0u8; HmacNonceSource::NONCE_LEN];
    let valid = source.issue(now);
    let mut forged = valid.clone().into_bytes();
    // Still base64url, so the check gets as far as the MAC comparison.
    let last = HmacNonceSource::NONCE_LEN - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();

    g.bench_function("hmac_issue_into", |b| {
        b.iter(|| black_box(source.issue_into(black_box(now), &mut buf).is_ok()));
    });
    g.bench_function("hmac_check_valid", |b| {
        b.iter(|| black_box(source.check(black_box(&valid), now)));
    });
    g.bench_function("hmac_check_forged", |b| {
        b.iter(|| black_box(source.check(black_box(&forged), now)));
    });
    let fixed = FixedNonce("eyJ7S_zG.eyJH0-Z.HX4w-7v");
    g.bench_function("fixed_check", |b| {
        b.iter(|| black_box(fixed.check(black_box("eyJ7S_zG.eyJH0-Z.HX4w-7v"), now)));
    });
    g.finish();
}

fn main() {
    report_memory();
    report_at_capacity();
    let mut c = Criterion::default().configure_from_args();
    replay(&mut c);
    nonce(&mut c);
    c.final_summary();
}
