//! Decision counters a host can export (plain atomics, no metrics framework).

use core::fmt::{self, Write as _};
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Every rejection reason the layer reports, in a fixed order (anything else counts as
/// `other`): the `keybound::rs` reasons, the DPoP member names, and the layer's own.
const REASONS: [&str; 30] = [
    "missing_token",
    "unsupported_scheme",
    "malformed_authorization",
    "dpop_token_as_bearer",
    "proof_with_bearer",
    "unbound_token_as_dpop",
    "bearer_not_allowed",
    "unsupported_cnf",
    "certificate_missing",
    "certificate_mismatch",
    "certificate_malformed",
    "certificate_binding",
    "certificate_header",
    "invalid_token",
    "insufficient_scope",
    "malformed",
    "typ",
    "alg",
    "jwk",
    "signature",
    "jti",
    "htm",
    "htu",
    "iat",
    "ath",
    "nonce",
    "replay",
    "key_binding",
    "missing_original_request",
    "other",
];

const OTHER: usize = REASONS.len() - 1;

#[derive(Debug)]
struct Counters {
    accepted: [AtomicU64; 4],
    rejected: [AtomicU64; REASONS.len()],
    store_unavailable: AtomicU64,
    validator_unavailable: AtomicU64,
}

/// Counters of the layer's decisions: accepted (by binding), rejected (by reason), replay
/// store or token validator unavailable (answered 503). Clones share the counters.
#[derive(Clone, Debug)]
pub struct Metrics(Arc<Counters>);

impl Default for Metrics {
    fn default() -> Self {
        Metrics(Arc::new(Counters {
            accepted: [const { AtomicU64::new(0) }; 4],
            rejected: [const { AtomicU64::new(0) }; REASONS.len()],
            store_unavailable: AtomicU64::new(0),
            validator_unavailable: AtomicU64::new(0),
        }))
    }
}

/// The binding names, in the order of [`MetricsSnapshot::accepted`].
const BINDINGS: [&str; 4] = ["dpop", "mtls", "both", "bearer"];

/// A copy of the counters at one moment.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricsSnapshot {
    /// Accepted requests by binding: `dpop`, `mtls`, `both`, `bearer`.
    pub accepted: Vec<(&'static str, u64)>,
    /// Rejected requests (400/401/403) by reason; reasons never seen are left out.
    pub rejected: Vec<(&'static str, u64)>,
    /// Requests answered 503 because the replay store could not answer (fail closed).
    pub store_unavailable: u64,
    /// Requests answered 503 because the token validator could not decide.
    pub validator_unavailable: u64,
}

impl MetricsSnapshot {
    /// Accepted requests, all bindings.
    pub fn accepted_total(&self) -> u64 {
        self.accepted.iter().map(|(_, n)| n).sum()
    }

    /// Rejections with `reason`.
    pub fn rejected_with(&self, reason: &str) -> u64 {
        self.rejected
            .iter()
            .find(|(r, _)| *r == reason)
            .map_or(0, |(_, n)| *n)
    }
}

impl Metrics {
    /// New counters at zero.
    pub fn new() -> Self {
        Self::default()
    }

    pub(crate) fn accepted(&self, binding: &str) {
        let i = BINDINGS.iter().position(|b| *b == binding).unwrap_or(3);
        if let Some(c) = self.0.accepted.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn rejected(&self, reason: &str) {
        let i = REASONS.iter().position(|r| *r == reason).unwrap_or(OTHER);
        if let Some(c) = self.0.rejected.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn store_unavailable(&self) {
        self.0.store_unavailable.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn validator_unavailable(&self) {
        self.0.validator_unavailable.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MetricsSnapshot {
            accepted: BINDINGS
                .iter()
                .zip(self.0.accepted.iter())
                .map(|(b, c)| (*b, load(c)))
                .collect(),
            rejected: REASONS
                .iter()
                .zip(self.0.rejected.iter())
                .map(|(r, c)| (*r, load(c)))
                .filter(|(_, n)| *n > 0)
                .collect(),
            store_unavailable: load(&self.0.store_unavailable),
            validator_unavailable: load(&self.0.validator_unavailable),
        }
    }

    /// The counters in the Prometheus text format (`keybound_requests_total{outcome,…}`).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_prometheus(&mut out);
        out
    }

    fn write_prometheus(&self, out: &mut String) -> fmt::Result {
        let s = self.snapshot();
        out.push_str("# TYPE keybound_requests_total counter\n");
        for (binding, n) in &s.accepted {
            writeln!(
                out,
                "keybound_requests_total{{outcome=\"accepted\",binding=\"{binding}\"}} {n}"
            )?;
        }
        for (reason, n) in &s.rejected {
            writeln!(
                out,
                "keybound_requests_total{{outcome=\"rejected\",reason=\"{reason}\"}} {n}"
            )?;
        }
        writeln!(
            out,
            "keybound_requests_total{{outcome=\"unavailable\",cause=\"replay_store\"}} {}",
            s.store_unavailable
        )?;
        writeln!(
            out,
            "keybound_requests_total{{outcome=\"unavailable\",cause=\"token_validator\"}} {}",
            s.validator_unavailable
        )
    }
}
