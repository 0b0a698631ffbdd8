//! The Redis replay store (RFC 9449 §11.1) against `redis-benchmark -t set`, side by side in
//! one run on one throwaway `redis-server`:
//!
//! - check-and-insert throughput and p50/p99 latency at 1, 8 and 64 concurrent tasks
//!   (`keybound-redis`: one `EVALSHA` per proof over one multiplexed connection);
//! - the same load as a bare `SET key token NX PX ttl` from the same client, to separate the
//!   script's cost from the client's;
//! - `redis-benchmark -t set` at the same concurrency (one connection per client);
//! - with `KB_REDIS_BENCH_PIPELINE=1`, a design the store does not use: `SET … NX PX … GET`
//!   and `GET epoch` pipelined without a script (what the script's atomicity costs);
//! - bytes per entry: `MEMORY USAGE` of entries, and the growth of `used_memory` per entry
//!   (which also counts the expires table).
//!
//! Run: `cargo bench -p keybound-benches --bench redis_replay` (needs `redis-server` and
//! `redis-benchmark`: `apt-get install redis-server redis-tools`). `KB_REDIS_BENCH_N` sets
//! the requests per row (default 100 000). Not a criterion bench: the comparison is between
//! rows of the same run.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "benchmark harness, fixed inputs"
)]

use core::time::Duration;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use keybound_redis::conformance::servers::RedisServer;
use keybound_redis::{AsyncReplayStore, RedisOptions, RedisReplayStore, ReplayKey};

const CONCURRENCY: [usize; 3] = [1, 8, 64];
const SCOPE: &[u8] = b"https://server.example.com/resource";

struct Row {
    name: String,
    concurrency: usize,
    ops_per_s: f64,
    p50_us: f64,
    p99_us: f64,
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

/// Runs `total` calls of `op(i)` spread over `tasks` tasks; throughput and latencies.
async fn drive<F, Fut>(name: &str, tasks: usize, total: usize, op: F) -> Row
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: core::future::Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let per = total / tasks;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for i in 0..per {
                    let t0 = Instant::now();
                    assert!(op(t * per + i).await, "call failed");
                    lat.push(t0.elapsed());
                }
                lat
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(total);
    for h in handles {
        lat.extend(h.await.unwrap());
    }
    let elapsed = started.elapsed();
    lat.sort_unstable();
    Row {
        name: name.to_owned(),
        concurrency: tasks,
        ops_per_s: lat.len() as f64 / elapsed.as_secs_f64(),
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
    }
}

/// `redis-benchmark -t set -c C -n N -r …` with its CSV latency columns.
fn redis_benchmark(port: u16, clients: usize, n: usize) -> Row {
    let out = Command::new("redis-benchmark")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-t",
            "set",
            "-q",
            "--csv",
        ])
        .args(["-c", &clients.to_string(), "-n", &n.to_string()])
        .args(["-r", "100000000"])
        .output()
        .expect("redis-benchmark (apt-get install redis-tools)");
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms",
    // "p99_latency_ms","max_latency_ms"
    let line = text
        .lines()
        .find(|l| l.starts_with("\"SET\""))
        .unwrap_or_else(|| panic!("unexpected redis-benchmark output: {text}"));
    let f: Vec<f64> = line
        .split(',')
        .skip(1)
        .map(|c| c.trim_matches('"').parse().unwrap())
        .collect();
    Row {
        name: "redis-benchmark -t set".to_owned(),
        concurrency: clients,
        ops_per_s: f[0],
        p50_us: f[3] * 1000.0,
        p99_us: f[5] * 1000.0,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n: usize = std::env::var("KB_REDIS_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let srv = RedisServer::start().unwrap_or_else(|e| panic!("{e}"));
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("machine load average before: {}", load.trim());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let opts = RedisOptions::new()
            .with_window(Duration::from_secs(1))
            .with_timeout(Duration::from_secs(2))
            .with_monitor_interval(None);
        let store = RedisReplayStore::connect(&srv.url(), opts).await.unwrap();
        // A server started less than one window ago is fenced until then.
        while !store.health().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let client = redis::Client::open(srv.url()).unwrap();
        let raw = client
            .get_multiplexed_async_connection_with_config(
                &redis::AsyncConnectionConfig::new().set_response_timeout(None),
            )
            .await
            .unwrap();
        println!("\n## keybound-redis vs redis-benchmark ({n} requests per row)\n");
        println!("| client | tasks/clients | ops/s | p50 µs | p99 µs | ops/s vs redis-benchmark |");
        println!("|---|---:|---:|---:|---:|---:|");

        let mut rows = Vec::new();
        for (round, &c) in CONCURRENCY.iter().enumerate() {
            let s = store.clone();
            let now = 1_900_000_000u64;
            rows.push(
                drive("keybound-redis check-and-insert", c, n, move |i| {
                    let s = s.clone();
                    async move {
                        let jti = format!("r{round}-{i:016x}");
                        let key = ReplayKey::new(SCOPE, &jti);
                        s.check_and_insert_async(key, now + 310, now).await.is_ok()
                    }
                })
                .await,
            );
            let conn = raw.clone();
            rows.push(
                drive("redis-rs SET NX PX (same client, no script)", c, n, move |i| {
                    let mut conn = conn.clone();
                    async move {
                        let key = format!("raw:{round}:{i:016x}");
                        let v: redis::Value = redis::cmd("SET")
                            .arg(key)
                            .arg(i as i64)
                            .arg("NX")
                            .arg("PX")
                            .arg(311_000)
                            .query_async(&mut conn)
                            .await
                            .unwrap();
                        v == redis::Value::Okay
                    }
                })
                .await,
            );
            if std::env::var_os("KB_REDIS_BENCH_PIPELINE").is_some() {
                let conn = raw.clone();
                let r = drive("pipeline SET NX PX GET + GET epoch (no script)", c, n, move |i| {
                    let mut conn = conn.clone();
                    async move {
                        let key = format!("pipe:{{{:03x}}}:{round}:{i:016x}", i % 1024);
                        let epoch = format!("pipe:{{{:03x}}}e", i % 1024);
                        let mut p = redis::pipe();
                        p.cmd("SET")
                            .arg(key)
                            .arg(i as i64)
                            .arg("NX")
                            .arg("PX")
                            .arg(311_000)
                            .arg("GET")
                            .cmd("GET")
                            .arg(epoch);
                        let v: (Option<i64>, Option<Vec<u8>>) =
                            p.query_async(&mut conn).await.unwrap();
                        v.0.is_none()
                    }
                })
                .await;
                println!(
                    "| {} | {} | {:.0} | {:.0} | {:.0} | |",
                    r.name, r.concurrency, r.ops_per_s, r.p50_us, r.p99_us
                );
            }
            rows.push(redis_benchmark(srv.port(), c, n));
            let chunk = &rows[rows.len() - 3..];
            let base = chunk[2].ops_per_s;
            for r in chunk {
                println!(
                    "| {} | {} | {:.0} | {:.0} | {:.0} | {:.2}× |",
                    r.name,
                    r.concurrency,
                    r.ops_per_s,
                    r.p50_us,
                    r.p99_us,
                    r.ops_per_s / base
                );
            }
        }

        // Bytes per entry.
        let mut conn = raw.clone();
        // Synchronous, so `used_memory` below no longer counts the flushed keys.
        let _: () = redis::cmd("FLUSHALL")
            .arg("SYNC")
            .query_async(&mut conn)
            .await
            .unwrap();
        let store = RedisReplayStore::connect(
            &srv.url(),
            RedisOptions::new()
                .with_window(Duration::from_secs(1))
                .with_monitor_interval(None),
        )
        .await
        .unwrap();
        let used = |info: String| -> i64 {
            info.lines()
                .find_map(|l| l.strip_prefix("used_memory:"))
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        // The store's own epoch keys are in `before`; only entries are counted.
        while !store.health().is_ready() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let before = used(
            redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .unwrap(),
        );
        let entries = 100_000usize;
        let now = 1_900_000_000u64;
        let s = Arc::new(store);
        let mut set = tokio::task::JoinSet::new();
        for t in 0..8 {
            let s = s.clone();
            set.spawn(async move {
                for i in (t..entries).step_by(8) {
                    let jti = format!("m-{i:016x}");
                    let key = ReplayKey::new(SCOPE, &jti);
                    while s.check_and_insert_async(key, now + 310, now).await.is_err() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            });
        }
        while set.join_next().await.is_some() {}
        let after = used(
            redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .unwrap(),
        );
        let keys: Vec<Vec<u8>> = redis::cmd("SCAN")
            .arg(0)
            .arg("MATCH")
            .arg("kbr:*")
            .arg("COUNT")
            .arg(5000)
            .query_async::<(u64, Vec<Vec<u8>>)>(&mut conn)
            .await
            .unwrap()
            .1;
        let mut usage = Vec::new();
        for k in keys.iter().filter(|k| k.len() == 4 + 5 + 16).take(200) {
            let b: i64 = redis::cmd("MEMORY")
                .arg("USAGE")
                .arg(k)
                .query_async(&mut conn)
                .await
                .unwrap();
            usage.push(b);
        }
        usage.sort_unstable();

        println!(
            "\nbytes per entry: MEMORY USAGE median {} (min {}, max {}) over {} entries; \
             used_memory grew {:.1} bytes per entry over {entries} entries (incl. the expires table)",
            usage[usage.len() / 2],
            usage[0],
            usage[usage.len() - 1],
            usage.len(),
            (after - before) as f64 / entries as f64
        );
        drop(srv);
    });
}
