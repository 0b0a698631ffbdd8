//! The Redis store through Sentinel (`redis+sentinel://…/NAME`) on real processes: a master,
//! a replica and a Sentinel; the kit passes, and a failover is fenced for one window.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use core::time::Duration;
use std::time::Instant;

use common::{eventually, now, opts, ready, server, submit};
use keybound_redis::ReplayError;
use keybound_redis::conformance::servers::RedisServer;
use keybound_redis::conformance::{Kit, SystemClock};

/// A master, one replica in sync, and a Sentinel watching them as `mymaster`.
async fn deployment() -> (RedisServer, RedisServer, RedisServer) {
    let master = server(&[]);
    let port = master.port().to_string();
    let replica = server(&["--replicaof", "127.0.0.1", &port]);
    assert!(
        eventually(Duration::from_secs(10), || {
            let r = replica.cli(&["INFO", "replication"]).unwrap_or_default();
            async move { r.contains("master_link_status:up") }
        })
        .await
    );
    let sentinel = match RedisServer::start_sentinel("mymaster", master.port()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    // The Sentinel learns the replica from the master's INFO.
    let replica_port = replica.port().to_string();
    assert!(
        eventually(Duration::from_secs(15), || {
            let r = sentinel
                .cli(&["SENTINEL", "REPLICAS", "mymaster"])
                .unwrap_or_default();
            let p = replica_port.clone();
            async move { r.contains(&p) }
        })
        .await,
        "Sentinel never saw the replica"
    );
    (master, replica, sentinel)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_url_finds_the_master_and_passes_the_kit() {
    let (master, _replica, sentinel) = deployment().await;
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port());
    let store = ready(&url, opts()).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock);
    assert_eq!(kit.double_submit().await, Ok(()));
    assert_eq!(kit.concurrent_submit(16).await, Ok(()));
    // The entries are on the master Sentinel named.
    let keys: u64 = master.cli(&["DBSIZE"]).unwrap().parse().unwrap();
    assert!(keys > 1024);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_failover_is_fenced_for_one_window_then_recovers() {
    let (master, replica, sentinel) = deployment().await;
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port());
    let store = ready(&url, opts()).await;
    for i in 0..50 {
        assert_eq!(submit(&store, "s", &format!("old-{i}")).await, Ok(()));
    }
    let old_expiry = now() + 3;
    sentinel.cli(&["SENTINEL", "FAILOVER", "mymaster"]).unwrap();
    let started = Instant::now();
    // Until the store is on the new master and its fence is over, nothing old is accepted.
    let mut fenced_seen = false;
    loop {
        let h = store.health();
        fenced_seen |= h.fenced_tags == 1024;
        if now() < old_expiry {
            for i in (0..50).step_by(5) {
                assert_ne!(submit(&store, "s", &format!("old-{i}")).await, Ok(()));
            }
        }
        if fenced_seen && h.is_ready() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{h:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(submit(&store, "s", "after").await, Ok(()));
    // The new entry is on the former replica, now master.
    let role = replica.cli(&["ROLE"]).unwrap();
    assert!(role.starts_with("master"), "{role}");
    let _ = master;
    let r = submit(&store, "s", "after").await;
    assert_eq!(r, Err(ReplayError::Replayed));
}
