//! Shared set-up for the tests against real `redis-server` processes.
#![allow(dead_code, reason = "each test file uses part of it")]

use core::time::Duration;

use keybound_redis::conformance::servers::{RedisServer, require_redis};
use keybound_redis::{AsyncReplayStore, RedisOptions, ReplayError, ReplayKey};

/// Options with a short window (the fault tests wait through it) and a generous call
/// timeout (debug builds on a loaded two-core CI machine).
pub(crate) fn opts() -> RedisOptions {
    RedisOptions::new()
        .with_window(Duration::from_secs(2))
        .with_timeout(Duration::from_millis(300))
        .with_connect_timeout(Duration::from_secs(2))
        .with_monitor_interval(Some(Duration::from_millis(200)))
}

/// A standalone server, or a failure saying how to install Redis.
pub(crate) fn server(extra: &[&str]) -> RedisServer {
    if let Err(e) = require_redis() {
        panic!("{e}");
    }
    match RedisServer::start_with(extra) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    }
}

/// Unix milliseconds now (for failure messages).
pub(crate) fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// Unix seconds now.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One check-and-insert of `jti` in `scope`, kept 2 s (one test window).
pub(crate) async fn submit<S: AsyncReplayStore>(
    store: &S,
    scope: &str,
    jti: &str,
) -> Result<(), ReplayError> {
    let now = now();
    let key = ReplayKey::new(scope.as_bytes(), jti);
    store.check_and_insert_async(key, now + 2, now).await
}

/// Polls `f` every 50 ms until it returns true or `limit` passes.
pub(crate) async fn eventually<F, Fut>(limit: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: core::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    loop {
        if f().await {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Connects and waits until the store is ready: a server started less than one window ago
/// fences every tag until its start + window (it may have lost `jti`s at that start).
pub(crate) async fn ready(url: &str, options: RedisOptions) -> keybound_redis::RedisReplayStore {
    let store = match keybound_redis::RedisReplayStore::connect(url, options).await {
        Ok(s) => s,
        Err(e) => panic!("connect {url}: {e}"),
    };
    let s = store.clone();
    assert!(
        eventually(Duration::from_secs(10), || {
            let s = s.clone();
            async move { s.health().is_ready() }
        })
        .await,
        "store never became ready: {:?}",
        store.health()
    );
    store
}

/// Like [`submit`], with the entry kept `secs` (match it to the store's window).
pub(crate) async fn submit_for<S: AsyncReplayStore>(
    store: &S,
    scope: &str,
    jti: &str,
    secs: u64,
) -> Result<(), ReplayError> {
    let now = now();
    let key = ReplayKey::new(scope.as_bytes(), jti);
    store.check_and_insert_async(key, now + secs, now).await
}

/// Samples `store.health().fenced_tags` every 10 ms in the background; the largest count
/// seen (so a fence that comes and goes between two slow calls of a test is not missed).
pub(crate) fn watch_fences(
    store: &keybound_redis::RedisReplayStore,
) -> (
    std::sync::Arc<core::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let max = std::sync::Arc::new(core::sync::atomic::AtomicUsize::new(0));
    let (s, m) = (store.clone(), max.clone());
    let handle = tokio::spawn(async move {
        loop {
            m.fetch_max(s.health().fenced_tags, core::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    (max, handle)
}
