//! Validation policy (server configuration) and per-request expectations (RFC 9449 §4.3).

use core::fmt;

use keybound_cnf::JwkThumbprint;

use crate::nonce::NonceSource;
use keybound_jose::AlgSet;

/// Default `max_age` for `iat` (RFC 9449 §11.1 leaves it to the server; 300 s is common).
pub const DEFAULT_MAX_AGE: u64 = 300;
/// Default tolerance for `iat` in the future (clock skew; FAPI 2.0 requires 10 s to pass).
pub const DEFAULT_LEEWAY: u64 = 10;
/// Default minimum RSA modulus size (RFC 7518 §3.3, FAPI 2.0 §5.4.1).
pub const DEFAULT_MIN_RSA_BITS: usize = 2048;

/// Server-side validation settings; `Copy`, built once and shared.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    /// Allowed `alg` values (also limited to what the verifier supports).
    pub algs: AlgSet,
    /// Oldest accepted `iat`, in seconds before `now`.
    pub max_age: u64,
    /// Newest accepted `iat`, in seconds after `now`.
    pub leeway: u64,
    /// Minimum RSA modulus bits.
    pub min_rsa_bits: usize,
    /// When set, every proof must carry a nonce this source accepts (RFC 9449 §8, §9).
    pub nonce: Option<&'a dyn NonceSource>,
}

impl Policy<'static> {
    /// RFC 9449 defaults: every algorithm, `max_age` 300 s, leeway 10 s, RSA ≥ 2048, no nonce.
    pub const fn new() -> Self {
        Policy {
            algs: AlgSet::ALL,
            max_age: DEFAULT_MAX_AGE,
            leeway: DEFAULT_LEEWAY,
            min_rsa_bits: DEFAULT_MIN_RSA_BITS,
            nonce: None,
        }
    }

    /// FAPI 2.0 Security Profile §5.4.1/§5.3.2.2: PS256, ES256, EdDSA; `iat` within 60 s old, 10 s
    /// ahead.
    pub const fn fapi2() -> Self {
        Policy {
            algs: AlgSet::FAPI2,
            max_age: 60,
            ..Policy::new()
        }
    }
}

impl<'a> Policy<'a> {
    /// With these allowed algorithms.
    #[must_use]
    pub const fn with_algs(mut self, algs: AlgSet) -> Self {
        self.algs = algs;
        self
    }

    /// With this `max_age` in seconds.
    #[must_use]
    pub const fn with_max_age(mut self, secs: u64) -> Self {
        self.max_age = secs;
        self
    }

    /// With this future leeway in seconds.
    #[must_use]
    pub const fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// With this minimum RSA modulus size.
    #[must_use]
    pub const fn with_min_rsa_bits(mut self, bits: usize) -> Self {
        self.min_rsa_bits = bits;
        self
    }

    /// Requiring a server nonce accepted by `source`.
    #[must_use]
    pub fn with_nonce<'b>(self, source: &'b dyn NonceSource) -> Policy<'b>
    where
        'a: 'b,
    {
        Policy {
            nonce: Some(source),
            ..self
        }
    }

    /// How long a `jti` must stay in the replay store: `max_age + leeway` (RFC 9449 §11.1).
    pub const fn replay_window(&self) -> u64 {
        self.max_age.saturating_add(self.leeway)
    }
}

impl Default for Policy<'static> {
    fn default() -> Self {
        Policy::new()
    }
}

impl fmt::Debug for Policy<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("algs", &self.algs)
            .field("max_age", &self.max_age)
            .field("leeway", &self.leeway)
            .field("min_rsa_bits", &self.min_rsa_bits)
            .field("nonce_required", &self.nonce.is_some())
            .finish()
    }
}

/// What the host knows about the request the proof came with (RFC 9449 §4.3 steps 8–12).
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    /// The request method (`htm` must equal it, case-sensitive per RFC 9110 §9.1).
    pub htm: &'a str,
    /// The request URI as the client addressed it (the host's public origin behind proxies).
    pub htu: &'a str,
    /// Other URIs of the same resource the proof may name (e.g. `mtls_endpoint_aliases`).
    pub htu_aliases: &'a [&'a str],
    /// The access token presented with the proof: `ath` must be its hash (RFC 9449 §4.3 step 11).
    pub access_token: Option<&'a str>,
    /// The key the token or authorization request is bound to (`cnf.jkt`, `dpop_jkt`).
    pub jkt: Option<JwkThumbprint>,
}

impl<'a> Request<'a> {
    /// A request with method `htm` to `htu`.
    pub const fn new(htm: &'a str, htu: &'a str) -> Self {
        Request {
            htm,
            htu,
            htu_aliases: &[],
            access_token: None,
            jkt: None,
        }
    }

    /// Also accepting these URIs for `htu`.
    #[must_use]
    pub const fn with_aliases(mut self, aliases: &'a [&'a str]) -> Self {
        self.htu_aliases = aliases;
        self
    }

    /// With the presented access token (requires a matching `ath`).
    #[must_use]
    pub const fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Requiring the proof key to have this thumbprint.
    #[must_use]
    pub const fn with_jkt(mut self, jkt: JwkThumbprint) -> Self {
        self.jkt = Some(jkt);
        self
    }
}

/// Whether a client authenticates at the token endpoint (RFC 6749 §2.1); decides whether its
/// refresh tokens are bound to its DPoP key (RFC 9449 §5).
#[expect(
    clippy::exhaustive_enums,
    reason = "RFC 6749 §2.1 defines exactly two client types; layers above match on both"
)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientKind {
    /// No client authentication (`token_endpoint_auth_method` `none`): refresh tokens are
    /// bound to the DPoP key.
    Public,
    /// Authenticates at the token endpoint: refresh tokens are bound to the client's
    /// credentials, not to a DPoP key, unless the server chooses otherwise.
    Confidential,
}
