//! [`BlockingRedisReplayStore`]: the same store for blocking (non-async) servers.

use core::fmt;
use core::time::Duration;

use keybound_dpop::replay::{AsyncReplayStore, ReplayError, ReplayKey, ReplayStore};

use crate::{RedisOptions, RedisReplayStore, RedisStoreError};

/// A [`RedisReplayStore`] behind the blocking [`ReplayStore`] trait (RFC 9449 §11.1), for
/// servers without an async runtime. It runs its own one-thread tokio runtime; each call
/// hands the request to it and waits for the answer (at most the call timeout, plus a
/// little), so it may be called from any thread.
///
/// Like every `ReplayStore + Sync`, it is also an `AsyncReplayStore`, but one that blocks the
/// calling thread: async servers should use [`RedisReplayStore`] itself.
pub struct BlockingRedisReplayStore {
    store: RedisReplayStore,
    runtime: Option<tokio::runtime::Runtime>,
    wait: Duration,
}

impl fmt::Debug for BlockingRedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingRedisReplayStore")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl BlockingRedisReplayStore {
    /// Connects like [`RedisReplayStore::connect`], on a runtime of its own.
    pub fn connect(url: &str, options: RedisOptions) -> Result<Self, RedisStoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("keybound-redis")
            .enable_all()
            .build()
            .map_err(|e| RedisStoreError::Setup {
                step: "tokio runtime",
                detail: e.to_string(),
            })?;
        let wait = options
            .timeout
            .saturating_mul(2)
            .saturating_add(Duration::from_millis(100));
        let connect_wait = options
            .connect_timeout
            .saturating_mul(4)
            .saturating_add(Duration::from_secs(1));
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let url = url.to_owned();
        runtime.spawn(async move {
            let _ = tx.send(RedisReplayStore::connect(&url, options).await);
        });
        let store = rx
            .recv_timeout(connect_wait)
            .map_err(|_| RedisStoreError::Setup {
                step: "connect",
                detail: "timed out".to_owned(),
            })??;
        Ok(Self {
            store,
            runtime: Some(runtime),
            wait,
        })
    }

    /// The async store underneath (for [`RedisReplayStore::health`]).
    pub fn store(&self) -> &RedisReplayStore {
        &self.store
    }
}

impl ReplayStore for BlockingRedisReplayStore {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        let Some(runtime) = &self.runtime else {
            return Err(ReplayError::Unavailable);
        };
        let scope = key.scope.to_vec();
        let jti = key.jti.to_owned();
        let owner = key.owner.map(<[u8]>::to_vec);
        let store = self.store.clone();
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let mut key = ReplayKey::new(&scope, &jti);
            if let Some(owner) = &owner {
                key = key.with_owner(owner);
            }
            let _ = tx.send(store.check_and_insert_async(key, expires_at, now).await);
        });
        rx.recv_timeout(self.wait)
            .unwrap_or(Err(ReplayError::Unavailable))
    }
}

impl Drop for BlockingRedisReplayStore {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            // Never blocks, so dropping inside an async context is fine.
            rt.shutdown_background();
        }
    }
}
