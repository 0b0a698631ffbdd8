//! [`RedisStoreError`]: why a store could not be set up.

use core::fmt;

/// Why [`RedisReplayStore::connect`](crate::RedisReplayStore::connect) refused to build a
/// store (RFC 9449 §11.1 replay state must not be silently weaker than configured).
///
/// Calls on a built store never return this: they answer with
/// [`ReplayError`](keybound_dpop::replay::ReplayError).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// The URL is not one of the accepted forms (see the crate documentation).
    InvalidUrl {
        /// What is wrong with it.
        reason: String,
    },
    /// An option is out of range.
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// No connection could be opened (or Sentinel named no master).
    Unreachable {
        /// The target, without credentials.
        target: String,
        /// The driver's error.
        detail: String,
    },
    /// A server's `maxmemory-policy` may evict keys that have a TTL: an evicted `jti` is a
    /// replay window. Only `noeviction` is accepted.
    EvictingPolicy {
        /// The node (`host:port`).
        node: String,
        /// The policy it reported.
        policy: String,
    },
    /// `CONFIG GET maxmemory-policy` failed (renamed, disabled or not permitted) and
    /// [`RedisOptions::with_trust_eviction_policy`](crate::RedisOptions::with_trust_eviction_policy)
    /// was not set.
    PolicyUnreadable {
        /// The node (`host:port`).
        node: String,
        /// The server's answer.
        detail: String,
    },
    /// `CLUSTER INFO` does not report `cluster_state:ok`.
    ClusterNotOk {
        /// The state reported (or the error met asking).
        state: String,
    },
    /// The server is a replica: writes would fail (standalone URLs must name the master).
    NotPrimary {
        /// The node (`host:port`).
        node: String,
        /// The role it reported.
        role: String,
    },
    /// A set-up step (identity query, script load, epoch keys) failed.
    Setup {
        /// Which step.
        step: &'static str,
        /// The error met.
        detail: String,
    },
}

impl fmt::Display for RedisStoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl { reason } => write!(f, "invalid replay store URL: {reason}"),
            Self::InvalidOptions { reason } => write!(f, "invalid replay store options: {reason}"),
            Self::Unreachable { target, detail } => {
                write!(f, "replay store {target} is unreachable: {detail}")
            }
            Self::EvictingPolicy { node, policy } => write!(
                f,
                "{node} has maxmemory-policy {policy}, which can evict replay entries before \
                 they expire; set `maxmemory-policy noeviction`"
            ),
            Self::PolicyUnreadable { node, detail } => write!(
                f,
                "cannot read maxmemory-policy on {node} ({detail}); enable CONFIG GET for this \
                 user or, if the policy is known to be noeviction, trust it explicitly"
            ),
            Self::ClusterNotOk { state } => write!(f, "Redis Cluster is not ok: {state}"),
            Self::NotPrimary { node, role } => {
                write!(f, "{node} is a {role}, not a master: writes would fail")
            }
            Self::Setup { step, detail } => {
                write!(f, "replay store set-up ({step}) failed: {detail}")
            }
        }
    }
}

impl core::error::Error for RedisStoreError {}
