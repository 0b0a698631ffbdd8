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

use core::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{eventually, now, opts, ready, server, submit, submit_for};
use futures_util::future::join_all;
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
    // A 6 s window: Sentinel may take a few seconds to agree to fail over, and the old
    // entries must still be alive when it does.
    const LIFE: u64 = 6;
    let (_master, replica, sentinel) = deployment().await;
    let url = format!("redis+sentinel://127.0.0.1:{}/mymaster", sentinel.port());
    let store = ready(&url, opts().with_window(Duration::from_secs(LIFE))).await;
    // The earliest entry lives through second `first + life`: refused until then.
    let first = now();
    let old_expiry = first + LIFE + 1;
    for i in 0..50 {
        assert_eq!(
            submit_for(&store, "s", &format!("old-{i}"), LIFE).await,
            Ok(())
        );
    }

    // Watch the store's health and replay the old jtis all along, from before the failover.
    let fenced = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, fenced) = (store.clone(), fenced.clone());
        tokio::spawn(async move {
            while now() < old_expiry + 30 {
                if store.health().fenced_tags == 1024 {
                    fenced.store(true, Ordering::SeqCst);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
    };
    let replayer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tries = 0usize;
            while now() < old_expiry {
                let jtis: Vec<String> = (0..50).step_by(5).map(|i| format!("old-{i}")).collect();
                let results = join_all(jtis.iter().map(|j| submit_for(&store, "s", j, LIFE))).await;
                assert!(results.iter().all(|r| r.is_err()), "{results:?}");
                tries += results.len();
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tries
        })
    };

    // Ask for the failover until Sentinel names the replica (it refuses while it does not
    // yet consider the replica a good candidate).
    let replica_port = replica.port().to_string();
    let asked = Instant::now();
    loop {
        let _ = sentinel.cli(&["SENTINEL", "FAILOVER", "mymaster"]);
        let named = eventually(Duration::from_secs(3), || {
            let m = sentinel
                .cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"])
                .unwrap_or_default();
            let p = replica_port.clone();
            async move { m.lines().nth(1) == Some(p.as_str()) }
        })
        .await;
        if named {
            break;
        }
        assert!(
            asked.elapsed() < Duration::from_secs(40),
            "Sentinel never failed over"
        );
    }
    assert!(
        now() < old_expiry,
        "the failover took longer than this test's window"
    );
    let failed_over = Instant::now();
    assert!(
        eventually(Duration::from_secs(30), || {
            let (s, f) = (store.clone(), fenced.clone());
            async move { f.load(Ordering::SeqCst) && s.health().is_ready() }
        })
        .await,
        "fenced: {}, {:?}",
        fenced.load(Ordering::SeqCst),
        store.health()
    );
    assert!(failed_over.elapsed() < Duration::from_secs(30));
    assert!(replayer.await.unwrap() > 0);
    watcher.abort();
    assert_eq!(submit(&store, "s", "after").await, Ok(()));
    // The new entry is on the former replica, now master.
    let role = replica.cli(&["ROLE"]).unwrap();
    assert!(role.starts_with("master"), "{role}");
    assert_eq!(
        submit(&store, "s", "after").await,
        Err(ReplayError::Replayed)
    );
}
