//! The Redis store against a real standalone `redis-server`: the conformance kit, start-up
//! checks, key layout and memory per entry.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use core::time::Duration;

use common::{opts, server, submit};
use keybound_redis::conformance::{Kit, SystemClock};
use keybound_redis::{RedisOptions, RedisReplayStore, RedisStoreError, ReplayError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_kit_passes_on_standalone() {
    let srv = server(&[]);
    let store = common::ready(&srv.url(), opts()).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock);
    assert_eq!(kit.double_submit().await, Ok(()));
    assert_eq!(kit.concurrent_submit(32).await, Ok(()));
    assert_eq!(kit.expiry_boundary(1).await, Ok(()));
    assert!(store.health().is_ready());
}
