//! Two store instances (two connections, as two resource-server processes would have) on
//! one real `redis-server`: a proof sent to both at once is accepted exactly once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use std::collections::HashMap;

use common::{opts, ready, server, submit};
use futures_util::future::join_all;
use keybound_redis::ReplayError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_accept_each_proof_exactly_once_over_1000_rounds() {
    let srv = server(&[]);
    let a = ready(&srv.url(), opts()).await;
    let b = ready(&srv.url(), opts()).await;
    for round in 0..1000 {
        let jti = format!("round-{round}");
        let (ja, jb) = (jti.clone(), jti.clone());
        let (sa, sb) = (a.clone(), b.clone());
        let ta = tokio::spawn(async move { submit(&sa, "https://rs.example/api", &ja).await });
        let tb = tokio::spawn(async move { submit(&sb, "https://rs.example/api", &jb).await });
        let (ra, rb) = (ta.await.unwrap(), tb.await.unwrap());
        let oks = usize::from(ra.is_ok()) + usize::from(rb.is_ok());
        assert_eq!(oks, 1, "round {round}: {ra:?} {rb:?}");
        assert!(
            ra == Err(ReplayError::Replayed) || rb == Err(ReplayError::Replayed),
            "round {round}: {ra:?} {rb:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_flooding_instances_never_accept_an_injected_duplicate() {
    let srv = server(&[]);
    let a = ready(&srv.url(), opts()).await;
    let b = ready(&srv.url(), opts()).await;
    // Each instance floods 3000 submissions over 1000 distinct jtis: every jti is sent by
    // both, some twice by the same instance, in different orders.
    let plan = |seed: u64| -> Vec<u32> {
        let mut v: Vec<u32> = (0..1000).chain((0..1000).step_by(2)).collect();
        let mut x = seed;
        for i in (1..v.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            v.swap(i, (x % (i as u64 + 1)) as usize);
        }
        v
    };
    let flood = |store: keybound_redis::RedisReplayStore, order: Vec<u32>| {
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            for chunk in order.chunks(16) {
                let results = futures_join(&store, chunk).await;
                for (jti, r) in chunk.iter().zip(results) {
                    match r {
                        Ok(()) => accepted.push(*jti),
                        Err(ReplayError::Replayed) => {}
                        Err(e) => panic!("jti {jti}: {e:?}"),
                    }
                }
            }
            accepted
        })
    };
    let ta = flood(a, plan(0x9e37_79b9_7f4a_7c15));
    let tb = flood(b, plan(0x2545_f491_4f6c_dd1d));
    let mut count: HashMap<u32, usize> = HashMap::new();
    for jti in ta.await.unwrap().into_iter().chain(tb.await.unwrap()) {
        *count.entry(jti).or_default() += 1;
    }
    let duplicates: usize = count.values().map(|c| c - 1).sum();
    assert_eq!(duplicates, 0);
    assert_eq!(count.len(), 1000, "every jti accepted once");
}

async fn futures_join(
    store: &keybound_redis::RedisReplayStore,
    chunk: &[u32],
) -> Vec<Result<(), ReplayError>> {
    // All of a chunk in flight at once on the multiplexed connection.
    join_all(chunk.iter().map(|j| {
        let jti = format!("flood-{j}");
        async move { submit(store, "https://rs.example/api", &jti).await }
    }))
    .await
}
