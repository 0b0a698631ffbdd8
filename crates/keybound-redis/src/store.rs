//! [`RedisReplayStore`]: the async store, its start-up checks, state-loss handling and
//! background tasks (reconnection, identity monitor).

use core::fmt;
use core::future::Future;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use futures_util::stream::{self, StreamExt};
use keybound_dpop::replay::{AsyncReplayStore, ReplayError, ReplayKey};
use tokio::time::Instant;

use crate::backend::{Backend, Failure, NodeInfo, Reply, key_slot};
use crate::epoch::{TagState, Tags, all_tags, fence_of, new_epoch};
use crate::error::RedisStoreError;
use crate::key::{KeyLayout, TAGS};
use crate::options::RedisOptions;
use crate::rng::Tokens;
use crate::target::Target;

/// Consecutive timeouts after which a standalone connection is replaced.
const TIMEOUTS_BEFORE_RECONNECT: u32 = 3;
/// Epoch keys written at once.
const EPOCH_CONCURRENCY: usize = 64;

/// Unix time in milliseconds from the system clock (0 if the clock is before 1970).
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// How long a fence lasts: the window plus one second, since an entry lives through the
/// whole second `expires_at` (`now + window` at most), i.e. up to `window + 1 s` after the
/// second it was written in.
fn fence_ms(opts: &RedisOptions) -> u64 {
    ms(opts.window).saturating_add(1000)
}

/// A DPoP replay store (RFC 9449 §11.1) shared by every instance of a fleet through one
/// Redis or Valkey deployment (standalone, Sentinel or Cluster).
///
/// One atomic round trip per proof; every answer it cannot give with certainty is an error
/// (fail closed); after a detected state loss it fails closed for one acceptance window. See
/// the crate documentation for the design and what each deployment guarantees.
///
/// Cloning is cheap and shares the connection; background tasks stop when the last clone is
/// dropped.
#[derive(Clone)]
pub struct RedisReplayStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("target", &self.inner.target.redacted())
            .field("prefix", &self.inner.opts.prefix)
            .finish_non_exhaustive()
    }
}

/// A snapshot of a store's state for health checks (`/healthz`), without I/O.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// The last request reached the server (standalone and Sentinel: a connection is open).
    pub connected: bool,
    /// Hash tags (of [`Health::tags`]) on which the store fails closed after a state loss.
    pub fenced_tags: usize,
    /// Hash tags the keys are spread over.
    pub tags: usize,
    /// When the last fence ends (Unix milliseconds), if any tag is fenced.
    pub fenced_until_unix_ms: Option<u64>,
}

impl Health {
    /// Whether proofs can be accepted now: connected and no tag fenced.
    pub fn is_ready(&self) -> bool {
        self.connected && self.fenced_tags == 0
    }
}

struct Inner {
    target: Target,
    opts: RedisOptions,
    backend: Backend,
    layout: KeyLayout,
    sha: String,
    tags: Tags,
    tokens: Tokens,
    permits: tokio::sync::Semaphore,
    runtime: tokio::runtime::Handle,
    /// Last identity seen per master node.
    baseline: Mutex<HashMap<String, NodeInfo>>,
    last_ok_ms: AtomicU64,
    last_failure_ms: AtomicU64,
    gate: LogGate,
    monitor: Mutex<Option<tokio::task::AbortHandle>>,
    /// False while the monitor sees an evicting `maxmemory-policy` on some node.
    policy_ok: core::sync::atomic::AtomicBool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(h) = self.monitor.lock().ok().and_then(|mut m| m.take()) {
            h.abort();
        }
    }
}

/// At most one warning per second for a stream of like failures (an outage must not flood
/// the log); the number suppressed is reported with the next one.
struct LogGate {
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl LogGate {
    fn allow(&self) -> Option<u64> {
        let now = now_ms();
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now.saturating_add(1000),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            Some(self.suppressed.swap(0, Ordering::Relaxed))
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

impl RedisReplayStore {
    /// Connects to `url` and checks the deployment before accepting any proof
    /// (RFC 9449 §11.1 replay state for a fleet).
    ///
    /// URL forms: `redis://[user:pass@]host:port[/db]` (also `rediss://`, `valkey://`,
    /// `unix://`), `redis+sentinel://[user:pass@]s1:port,s2:port/MASTER[/db]` (credentials
    /// are the master's), `redis+cluster://[user:pass@]h1:port,h2:port,…`.
    ///
    /// Start-up refuses: a server that cannot be reached, a replica, a Cluster whose state
    /// is not `ok`, any node whose `maxmemory-policy` is not `noeviction` (or cannot be read,
    /// unless trusted). It then loads the script, reads or creates every epoch key, and
    /// starts the identity monitor. Must run inside a tokio runtime, which the store's
    /// background tasks then use.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<Self, RedisStoreError> {
        options.validate()?;
        let target = Target::parse(url)?;
        #[cfg(feature = "tls")]
        {
            // The driver builds its TLS configuration from the process-wide provider; make it
            // ring (keybound's choice) unless the host installed one already.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| RedisStoreError::Setup {
                step: "tokio runtime",
                detail: e.to_string(),
            })?;
        let backend = Backend::connect(&target, &options).await?;
        let setup = |step: &'static str| {
            move |e: redis::RedisError| RedisStoreError::Setup {
                step,
                detail: e.to_string(),
            }
        };
        let within = |step: &'static str| {
            move |_| RedisStoreError::Setup {
                step,
                detail: "timed out".to_owned(),
            }
        };
        let limit = options.connect_timeout;

        if backend.is_cluster() {
            let states = tokio::time::timeout(limit, backend.cluster_states())
                .await
                .map_err(within("CLUSTER INFO"))?
                .map_err(setup("CLUSTER INFO"))?;
            if let Some((node, state)) = states.iter().find(|(_, s)| s != "ok") {
                return Err(RedisStoreError::ClusterNotOk {
                    state: format!("{node}: {state}"),
                });
            }
        }
        let infos = tokio::time::timeout(limit, backend.node_infos())
            .await
            .map_err(within("INFO"))?
            .map_err(setup("INFO"))?;
        if infos.is_empty() {
            return Err(RedisStoreError::Setup {
                step: "INFO",
                detail: "no master answered INFO (command renamed?)".to_owned(),
            });
        }
        if let Some(i) = infos.iter().find(|i| i.role != "master") {
            return Err(RedisStoreError::NotPrimary {
                node: i.node.clone(),
                role: i.role.clone(),
            });
        }
        let policies = tokio::time::timeout(limit, backend.eviction_policies())
            .await
            .map_err(within("CONFIG GET maxmemory-policy"))?
            .map_err(setup("CONFIG GET maxmemory-policy"))?;
        check_policies(&policies, options.trust_eviction_policy)?;
        tokio::time::timeout(limit, backend.load_script())
            .await
            .map_err(within("SCRIPT LOAD"))?
            .map_err(setup("SCRIPT LOAD"))?;

        let layout = KeyLayout::new(&options.prefix);
        let window_ms = fence_ms(&options);
        let now = now_ms();
        // A missing epoch means a fresh deployment or a server that lost its data; entries
        // it lost were written before its last start, so they are gone one window after it.
        let last_start = infos
            .iter()
            .map(|i| now.saturating_sub(i.uptime_s.saturating_mul(1000)))
            .max()
            .unwrap_or(now);
        let fence_if_missing = last_start.saturating_add(window_ms);
        let candidate = new_epoch(fence_if_missing);
        let read = stream::iter(0..TAGS)
            .map(|tag| {
                let key = layout.epoch_key(tag);
                let backend = &backend;
                let candidate = &candidate;
                async move { backend.get_or_create_epoch(&key, candidate).await }
            })
            .buffered(EPOCH_CONCURRENCY)
            .collect::<Vec<_>>();
        let values = tokio::time::timeout(limit, read)
            .await
            .map_err(within("epoch keys"))?;
        let mut states = Vec::with_capacity(TAGS);
        let mut created = 0usize;
        let mut fenced = 0usize;
        for v in values {
            let v = v.map_err(setup("epoch keys"))?;
            if v == *candidate {
                created += 1;
            }
            let fence_until_ms = fence_of(&v).unwrap_or(now.saturating_add(window_ms));
            if fence_until_ms > now {
                fenced += 1;
            }
            states.push(TagState {
                epoch: v.into(),
                fence_until_ms,
                established: true,
            });
        }
        tracing::info!(
            target = %target.redacted(),
            masters = infos.len(),
            epochs_created = created,
            tags_fenced = fenced,
            "replay store connected"
        );
        if fenced > 0 {
            tracing::warn!(
                tags = fenced,
                until_unix_ms = fence_if_missing,
                "replay store starts fenced: the server started less than one window ago or \
                 another instance detected state loss; failing closed until then"
            );
        }

        let sha = redis::Script::new(crate::backend::CHECK_SCRIPT)
            .get_hash()
            .to_owned();
        let baseline = infos.into_iter().map(|i| (i.node.clone(), i)).collect();
        let inner = Arc::new(Inner {
            permits: tokio::sync::Semaphore::new(options.max_in_flight),
            target,
            opts: options,
            backend,
            layout,
            sha,
            tags: Tags::new(states),
            tokens: Tokens::new(),
            runtime,
            baseline: Mutex::new(baseline),
            last_ok_ms: AtomicU64::new(now),
            last_failure_ms: AtomicU64::new(0),
            gate: LogGate {
                next_ms: AtomicU64::new(0),
                suppressed: AtomicU64::new(0),
            },
            monitor: Mutex::new(None),
            policy_ok: core::sync::atomic::AtomicBool::new(true),
        });
        if let Some(interval) = inner.opts.monitor_interval {
            let weak = Arc::downgrade(&inner);
            let handle = inner.runtime.spawn(monitor(weak, interval));
            if let Ok(mut m) = inner.monitor.lock() {
                *m = Some(handle.abort_handle());
            }
        }
        Ok(Self { inner })
    }

    /// The store's state for a health endpoint (no I/O).
    pub fn health(&self) -> Health {
        let now = now_ms();
        let (fenced_tags, until) = self.inner.tags.fenced(now);
        let connected = match &self.inner.backend {
            Backend::Single(s) => s.current().is_some(),
            Backend::Cluster(_) => true,
        } && self.inner.last_ok_ms.load(Ordering::Relaxed)
            >= self.inner.last_failure_ms.load(Ordering::Relaxed);
        Health {
            connected,
            fenced_tags,
            tags: self.inner.tags.len(),
            fenced_until_unix_ms: (fenced_tags > 0).then_some(until),
        }
    }

    /// The options the store runs with.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.opts
    }

    /// Polls the servers' identities now (what the monitor does every interval) and fences
    /// on a change; for tests and for hosts that run the monitor themselves.
    pub async fn check_identity(&self) {
        self.inner.poll().await;
    }
}

fn check_policies(
    policies: &[(String, Result<String, String>)],
    trust: bool,
) -> Result<(), RedisStoreError> {
    for (node, p) in policies {
        match p {
            Ok(p) if p.eq_ignore_ascii_case("noeviction") => {}
            Ok(p) => {
                return Err(RedisStoreError::EvictingPolicy {
                    node: node.clone(),
                    policy: p.clone(),
                });
            }
            Err(detail) if trust => {
                tracing::warn!(
                    %node, %detail,
                    "maxmemory-policy unreadable; trusting the operator that it is noeviction"
                );
            }
            Err(detail) => {
                return Err(RedisStoreError::PolicyUnreadable {
                    node: node.clone(),
                    detail: detail.clone(),
                });
            }
        }
    }
    Ok(())
}

impl AsyncReplayStore for RedisReplayStore {
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        let key = self.inner.layout.jti_key(&key);
        let inner = &self.inner;
        async move {
            if expires_at < now {
                return Err(ReplayError::AlreadyExpired);
            }
            // The entry lives through the whole second `expires_at` (the contract is
            // inclusive). A relative TTL is measured on the server's own clock, so a skew
            // between this host and Redis can neither shorten it nor expire it at once.
            let ttl_ms = (expires_at - now).saturating_add(1).saturating_mul(1000);
            let deadline = Instant::now() + inner.opts.timeout;
            inner.check(key.tag, &key.key, ttl_ms, deadline).await
        }
    }
}

impl Inner {
    async fn check(
        self: &Arc<Self>,
        tag: usize,
        key: &[u8],
        ttl_ms: u64,
        deadline: Instant,
    ) -> Result<(), ReplayError> {
        let _permit = self.permits.try_acquire().map_err(|_| {
            self.warn_unavailable("too many calls in flight");
            ReplayError::Unavailable
        })?;
        if !self.policy_ok.load(Ordering::Relaxed) {
            self.warn_unavailable("a node's maxmemory-policy can evict keys");
            return Err(ReplayError::Unavailable);
        }
        let epoch_key = self.layout.epoch_key(tag);
        for attempt in 0..2 {
            let mut state = self.tags.get(tag).ok_or(ReplayError::Unavailable)?;
            let now = now_ms();
            if state.fence_until_ms > now {
                self.warn_unavailable("fenced after state loss");
                return Err(ReplayError::Unavailable);
            }
            if !state.established {
                state = self.establish(tag, &epoch_key, state, deadline).await?;
            }
            let token = self.tokens.next();
            let wait = (self.opts.wait_replicas > 0)
                .then(|| (self.opts.wait_replicas, ms(self.opts.wait_timeout).max(1)));
            let sent = self.backend.check(
                &self.sha,
                [key, &epoch_key],
                &state.epoch,
                token,
                ttl_ms,
                wait,
            );
            let reply = match tokio::time::timeout_at(deadline, sent).await {
                Err(_) => {
                    self.on_timeout();
                    return Err(ReplayError::Unavailable);
                }
                Ok(Err((failure, generation))) => return Err(self.on_failure(failure, generation)),
                Ok(Ok(r)) => r,
            };
            self.last_ok_ms.store(now_ms(), Ordering::Relaxed);
            match &self.backend {
                Backend::Single(s) => s.timeouts.store(0, Ordering::Relaxed),
                Backend::Cluster(c) => c.timeouts.store(0, Ordering::Relaxed),
            }
            match reply {
                Reply::Inserted => return Ok(()),
                Reply::Replayed => return Err(ReplayError::Replayed),
                Reply::EpochMissing => {
                    self.epoch_missing(tag, &epoch_key, deadline).await;
                    return Err(ReplayError::Unavailable);
                }
                Reply::EpochChanged(v) => {
                    // The script compared before writing, so nothing was inserted: once the
                    // new epoch is adopted, one more try is safe.
                    if self.adopt(tag, v, "epoch changed") || attempt > 0 {
                        return Err(ReplayError::Unavailable);
                    }
                }
            }
        }
        Err(ReplayError::Unavailable)
    }

    /// Writes this instance's epoch for `tag` if none is stored, or adopts the stored one.
    async fn establish(
        &self,
        tag: usize,
        epoch_key: &[u8],
        state: TagState,
        deadline: Instant,
    ) -> Result<TagState, ReplayError> {
        let held = tokio::time::timeout_at(
            deadline,
            self.backend.get_or_create_epoch(epoch_key, &state.epoch),
        )
        .await
        .map_err(|_| ReplayError::Unavailable)?
        .map_err(|_| ReplayError::Unavailable)?;
        if held.as_slice() == &*state.epoch {
            self.tags.update(tag, |s| {
                if s.epoch == state.epoch {
                    s.established = true;
                }
            });
        } else if self.adopt(tag, held, "epoch changed") {
            return Err(ReplayError::Unavailable);
        }
        self.tags.get(tag).ok_or(ReplayError::Unavailable)
    }

    /// The server has no epoch for `tag`: it lost its data (restart without persistence,
    /// flush, failover to an empty replica). Fail closed for one window from now and store
    /// a new epoch that says so, for every other instance.
    async fn epoch_missing(&self, tag: usize, epoch_key: &[u8], deadline: Instant) {
        let fence = now_ms().saturating_add(fence_ms(&self.opts));
        let epoch = new_epoch(fence);
        tracing::warn!(
            tag,
            until_unix_ms = fence,
            "replay state lost (epoch key missing): failing closed for one window"
        );
        self.tags.update(tag, |s| {
            s.epoch = epoch.clone();
            s.fence_until_ms = s.fence_until_ms.max(fence);
            s.established = false;
        });
        let written = tokio::time::timeout_at(
            deadline + self.opts.timeout,
            self.backend.get_or_create_epoch(epoch_key, &epoch),
        )
        .await;
        match written {
            Ok(Ok(held)) if held.as_slice() == &*epoch => self.tags.update(tag, |s| {
                if s.epoch == epoch {
                    s.established = true;
                }
            }),
            Ok(Ok(held)) => {
                self.adopt(tag, held, "epoch re-created by another instance");
            }
            _ => {} // established later, once the fence has passed
        }
    }

    /// Takes `held` as `tag`'s epoch and its fence (kept if later than ours); true if the
    /// tag is fenced now.
    fn adopt(&self, tag: usize, held: Vec<u8>, why: &'static str) -> bool {
        let now = now_ms();
        let fence = fence_of(&held).unwrap_or_else(|| now.saturating_add(fence_ms(&self.opts)));
        let mut until = 0;
        self.tags.update(tag, |s| {
            s.epoch = held.into();
            s.fence_until_ms = s.fence_until_ms.max(fence);
            s.established = true;
            until = s.fence_until_ms;
        });
        if until > now {
            tracing::warn!(
                tag,
                until_unix_ms = until,
                reason = why,
                "replay state lost: failing closed until the new epoch's fence ends"
            );
            true
        } else {
            tracing::info!(
                tag,
                reason = why,
                "adopted a new epoch whose fence has passed"
            );
            false
        }
    }

    /// State loss on `tags` seen by this instance (identity change): fence them for one
    /// window and overwrite their epochs, so every other instance fences too.
    async fn fence_and_rewrite(&self, tags: Vec<usize>, reason: &str) {
        let fence = now_ms().saturating_add(fence_ms(&self.opts));
        tracing::warn!(
            tags = tags.len(),
            until_unix_ms = fence,
            %reason,
            "replay state may be lost: failing closed for one window"
        );
        let epoch = new_epoch(fence);
        for &t in &tags {
            self.tags.update(t, |s| {
                s.epoch = epoch.clone();
                s.fence_until_ms = s.fence_until_ms.max(fence);
                s.established = false;
            });
        }
        let results = stream::iter(tags)
            .map(|t| {
                let key = self.layout.epoch_key(t);
                let epoch = epoch.clone();
                async move {
                    let r = tokio::time::timeout(
                        self.opts.connect_timeout,
                        self.backend.set_epoch(&key, &epoch),
                    )
                    .await;
                    (t, matches!(r, Ok(Ok(()))))
                }
            })
            .buffer_unordered(EPOCH_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let mut failed = 0usize;
        for (t, ok) in results {
            if ok {
                self.tags.update(t, |s| {
                    if s.epoch == epoch {
                        s.established = true;
                    }
                });
            } else {
                failed += 1;
            }
        }
        if failed > 0 {
            tracing::warn!(
                tags = failed,
                "could not store the new epoch on every tag yet; retried when the fence ends"
            );
        }
    }

    fn on_timeout(self: &Arc<Self>) {
        self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
        self.warn_unavailable("timeout");
        match &self.backend {
            Backend::Single(s) => {
                let n = s.timeouts.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                if n >= TIMEOUTS_BEFORE_RECONNECT {
                    self.replace_connection();
                }
            }
            Backend::Cluster(c) => {
                let n = c.timeouts.fetch_add(1, Ordering::Relaxed).saturating_add(1);
                if n >= TIMEOUTS_BEFORE_RECONNECT {
                    self.spawn_cluster_rebuild();
                }
            }
        }
    }

    /// Replaces a Cluster connection that keeps timing out (at most once per connect
    /// timeout), then polls the masters' identities on the new one.
    fn spawn_cluster_rebuild(self: &Arc<Self>) {
        let Backend::Cluster(c) = &self.backend else {
            return;
        };
        let now = now_ms();
        let last = c.last_rebuild_ms.load(Ordering::Relaxed);
        if now < last.saturating_add(ms(self.opts.connect_timeout))
            || c.rebuilding.swap(true, Ordering::AcqRel)
        {
            return;
        }
        c.last_rebuild_ms.store(now, Ordering::Relaxed);
        let weak = Arc::downgrade(self);
        self.runtime.spawn(async move {
            let Some(inner) = weak.upgrade() else { return };
            let Backend::Cluster(c) = &inner.backend else {
                return;
            };
            match tokio::time::timeout(inner.opts.connect_timeout, c.open()).await {
                Ok(Ok(conn)) => {
                    c.install(conn);
                    tracing::info!("replaced a Cluster connection that stopped answering");
                    c.rebuilding.store(false, Ordering::Release);
                    let limit = inner.opts.connect_timeout;
                    let _ = tokio::time::timeout(limit, inner.poll()).await;
                }
                Ok(Err(e)) => {
                    tracing::debug!(detail = %e, "cluster reconnect failed");
                    c.rebuilding.store(false, Ordering::Release);
                }
                Err(_) => {
                    tracing::debug!("cluster reconnect timed out");
                    c.rebuilding.store(false, Ordering::Release);
                }
            }
        });
    }

    fn on_failure(self: &Arc<Self>, failure: Failure, generation: Option<u64>) -> ReplayError {
        self.last_failure_ms.store(now_ms(), Ordering::Relaxed);
        match failure {
            Failure::Oom => {
                self.warn_unavailable("server out of memory (OOM, noeviction)");
                ReplayError::Full
            }
            Failure::Connection(detail) => {
                self.warn_unavailable(&detail);
                if let Backend::Single(s) = &self.backend {
                    match generation {
                        Some(g) if s.invalidate(g) => self.spawn_reconnect(),
                        None if s.current().is_none() => self.spawn_reconnect(),
                        _ => {}
                    }
                }
                ReplayError::Unavailable
            }
            Failure::Timeout => {
                self.on_timeout();
                ReplayError::Unavailable
            }
            Failure::NoScript => {
                self.warn_unavailable("NOSCRIPT");
                ReplayError::Unavailable
            }
            Failure::Other(detail) => {
                self.warn_unavailable(&detail);
                ReplayError::Unavailable
            }
        }
    }

    fn warn_unavailable(&self, detail: &str) {
        if let Some(suppressed) = self.gate.allow() {
            tracing::warn!(
                target = %self.target.redacted(),
                %detail,
                suppressed,
                "replay store unavailable: rejecting (fail closed)"
            );
        }
    }

    /// Drops the standalone/Sentinel connection in use and starts replacing it.
    fn replace_connection(self: &Arc<Self>) {
        if let Backend::Single(s) = &self.backend
            && let Some(live) = s.current()
            && s.invalidate(live.generation)
        {
            self.spawn_reconnect();
        }
    }

    /// Starts replacing the standalone/Sentinel connection, unless already under way.
    fn spawn_reconnect(self: &Arc<Self>) {
        let Backend::Single(s) = &self.backend else {
            return;
        };
        if s.reconnecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak = Arc::downgrade(self);
        self.runtime.spawn(async move {
            let mut backoff = Duration::from_millis(20);
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let limit = inner.opts.connect_timeout;
                match tokio::time::timeout(limit, inner.reconnect_once()).await {
                    Ok(Ok(())) => {
                        if let Backend::Single(s) = &inner.backend {
                            s.reconnecting.store(false, Ordering::Release);
                        }
                        return;
                    }
                    Ok(Err(e)) => tracing::debug!(detail = %e, "reconnect failed"),
                    Err(_) => tracing::debug!("reconnect timed out"),
                }
                drop(inner);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        });
    }

    /// Opens a connection, checks who answers, fences on a changed identity, installs it.
    async fn reconnect_once(&self) -> Result<(), String> {
        let Backend::Single(s) = &self.backend else {
            return Ok(());
        };
        let live = s.open().await.map_err(|e| e.to_string())?;
        let (info, policy) = live.identify().await.map_err(|e| e.to_string())?;
        if info.role != "master" {
            return Err(format!("{} is a {}", info.node, info.role));
        }
        if let Err(e) = check_policies(
            &[(info.node.clone(), policy)],
            self.opts.trust_eviction_policy,
        ) {
            tracing::error!(detail = %e, "refusing the new master");
            return Err(e.to_string());
        }
        let changed = self.note_identity(&info);
        if let Some(reason) = &changed {
            // Fence before the connection can serve a single call.
            let fence = now_ms().saturating_add(fence_ms(&self.opts));
            for t in 0..TAGS {
                self.tags
                    .update(t, |st| st.fence_until_ms = st.fence_until_ms.max(fence));
            }
            tracing::warn!(node = %info.node, %reason, "reconnected to a different server");
        }
        s.install(live);
        if let Some(reason) = changed {
            self.fence_and_rewrite(all_tags(), &reason).await;
        }
        tracing::info!(node = %info.node, "replay store reconnected");
        Ok(())
    }

    /// Records `info` as the node's identity; a reason if it differs from the last one seen
    /// in a way that can lose writes (restart, failover).
    fn note_identity(&self, info: &NodeInfo) -> Option<String> {
        let Ok(mut baseline) = self.baseline.lock() else {
            return Some("identity table unavailable".to_owned());
        };
        let reason = if let Backend::Single(_) = &self.backend {
            // One master: any other run or replication history is a different dataset.
            let prev = baseline.values().next().cloned();
            baseline.clear();
            match prev {
                Some(p) if p.run_id != info.run_id => Some(format!(
                    "server restarted or replaced (run_id of {})",
                    info.node
                )),
                Some(p) if p.replid != info.replid => Some(format!(
                    "failover (replication id of {} changed)",
                    info.node
                )),
                Some(p) if info.evicted_keys > p.evicted_keys => {
                    Some(format!("{} evicted keys", info.node))
                }
                _ => None,
            }
        } else {
            match baseline.get(&info.node) {
                Some(p) if p.run_id != info.run_id => {
                    Some(format!("master {} restarted (run_id changed)", info.node))
                }
                Some(p) if p.replid != info.replid => Some(format!(
                    "master {} failed over (replication id changed)",
                    info.node
                )),
                Some(p) if info.evicted_keys > p.evicted_keys => {
                    Some(format!("master {} evicted keys", info.node))
                }
                None if info.was_promoted() => {
                    Some(format!("replica {} was promoted to master", info.node))
                }
                _ => None,
            }
        };
        baseline.insert(info.node.clone(), info.clone());
        reason
    }

    /// One monitor round: Sentinel's current master, then every master's identity.
    async fn poll(self: &Arc<Self>) {
        if let Backend::Single(s) = &self.backend
            && let Some(Ok(master)) = s.sentinel_master().await
            && let Some(live) = s.current()
            && live.node != master
        {
            tracing::warn!(old = %live.node, new = %master, "Sentinel names a new master");
            self.replace_connection();
            return;
        }
        let infos = match self.backend.node_infos().await {
            Ok(i) => {
                self.last_ok_ms.store(now_ms(), Ordering::Relaxed);
                i
            }
            Err(e) => {
                tracing::debug!(detail = %e, "identity poll failed");
                if matches!(Failure::from_error(&e), Failure::Connection(_)) {
                    self.replace_connection();
                }
                return;
            }
        };
        self.watch_policies().await;
        let mut lost_nodes = Vec::new();
        let mut reasons = Vec::new();
        for info in &infos {
            if info.role != "master" {
                self.replace_connection();
                continue;
            }
            if let Some(reason) = self.note_identity(info) {
                lost_nodes.push(info.node.clone());
                reasons.push(reason);
            }
        }
        if lost_nodes.is_empty() {
            return;
        }
        let tags = if self.backend.is_cluster() {
            self.tags_on(&lost_nodes).await
        } else {
            all_tags()
        };
        self.fence_and_rewrite(tags, &reasons.join("; ")).await;
    }

    /// Re-reads every node's `maxmemory-policy`: an evicting one (set at run time with
    /// `CONFIG SET`) makes every call fail closed until it is `noeviction` again; keys it
    /// evicts meanwhile show up in `evicted_keys` and are fenced like any state loss.
    async fn watch_policies(&self) {
        let Ok(policies) = self.backend.eviction_policies().await else {
            return;
        };
        let evicting = policies.iter().find(|(_, p)| {
            p.as_ref()
                .is_ok_and(|p| !p.eq_ignore_ascii_case("noeviction"))
        });
        match evicting {
            Some((node, Ok(policy))) => {
                if self.policy_ok.swap(false, Ordering::Relaxed) {
                    tracing::error!(
                        %node, %policy,
                        "maxmemory-policy can evict replay entries: failing closed until it is noeviction"
                    );
                }
            }
            _ => {
                if !self.policy_ok.swap(true, Ordering::Relaxed) {
                    tracing::info!("maxmemory-policy is noeviction again");
                }
            }
        }
    }

    /// The tags whose slots `nodes` serve (all tags if the slot map cannot be read).
    async fn tags_on(&self, nodes: &[String]) -> Vec<usize> {
        let slots =
            match tokio::time::timeout(self.opts.connect_timeout, self.backend.cluster_slots())
                .await
            {
                Ok(Ok(s)) => s,
                _ => return all_tags(),
            };
        let mut tags = Vec::new();
        for t in 0..TAGS {
            let key = self.layout.epoch_key(t);
            // The hash tag is the three hex digits between the braces.
            let start = self.opts.prefix.len() + 1;
            let slot = key_slot(key.get(start..start + 3).unwrap_or_default());
            let owner = slots.iter().find(|(a, b, _)| (*a..=*b).contains(&slot));
            if owner.is_none_or(|(_, _, n)| nodes.contains(n)) {
                tags.push(t);
            }
        }
        if tags.is_empty() { all_tags() } else { tags }
    }
}

async fn monitor(weak: Weak<Inner>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = weak.upgrade() else { return };
        let limit = inner.opts.connect_timeout;
        if tokio::time::timeout(limit, inner.poll()).await.is_err() {
            tracing::debug!("identity poll timed out");
        }
    }
}
