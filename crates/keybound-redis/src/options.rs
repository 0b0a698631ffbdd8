//! [`RedisOptions`]: the knobs of a [`RedisReplayStore`](crate::RedisReplayStore).

use core::time::Duration;

use crate::error::RedisStoreError;
use crate::key::MAX_PREFIX;

/// Settings of a [`RedisReplayStore`](crate::RedisReplayStore) (RFC 9449 §11.1 replay state
/// shared by a fleet), built with `with_*` methods from [`RedisOptions::default`].
///
/// | knob | default | meaning |
/// |---|---|---|
/// | `prefix` | `kbr:` | key prefix; no `{` or `}`, at most 64 bytes |
/// | `timeout` | 100 ms | whole check-and-insert call, after which it answers `Unavailable` |
/// | `connect_timeout` | 2 s | opening a connection (start-up and reconnects) |
/// | `window` | 310 s | how long to fail closed after state loss: `max_age + leeway` |
/// | `max_in_flight` | 1024 | calls in flight at once; more answer `Unavailable` at once |
/// | `wait_replicas` | 0 (off) | `WAIT` for this many replica acknowledgements per accepted proof |
/// | `wait_timeout` | 50 ms | the `WAIT` timeout |
/// | `trust_eviction_policy` | false | connect even when `CONFIG GET maxmemory-policy` cannot be read |
/// | `monitor_interval` | 1 s | how often server identities are polled (`None`: never) |
/// | `tls_root_certificates` | system store | PEM roots for `rediss://` (feature `tls`) |
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    pub(crate) prefix: String,
    pub(crate) timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) window: Duration,
    pub(crate) max_in_flight: usize,
    pub(crate) wait_replicas: u32,
    pub(crate) wait_timeout: Duration,
    pub(crate) trust_eviction_policy: bool,
    pub(crate) monitor_interval: Option<Duration>,
    pub(crate) tls_root_pem: Option<Vec<u8>>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        Self {
            prefix: "kbr:".to_owned(),
            timeout: Duration::from_millis(100),
            connect_timeout: Duration::from_secs(2),
            window: Duration::from_secs(310),
            max_in_flight: 1024,
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(50),
            trust_eviction_policy: false,
            monitor_interval: Some(Duration::from_secs(1)),
            tls_root_pem: None,
        }
    }
}

impl RedisOptions {
    /// The defaults (see the table on [`RedisOptions`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// Key prefix shared by every instance of one fleet; stores with different prefixes on one
    /// server do not see each other's `jti`s.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Time one check-and-insert may take before it answers
    /// [`ReplayError::Unavailable`](keybound_dpop::replay::ReplayError::Unavailable).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Time to open a connection to a server (or to ask Sentinel for the master).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The acceptance window (RFC 9449 §11.1): `max_age + leeway` of the verifier policy, at
    /// least as long as any `expires_at - now` the store is given. After detected state loss
    /// the store fails closed this long, so every `jti` the server forgot has expired.
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// Most calls in flight at once; calls beyond it answer `Unavailable` at once.
    pub fn with_max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = max;
        self
    }

    /// After each insert, `WAIT` for `replicas` replica acknowledgements (within
    /// [`RedisOptions::with_wait_timeout`]); fewer answer `Unavailable`. 0 turns it off.
    pub fn with_wait_replicas(mut self, replicas: u32) -> Self {
        self.wait_replicas = replicas;
        self
    }

    /// The `WAIT` timeout (whole milliseconds, at least 1); it must be shorter than the call
    /// timeout.
    pub fn with_wait_timeout(mut self, timeout: Duration) -> Self {
        self.wait_timeout = timeout;
        self
    }

    /// Connect even when a server refuses `CONFIG GET maxmemory-policy` (command renamed or
    /// not permitted): the operator vouches that the policy is `noeviction`. An evicting
    /// policy that *can* be read is refused whatever this says.
    pub fn with_trust_eviction_policy(mut self, trust: bool) -> Self {
        self.trust_eviction_policy = trust;
        self
    }

    /// How often every master's `run_id` and replication id are polled to detect a restart
    /// or failover; `None` turns the monitor off (restarts are then found only by the epoch
    /// check and, for standalone and Sentinel, on reconnection).
    pub fn with_monitor_interval(mut self, interval: Option<Duration>) -> Self {
        self.monitor_interval = interval;
        self
    }

    /// For `rediss://` and `rediss+cluster://`: trust these PEM root certificates instead of
    /// the system store (a private CA).
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn with_tls_root_certificates(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_root_pem = Some(pem.into());
        self
    }

    /// The acceptance window (see [`RedisOptions::with_window`]).
    pub fn window(&self) -> Duration {
        self.window
    }

    /// The call timeout (see [`RedisOptions::with_timeout`]).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn validate(&self) -> Result<(), RedisStoreError> {
        let bad = |reason: &str| {
            Err(RedisStoreError::InvalidOptions {
                reason: reason.to_owned(),
            })
        };
        if self.prefix.len() > MAX_PREFIX {
            return bad("prefix is longer than 64 bytes");
        }
        if self.prefix.contains(['{', '}']) {
            return bad("prefix contains `{` or `}` (they would change the Cluster hash tag)");
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return bad("timeouts must be positive");
        }
        if self.window.is_zero() {
            return bad("window must be positive");
        }
        if self.max_in_flight == 0 {
            return bad("max_in_flight must be at least 1");
        }
        if self.wait_replicas > 0 {
            if self.wait_timeout.as_millis() == 0 {
                return bad("wait_timeout must be at least 1 ms");
            }
            if self.wait_timeout >= self.timeout {
                return bad("wait_timeout must be shorter than timeout");
            }
        }
        if self.monitor_interval.is_some_and(|i| i.is_zero()) {
            return bad("monitor_interval must be positive");
        }
        Ok(())
    }
}
