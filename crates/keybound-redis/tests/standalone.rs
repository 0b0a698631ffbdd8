//! The Redis store against a real standalone `redis-server`: the conformance kit, start-up
//! checks, key layout and memory per entry, the blocking form.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use core::time::Duration;

use common::{now, opts, ready, server, submit};
use keybound_redis::conformance::servers::free_port;
use keybound_redis::conformance::{Kit, SystemClock};
use keybound_redis::{
    BlockingRedisReplayStore, RedisOptions, RedisReplayStore, RedisStoreError, ReplayError,
    ReplayKey, ReplayStore,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_kit_passes_on_standalone() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock);
    assert_eq!(kit.double_submit().await, Ok(()));
    assert_eq!(kit.concurrent_submit(32).await, Ok(()));
    assert_eq!(kit.expiry_boundary(1).await, Ok(()));
    assert!(store.health().is_ready());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_noeviction_server_answers_full_and_evicts_nothing() {
    // A few MB above an empty server: some ten thousand entries, then OOM.
    let srv = server(&["--maxmemory", "3mb", "--maxmemory-policy", "noeviction"]);
    let store = ready(&srv.url(), opts()).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock);
    let accepted = kit.capacity(200_000).await.unwrap();
    assert!(accepted > 1000, "only {accepted} entries fit in 3 MB");
    assert_eq!(submit(&store, "other", "new").await, Err(ReplayError::Full));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_every_evicting_maxmemory_policy() {
    let srv = server(&[]);
    for policy in [
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        srv.cli(&["CONFIG", "SET", "maxmemory-policy", policy])
            .unwrap();
        let err = RedisReplayStore::connect(&srv.url(), opts())
            .await
            .unwrap_err();
        assert_eq!(
            err,
            RedisStoreError::EvictingPolicy {
                node: format!("127.0.0.1:{}", srv.port()),
                policy: policy.to_owned()
            }
        );
        assert!(err.to_string().contains("noeviction"), "{err}");
    }
    srv.cli(&["CONFIG", "SET", "maxmemory-policy", "noeviction"])
        .unwrap();
    RedisReplayStore::connect(&srv.url(), opts()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_unreadable_policy_unless_trusted() {
    let srv = server(&["--rename-command", "CONFIG", ""]);
    let err = RedisReplayStore::connect(&srv.url(), opts())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RedisStoreError::PolicyUnreadable { node, .. } if *node == format!("127.0.0.1:{}", srv.port())),
        "{err:?}"
    );
    let store = ready(&srv.url(), opts().with_trust_eviction_policy(true)).await;
    assert_eq!(submit(&store, "s", "j").await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_a_replica_url() {
    let master = server(&[]);
    let port = master.port().to_string();
    let replica = server(&["--replicaof", "127.0.0.1", &port]);
    let err = RedisReplayStore::connect(&replica.url(), opts())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        RedisStoreError::NotPrimary {
            node: format!("127.0.0.1:{}", replica.port()),
            role: "slave".to_owned()
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_an_unreachable_server() {
    let port = free_port().unwrap();
    let err = RedisReplayStore::connect(
        &format!("redis://127.0.0.1:{port}"),
        opts().with_connect_timeout(Duration::from_millis(500)),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, RedisStoreError::Unreachable { target, .. } if *target == format!("redis://127.0.0.1:{port}")),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejects_invalid_options_and_urls() {
    for o in [
        RedisOptions::new().with_prefix("a{b"),
        RedisOptions::new().with_prefix("x".repeat(65)),
        RedisOptions::new().with_timeout(Duration::ZERO),
        RedisOptions::new().with_window(Duration::ZERO),
        RedisOptions::new().with_max_in_flight(0),
        RedisOptions::new()
            .with_wait_replicas(1)
            .with_wait_timeout(Duration::from_millis(200)),
        RedisOptions::new().with_monitor_interval(Some(Duration::ZERO)),
    ] {
        assert!(
            matches!(
                RedisReplayStore::connect("redis://127.0.0.1:1", o.clone()).await,
                Err(RedisStoreError::InvalidOptions { .. })
            ),
            "{o:?}"
        );
    }
    assert!(matches!(
        RedisReplayStore::connect("memcached://h", opts()).await,
        Err(RedisStoreError::InvalidUrl { .. })
    ));
}

/// `MEMORY USAGE` of every `jti` entry the store wrote (found by key length under the prefix).
async fn entry_sizes(url: &str, prefix: &str) -> Vec<(Vec<u8>, i64)> {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut c)
        .await
        .unwrap();
    let mut out = Vec::new();
    for k in keys
        .into_iter()
        .filter(|k| k.len() == prefix.len() + 5 + 16)
    {
        let bytes: i64 = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(&k)
            .query_async(&mut c)
            .await
            .unwrap();
        out.push((k, bytes));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_uses_at_most_100_bytes_and_keys_have_a_fixed_shape() {
    let srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    let long_jti = "j".repeat(4096);
    for i in 0..50 {
        let jti = format!("{long_jti}-{i}");
        assert_eq!(submit(&store, "https://rs.example/api", &jti).await, Ok(()));
    }
    let sizes = entry_sizes(&srv.url(), "kbr:").await;
    assert_eq!(sizes.len(), 50);
    for (key, bytes) in &sizes {
        assert!(*bytes <= 100, "MEMORY USAGE {bytes} > 100");
        assert!(key.starts_with(b"kbr:{"));
        assert_eq!(key[8], b'}');
    }
    // The value is the call's token, a decimal i64 (Redis keeps it as an integer).
    let client = redis::Client::open(srv.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let v: String = redis::cmd("GET")
        .arg(&sizes[0].0)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(v.parse::<i64>().is_ok(), "{v}");
    let enc: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg(&sizes[0].0)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(enc, "int");
    // PX from `expires_at - now + 1` s: at most 3 s here (2 s window + the current second).
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&sizes[0].0)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!((1..=3000).contains(&ttl), "{ttl}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resent_script_recognises_its_own_token() {
    // What a driver retry after a lost reply does: the same EVALSHA (same token) again.
    let srv = server(&[]);
    let store = ready(&srv.url(), opts()).await;
    assert_eq!(submit(&store, "s", "first").await, Ok(()));
    let client = redis::Client::open(srv.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("kbr:*")
        .query_async(&mut c)
        .await
        .unwrap();
    let jti_key = keys.iter().find(|k| k.len() == 4 + 5 + 16).unwrap().clone();
    let epoch_key = [&jti_key[..9], b"e"].concat();
    let epoch: Vec<u8> = redis::cmd("GET")
        .arg(&epoch_key)
        .query_async(&mut c)
        .await
        .unwrap();
    let token: String = redis::cmd("GET")
        .arg(&jti_key)
        .query_async(&mut c)
        .await
        .unwrap();
    let run = |token: String| {
        let mut c = c.clone();
        let (jti_key, epoch_key, epoch) = (jti_key.clone(), epoch_key.clone(), epoch.clone());
        async move {
            let script = redis::Script::new(SCRIPT_TEXT);
            let v: redis::Value = script
                .key(&jti_key)
                .key(&epoch_key)
                .arg(&epoch)
                .arg(token)
                .arg(5000)
                .invoke_async(&mut c)
                .await
                .unwrap();
            v
        }
    };
    assert_eq!(run(token.clone()).await, redis::Value::Int(1));
    assert_eq!(run("12345".to_owned()).await, redis::Value::Int(0));
    // A wrong epoch writes nothing and answers the stored one.
    let mut c2 = c.clone();
    let v: redis::Value = redis::Script::new(SCRIPT_TEXT)
        .key(b"kbr:{000}x-new")
        .key(&epoch_key)
        .arg("other-epoch")
        .arg(1)
        .arg(5000)
        .invoke_async(&mut c2)
        .await
        .unwrap();
    assert_eq!(v, redis::Value::BulkString(epoch.clone()));
    let exists: i64 = redis::cmd("EXISTS")
        .arg("kbr:{000}x-new")
        .query_async(&mut c2)
        .await
        .unwrap();
    assert_eq!(exists, 0);
}

/// The store's script, as documented in the crate README (kept in sync by this test: the
/// store must answer the same as this text).
const SCRIPT_TEXT: &str = "\
local e = redis.call('GET', KEYS[2])
if e ~= ARGV[1] then
  if e then return e end
  return -1
end
if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[2] then return 1 end
return 0
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefixes_keep_stores_apart() {
    let srv = server(&[]);
    let a = ready(&srv.url(), opts().with_prefix("a:")).await;
    let b = ready(&srv.url(), opts().with_prefix("b:")).await;
    assert_eq!(submit(&a, "s", "j").await, Ok(()));
    assert_eq!(submit(&b, "s", "j").await, Ok(()));
    assert_eq!(submit(&a, "s", "j").await, Err(ReplayError::Replayed));
}

#[test]
fn blocking_store_implements_the_sync_trait() {
    let srv = server(&[]);
    let store = BlockingRedisReplayStore::connect(&srv.url(), opts()).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !store.store().health().is_ready() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(50));
    }
    let now = now();
    let key = ReplayKey::new(b"blocking", "j1");
    assert_eq!(store.check_and_insert(key, now + 2, now), Ok(()));
    assert_eq!(
        store.check_and_insert(key, now + 2, now),
        Err(ReplayError::Replayed)
    );
    assert_eq!(
        store.check_and_insert(key, now - 1, now),
        Err(ReplayError::AlreadyExpired)
    );
    // Usable from several threads at once.
    let store = std::sync::Arc::new(store);
    let oks: usize = (0..4)
        .map(|_| {
            let s = store.clone();
            std::thread::spawn(move || {
                let key = ReplayKey::new(b"blocking", "shared");
                usize::from(s.check_and_insert(key, now + 2, now).is_ok())
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .sum();
    assert_eq!(oks, 1);
}
