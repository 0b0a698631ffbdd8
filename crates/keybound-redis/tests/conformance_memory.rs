//! The conformance kit against the in-process `MemoryReplayStore`: the same checks the Redis
//! store passes (it cannot be made unavailable from outside, so that check is not run).
#![allow(clippy::unwrap_used, reason = "tests")]

use keybound_dpop::replay::MemoryReplayStore;
use keybound_redis::conformance::{Kit, ManualClock};

#[tokio::test]
async fn conformance_kit_passes_on_the_memory_store() {
    let store = MemoryReplayStore::new(1000);
    let clock = ManualClock::new(1_700_000_000);
    let kit = Kit::new(&store, &clock);
    assert_eq!(kit.double_submit().await, Ok(()));
    assert_eq!(kit.concurrent_submit(64).await, Ok(()));
    // The memory store forgets exactly after `expires_at`: no slack.
    assert_eq!(kit.expiry_boundary(0).await, Ok(()));
}

#[tokio::test]
async fn memory_store_fills_up_without_evicting() {
    let store = MemoryReplayStore::new(1000);
    let clock = ManualClock::new(1_700_000_000);
    let kit = Kit::new(&store, &clock);
    let accepted = kit.capacity(5000).await.unwrap();
    assert_eq!(accepted, store.capacity());
}
