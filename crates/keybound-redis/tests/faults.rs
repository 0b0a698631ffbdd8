//! Faults on a real standalone `redis-server`: killed mid-run, restarted empty or with its
//! data, paused (a reply that comes too late), demoted to a replica, flushed, too few
//! replicas for `WAIT`. The store must never accept a `jti` it cannot vouch for.
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

use common::{eventually, now, opts, ready, server, submit, watch_fences};
use keybound_redis::conformance::servers::RedisServer;
use keybound_redis::conformance::{Kit, Outage, SystemClock};
use keybound_redis::{RedisReplayStore, ReplayError};

/// Kills the server, then restarts it empty.
struct KillRestart<'a>(&'a mut RedisServer);

impl Outage for KillRestart<'_> {
    async fn begin(&mut self) {
        self.0.kill();
    }
    async fn end(&mut self) {
        self.0.restart().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_unavailability_with_a_killed_and_restarted_server() {
    let mut srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock).with_window(2);
    assert_eq!(
        kit.unavailability(&mut KillRestart(&mut srv), Duration::from_secs(10))
            .await,
        Ok(())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_server_fails_closed_and_restart_refuses_old_jtis_for_one_window() {
    let mut srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    let old: Vec<String> = (0..200).map(|i| format!("old-{i}")).collect();
    // The earliest entry lives through second `first + life`: refused until then.
    let first = now();
    let old_expiry = first + 3;
    for j in &old {
        assert_eq!(submit(&store, "s", j).await, Ok(()));
    }

    srv.kill();
    for (i, j) in old.iter().enumerate().take(50) {
        assert_eq!(submit(&store, "s", j).await, Err(ReplayError::Unavailable));
        let fresh = format!("down-{i}");
        assert_eq!(
            submit(&store, "s", &fresh).await,
            Err(ReplayError::Unavailable)
        );
    }
    assert!(!store.health().connected);

    let (fenced, watcher) = watch_fences(&store);
    srv.restart().unwrap();
    // The server forgot every old jti; until they would have expired none is accepted.
    while now() < old_expiry {
        for j in old.iter().step_by(7) {
            assert_ne!(
                submit(&store, "s", j).await,
                Ok(()),
                "{j} accepted after restart"
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    watcher.abort();
    assert_eq!(
        fenced.load(core::sync::atomic::Ordering::SeqCst),
        1024,
        "the restart was not detected"
    );
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { submit(&s, "s", "after").await.is_ok() }
        })
        .await
    );
    assert!(store.health().is_ready(), "{:?}", store.health());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_persistence_is_still_fenced_for_one_window() {
    // appendfsync always: nothing is lost, but a restart is a restart (with the default
    // everysec, up to a second of writes can be); the store fences either way.
    let mut srv = server(&["--appendonly", "yes", "--appendfsync", "always"]);
    let store = ready(&srv.url(), opts()).await;
    assert_eq!(submit(&store, "s", "kept").await, Ok(()));
    srv.kill();
    srv.restart().unwrap();
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.health().connected && s.health().fenced_tags == 1024 }
        })
        .await,
        "{:?}",
        store.health()
    );
    assert_eq!(
        submit(&store, "s", "kept").await,
        Err(ReplayError::Unavailable)
    );
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.health().is_ready() }
        })
        .await
    );
    // The data survived: still a replay (its 2 s life is measured on the server).
    let r = submit(&store, "s", "kept").await;
    assert!(
        r == Err(ReplayError::Replayed) || r == Ok(()),
        "unexpected {r:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_reply_answers_unavailable_never_replayed_and_is_not_accepted_again() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts().with_timeout(Duration::from_millis(150))).await;
    // Writes (and scripts) wait 900 ms on the server: the insert runs after the store gave up.
    srv.cli(&["CLIENT", "PAUSE", "900", "WRITE"]).unwrap();
    let started = Instant::now();
    assert_eq!(
        submit(&store, "s", "late").await,
        Err(ReplayError::Unavailable)
    );
    assert!(started.elapsed() < Duration::from_millis(600));
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The late insert landed; the same proof again is a replay, never a second acceptance.
    assert_eq!(
        submit(&store, "s", "late").await,
        Err(ReplayError::Replayed)
    );
    assert_eq!(submit(&store, "s", "fresh").await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_limit_refuses_excess_calls_at_once() {
    let srv = server(&[]);
    let store = ready(
        &srv.url(),
        opts()
            .with_max_in_flight(4)
            .with_timeout(Duration::from_millis(800)),
    )
    .await;
    srv.cli(&["CLIENT", "PAUSE", "1500", "WRITE"]).unwrap();
    let calls = (0..10).map(|i| {
        let s = store.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let r = submit(&s, "s", &format!("limit-{i}")).await;
            (r, t.elapsed())
        })
    });
    let mut quick = 0;
    for c in calls.collect::<Vec<_>>() {
        let (r, took) = c.await.unwrap();
        assert_eq!(r, Err(ReplayError::Unavailable));
        if took < Duration::from_millis(400) {
            quick += 1;
        }
    }
    assert_eq!(quick, 6, "calls beyond the limit must be refused at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demoted_server_fails_closed_then_fences_after_resync() {
    let srv = server(&[]);
    let other = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    assert_eq!(submit(&store, "s", "before").await, Ok(()));
    // The master becomes a replica of an empty server: READONLY, then its data is replaced.
    srv.cli(&["REPLICAOF", "127.0.0.1", &other.port().to_string()])
        .unwrap();
    for i in 0..20 {
        assert_ne!(submit(&store, "s", &format!("ro-{i}")).await, Ok(()));
        assert_ne!(submit(&store, "s", "before").await, Ok(()));
    }
    srv.cli(&["REPLICAOF", "NO", "ONE"]).unwrap();
    let back = Instant::now();
    while !store.health().is_ready() {
        assert!(
            back.elapsed() < Duration::from_secs(15),
            "{:?}",
            store.health()
        );
        assert_ne!(submit(&store, "s", "before").await, Ok(()));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back.elapsed() >= Duration::from_millis(1500));
    assert_eq!(submit(&store, "s", "after").await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_is_detected_in_band_and_fences_every_instance() {
    let srv = server(&[]);
    let a = ready(&srv.url(), opts()).await;
    let b = ready(&srv.url(), opts()).await;
    assert_eq!(submit(&a, "s", "j").await, Ok(()));
    srv.cli(&["FLUSHALL"]).unwrap();
    // The first call on the tag sees the epoch gone: never accepted, by either instance.
    assert_eq!(submit(&b, "s", "j").await, Err(ReplayError::Unavailable));
    assert_eq!(submit(&a, "s", "j").await, Err(ReplayError::Unavailable));
    assert!(b.health().fenced_tags >= 1);
    assert!(a.health().fenced_tags >= 1);
    // An instance started now adopts the fence B stored with the new epoch on that tag.
    let flushed = Instant::now();
    let c = RedisReplayStore::connect(&srv.url(), opts()).await.unwrap();
    assert!(c.health().fenced_tags >= 1, "{:?}", c.health());
    assert_eq!(submit(&c, "s", "j").await, Err(ReplayError::Unavailable));
    assert!(
        eventually(Duration::from_secs(5), || {
            let c = c.clone();
            async move { submit(&c, "s", "j").await.is_ok() }
        })
        .await
    );
    assert!(flushed.elapsed() >= Duration::from_millis(1500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_replicas_fails_closed_without_enough_acks() {
    let srv = server(&[]);
    let port = srv.port().to_string();
    let mut replica = server(&["--replicaof", "127.0.0.1", &port]);
    assert!(
        eventually(Duration::from_secs(10), || {
            let r = replica.cli(&["INFO", "replication"]).unwrap_or_default();
            async move { r.contains("master_link_status:up") }
        })
        .await
    );
    let store = ready(
        &srv.url(),
        opts()
            .with_wait_replicas(1)
            .with_wait_timeout(Duration::from_millis(100)),
    )
    .await;
    assert_eq!(submit(&store, "s", "acked").await, Ok(()));
    assert_eq!(
        submit(&store, "s", "acked").await,
        Err(ReplayError::Replayed)
    );
    replica.kill();
    for i in 0..5 {
        assert_eq!(
            submit(&store, "s", &format!("unacked-{i}")).await,
            Err(ReplayError::Unavailable)
        );
    }
    let two = ready(
        &srv.url(),
        opts()
            .with_wait_replicas(2)
            .with_wait_timeout(Duration::from_millis(50)),
    )
    .await;
    assert_eq!(
        submit(&two, "s", "never").await,
        Err(ReplayError::Unavailable)
    );
    let _ = now();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicting_policy_set_at_run_time_fails_closed_until_restored() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    assert_eq!(submit(&store, "s", "before").await, Ok(()));
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "volatile-lru"])
        .unwrap();
    // The monitor (200 ms here) notices; from then on nothing is accepted.
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { submit(&s, "s", "probe").await == Err(ReplayError::Unavailable) }
        })
        .await
    );
    for i in 0..10 {
        assert_eq!(
            submit(&store, "s", &format!("evicting-{i}")).await,
            Err(ReplayError::Unavailable)
        );
    }
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    // Nothing was evicted (no memory pressure): accepted again without a fence.
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { submit(&s, "s", "again").await.is_ok() }
        })
        .await
    );
    assert_eq!(
        submit(&store, "s", "before").await,
        Err(ReplayError::Replayed)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evicted_keys_are_fenced_like_state_loss() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    for i in 0..200 {
        assert_eq!(submit(&store, "s", &format!("e-{i}")).await, Ok(()));
    }
    // An operator squeezes memory with an evicting policy behind the store's back: keys go.
    let used: u64 = srv
        .cli(&["INFO", "memory"])
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-random"])
        .unwrap();
    srv.cli(&["CONFIG", "SET", "maxmemory", &(used - 20_000).to_string()])
        .unwrap();
    srv.cli(&["SET", "filler", "x"]).unwrap();
    srv.cli(&["CONFIG", "SET", "maxmemory", "0"]).unwrap();
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    let evicted: u64 = srv
        .cli(&["INFO", "stats"])
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(evicted > 0);
    assert!(
        eventually(Duration::from_secs(5), || {
            let s = store.clone();
            async move { s.health().fenced_tags == 1024 }
        })
        .await,
        "{:?}",
        store.health()
    );
    for i in 0..200 {
        assert_ne!(submit(&store, "s", &format!("e-{i}")).await, Ok(()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_identity_polls_on_demand_without_a_monitor() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts().with_monitor_interval(None)).await;
    assert_eq!(submit(&store, "s", "a").await, Ok(()));
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"])
        .unwrap();
    // No monitor: nothing notices until the host asks.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(submit(&store, "s", "b").await, Ok(()));
    store.check_identity().await;
    assert_eq!(
        submit(&store, "s", "c").await,
        Err(ReplayError::Unavailable)
    );
}
