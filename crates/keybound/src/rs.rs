//! Resource-server request verification: `Authorization` scheme, DPoP proof (RFC 9449 §7)
//! and certificate binding (RFC 8705 §3) against the access token's `cnf` claim.
//!
//! The host validates the access token itself (JWT signature, expiry, audience, or an
//! introspection response) and hands over its `cnf` claim as a
//! [`Confirmation`]; this module decides whether the *request*
//! may use that token. Typical flow:
//!
//! 1. [`ResourceServer::credentials`]: scheme and token from `Authorization` (look the token
//!    up with it);
//! 2. [`ResourceServer::verify`]: the binding rules, answering [`Accepted`] or a [`Rejection`]
//!    that carries the status, `WWW-Authenticate` and `DPoP-Nonce` values to send.
//!
//! The checks run in this order: `Authorization` syntax, a `cnf` this server cannot check,
//! scheme versus binding (a DPoP-bound token sent as `Bearer` is rejected, as is a proof sent
//! with an unbound token), the proof's stateless checks (RFC 9449 §4.3 steps 1–10, with `ath`
//! and the `cnf.jkt` binding), the client certificate against `cnf."x5t#S256"`, and last the
//! replay commit, so that a request failing any other check does not use up its proof's `jti`.
//!
//! # Which `cnf` claims are honoured
//!
//! This module checks two confirmation methods: `jkt` (RFC 9449 §6.1) and `x5t#S256`
//! (RFC 8705 §3.1). For any other `cnf` member the rule is:
//!
//! - beside `jkt` or `x5t#S256`, another member (`osc`, `x5t#S512`, an unknown name) is
//!   ignored, as RFC 7800 §3.1 says: the methods this server checks must pass, and the
//!   token is accepted as bound by them;
//! - a `cnf` with at least one member but neither `jkt` nor `x5t#S256` (only `jwk`, `jwe`,
//!   `kid`, `jku`, `osc`, `x5t`, `x5t#S512` or unknown members) is **never** treated as
//!   unbound: it is rejected with [`RsError::UnsupportedConfirmation`] whatever the scheme and
//!   even when [`RsConfig::allow_bearer`] is on (fail closed: a token its issuer bound to a
//!   key this server cannot check must not become a bearer token);
//! - only an empty `cnf` (or none: [`Confirmation::new`]) is an unbound token.

use alloc::boxed::Box;
use alloc::string::{String, ToString as _};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use keybound_cnf::{BindingError, CertThumbprint, Confirmation, JwkThumbprint};
use keybound_dpop::nonce::NonceSource;
use keybound_dpop::replay::{AsyncReplayStore, ReplayStore};
use keybound_dpop::{AlgSet, CheckedProof, DpopError, Policy, SignatureVerifier, Verified};
use keybound_mtls::CertBindingError;

use crate::common::{DpopSettings, PolicyParams};

/// An `Authorization` scheme this module understands (RFC 6750 §2.1, RFC 9449 §7.1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `Bearer` (RFC 6750): unbound tokens and certificate-bound tokens (RFC 8705).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): DPoP-bound tokens, with a proof in the `DPoP` header.
    Dpop,
}

impl Scheme {
    /// The scheme name as sent in challenges: `Bearer` or `DPoP`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scheme::Bearer => "Bearer",
            Scheme::Dpop => "DPoP",
        }
    }

    /// The scheme named `name`, matched case-insensitively (RFC 9110 §11.1).
    pub fn from_name(name: &str) -> Option<Scheme> {
        if name.eq_ignore_ascii_case("bearer") {
            Some(Scheme::Bearer)
        } else if name.eq_ignore_ascii_case("dpop") {
            Some(Scheme::Dpop)
        } else {
            None
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheme and access token taken from an `Authorization` header.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Credentials<'r> {
    /// The scheme used.
    pub scheme: Scheme,
    /// The access token (`b64token` syntax checked, RFC 6750 §2.1).
    pub token: &'r str,
}

/// Why an `Authorization` header is unusable (RFC 6750 §3.1 `invalid_request`, HTTP 400).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthorizationError {
    /// More than one `Authorization` header value.
    Multiple,
    /// The value is not UTF-8.
    NotUtf8,
    /// The scheme is `Bearer` or `DPoP` but no token follows it.
    MissingToken,
    /// The token is not `b64token` (RFC 6750 §2.1), e.g. a comma-joined list or a space.
    TokenSyntax,
}

impl fmt::Display for AuthorizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthorizationError::Multiple => "more than one Authorization header value",
            AuthorizationError::NotUtf8 => "Authorization header is not UTF-8",
            AuthorizationError::MissingToken => "Authorization header has no token",
            AuthorizationError::TokenSyntax => "access token is not a b64token",
        })
    }
}

impl core::error::Error for AuthorizationError {}

/// What the `Authorization` header(s) hold (see [`parse_authorization`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authorization<'r> {
    /// No `Authorization` header.
    None,
    /// A scheme other than `Bearer` and `DPoP` (e.g. `Basic`): no token for this server.
    OtherScheme,
    /// A `Bearer` or `DPoP` token.
    Token(Credentials<'r>),
}

/// Parses every value of the `Authorization` header: at most one value, scheme matched
/// case-insensitively, token in `b64token` syntax (RFC 6750 §2.1, RFC 9449 §7.1).
pub fn parse_authorization<'r>(
    values: &[&'r [u8]],
) -> Result<Authorization<'r>, AuthorizationError> {
    let value = match values {
        [] => return Ok(Authorization::None),
        [one] => *one,
        _ => return Err(AuthorizationError::Multiple),
    };
    let value = core::str::from_utf8(value).map_err(|_| AuthorizationError::NotUtf8)?;
    let value = value.trim_matches(|c| c == ' ' || c == '\t');
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let Some(scheme) = Scheme::from_name(scheme) else {
        return Ok(Authorization::OtherScheme);
    };
    let token = rest.trim_start_matches(' ');
    if token.is_empty() {
        return Err(AuthorizationError::MissingToken);
    }
    if !is_b64token(token) {
        return Err(AuthorizationError::TokenSyntax);
    }
    Ok(Authorization::Token(Credentials { scheme, token }))
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The client certificate of a request, from the TLS handshake or a trusted proxy's header
/// (decide trust with [`keybound_mtls::TrustedProxies`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientCert<'r> {
    /// The leaf certificate, DER (framing is checked before hashing).
    Der(&'r [u8]),
    /// An already computed `x5t#S256` (e.g. an Envoy XFCC `Hash=`).
    Thumbprint(CertThumbprint),
}

/// What the host knows about a request to a protected resource.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct RsRequest<'r> {
    /// The request method (`htm`), e.g. `GET`.
    pub method: &'r str,
    /// The request URI as the client addressed it: the server's public origin and the path
    /// (`htu`; query and fragment are ignored).
    pub uri: &'r str,
    /// Every `Authorization` header value, in order.
    pub authorization: &'r [&'r [u8]],
    /// Every `DPoP` header value, in order.
    pub dpop: &'r [&'r [u8]],
    /// The client certificate, if the client presented one.
    pub client_cert: Option<ClientCert<'r>>,
}

impl<'r> RsRequest<'r> {
    /// A request with `method` to `uri` (absolute, public origin), without headers.
    pub const fn new(method: &'r str, uri: &'r str) -> Self {
        RsRequest {
            method,
            uri,
            authorization: &[],
            dpop: &[],
            client_cert: None,
        }
    }

    /// With these `Authorization` header values.
    #[must_use]
    pub const fn with_authorization(mut self, values: &'r [&'r [u8]]) -> Self {
        self.authorization = values;
        self
    }

    /// With these `DPoP` header values.
    #[must_use]
    pub const fn with_dpop(mut self, values: &'r [&'r [u8]]) -> Self {
        self.dpop = values;
        self
    }

    /// With a client certificate.
    #[must_use]
    pub const fn with_client_cert(mut self, cert: ClientCert<'r>) -> Self {
        self.client_cert = Some(cert);
        self
    }
}

/// How an accepted request proved possession of its token.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// Unbound token, accepted because [`RsConfig::allow_bearer`] is on.
    Bearer,
    /// DPoP-bound token (`cnf.jkt`), proven by a valid proof.
    Dpop {
        /// The proof key's thumbprint (equal to `cnf.jkt`).
        jkt: JwkThumbprint,
    },
    /// Certificate-bound token (`cnf."x5t#S256"`), proven by the client certificate.
    Mtls {
        /// The certificate thumbprint (equal to `cnf."x5t#S256"`).
        x5t: CertThumbprint,
    },
    /// Token bound to both; both were proven.
    Both {
        /// The proof key's thumbprint.
        jkt: JwkThumbprint,
        /// The certificate thumbprint.
        x5t: CertThumbprint,
    },
}

/// A request allowed to use its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    binding: Binding,
    scheme: Scheme,
    proof: Option<Verified>,
}

impl Accepted {
    /// How possession was proven.
    pub fn binding(&self) -> Binding {
        self.binding
    }

    /// The `Authorization` scheme used.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The validated DPoP proof, when one was required.
    pub fn proof(&self) -> Option<&Verified> {
        self.proof.as_ref()
    }
}

/// Why a request was rejected; [`Rejection::reason`] names it as a short string.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum RsError {
    /// No `Authorization` header: answered with both challenges and no error code
    /// (RFC 6750 §3.1, RFC 9449 §7.1).
    MissingToken,
    /// An `Authorization` scheme this server does not accept (e.g. `Basic`), treated as no token.
    UnsupportedScheme,
    /// The `Authorization` header is malformed: 400 `invalid_request`.
    MalformedAuthorization(AuthorizationError),
    /// A DPoP-bound token (`cnf.jkt`) presented with the `Bearer` scheme (RFC 9449 §7.2).
    DpopTokenAsBearer,
    /// A `DPoP` proof sent with the `Bearer` scheme.
    ProofWithBearer,
    /// The `DPoP` scheme with a token that has no `cnf.jkt` (RFC 9449 §7.1).
    UnboundTokenAsDpop,
    /// An unbound token while [`RsConfig::allow_bearer`] is off.
    BearerNotAllowed,
    /// The token's `cnf` has members but neither `jkt` nor `x5t#S256` (only `jwk`, `jwe`,
    /// `kid`, `jku` of RFC 7800 §3.2–3.5, or another method such as `osc`, `x5t`,
    /// `x5t#S512`, or an unknown member): it is bound by a method this server cannot check,
    /// and is rejected rather than treated as unbound (see the module docs).
    UnsupportedConfirmation,
    /// The DPoP proof failed (RFC 9449 §4.3).
    Dpop(DpopError),
    /// The client certificate does not satisfy `cnf."x5t#S256"` (RFC 8705 §3).
    Certificate(CertBindingError),
    /// The host found the token itself invalid (unknown, expired, revoked, wrong audience):
    /// see [`ResourceServer::reject_invalid_token`].
    InvalidToken,
}

impl RsError {
    /// The short name of the fault: the [`keybound_dpop::Reason`] string when the proof is at
    /// fault, else one of `missing_token`, `unsupported_scheme`, `malformed_authorization`,
    /// `dpop_token_as_bearer`, `proof_with_bearer`, `unbound_token_as_dpop`,
    /// `bearer_not_allowed`, `unsupported_cnf`, `certificate_missing`,
    /// `certificate_mismatch`, `certificate_malformed`, `certificate_binding`, `invalid_token`.
    pub fn reason(&self) -> &'static str {
        match self {
            RsError::MissingToken => "missing_token",
            RsError::UnsupportedScheme => "unsupported_scheme",
            RsError::MalformedAuthorization(_) => "malformed_authorization",
            RsError::DpopTokenAsBearer => "dpop_token_as_bearer",
            RsError::ProofWithBearer => "proof_with_bearer",
            RsError::UnboundTokenAsDpop => "unbound_token_as_dpop",
            RsError::BearerNotAllowed => "bearer_not_allowed",
            RsError::UnsupportedConfirmation => "unsupported_cnf",
            RsError::Dpop(e) => e.reason().as_str(),
            RsError::Certificate(CertBindingError::Binding(BindingError::NoCertificate)) => {
                "certificate_missing"
            }
            RsError::Certificate(CertBindingError::Binding(BindingError::Mismatch)) => {
                "certificate_mismatch"
            }
            RsError::Certificate(CertBindingError::MalformedCertificate(_)) => {
                "certificate_malformed"
            }
            RsError::Certificate(_) => "certificate_binding",
            RsError::InvalidToken => "invalid_token",
        }
    }

    /// The OAuth error code: `None` when no usable token was sent (RFC 6750 §3.1), else
    /// `invalid_request`, `invalid_token`, `invalid_dpop_proof` or `use_dpop_nonce`.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            RsError::MissingToken | RsError::UnsupportedScheme => None,
            RsError::MalformedAuthorization(_) => Some("invalid_request"),
            RsError::Dpop(e) => Some(e.wire_error()),
            _ => Some("invalid_token"),
        }
    }

    /// The HTTP status: 400 for a malformed `Authorization` header, 429 when the proof key is
    /// over its replay quota ([`DpopError::is_rate_limited`]), else 401.
    pub fn status(&self) -> u16 {
        match self {
            RsError::MalformedAuthorization(_) => 400,
            RsError::Dpop(e) if e.is_rate_limited() => 429,
            _ => 401,
        }
    }
}

impl fmt::Display for RsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RsError::MissingToken => f.write_str("no access token"),
            RsError::UnsupportedScheme => f.write_str("unsupported authorization scheme"),
            RsError::MalformedAuthorization(e) => fmt::Display::fmt(e, f),
            RsError::DpopTokenAsBearer => {
                f.write_str("DPoP-bound access token presented with the Bearer scheme")
            }
            RsError::ProofWithBearer => f.write_str("DPoP proof sent with the Bearer scheme"),
            RsError::UnboundTokenAsDpop => {
                f.write_str("access token is not DPoP-bound but was presented with the DPoP scheme")
            }
            RsError::BearerNotAllowed => f.write_str("access token is not sender-constrained"),
            RsError::UnsupportedConfirmation => {
                f.write_str("access token is bound by an unsupported cnf method")
            }
            RsError::Dpop(e) => fmt::Display::fmt(e, f),
            RsError::Certificate(e) => fmt::Display::fmt(e, f),
            RsError::InvalidToken => f.write_str("access token is invalid"),
        }
    }
}

impl core::error::Error for RsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            RsError::MalformedAuthorization(e) => Some(e),
            RsError::Dpop(e) => Some(e),
            RsError::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

/// A rejected request: what to answer (status, `WWW-Authenticate`, `DPoP-Nonce`) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    error: RsError,
    challenges: Vec<String>,
    dpop_nonce: Option<String>,
}

impl Rejection {
    /// The HTTP status: 400 (malformed `Authorization`) or 401.
    pub fn status(&self) -> u16 {
        self.error.status()
    }

    /// The `WWW-Authenticate` values, one challenge each (send each as its own header
    /// field, or join them with `, `): `Bearer …` and/or `DPoP …, algs="…"`.
    pub fn www_authenticate(&self) -> &[String] {
        &self.challenges
    }

    /// The `DPoP-Nonce` value to send (RFC 9449 §9), when the proof lacked a valid nonce.
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// The OAuth error code (see [`RsError::error_code`]).
    pub fn error(&self) -> Option<&'static str> {
        self.error.error_code()
    }

    /// The short name of the fault (see [`RsError::reason`]).
    pub fn reason(&self) -> &'static str {
        self.error.reason()
    }

    /// A human-readable description (the [`RsError`] text).
    pub fn description(&self) -> String {
        self.error.to_string()
    }

    /// The typed cause.
    pub fn kind(&self) -> &RsError {
        &self.error
    }

    /// The DPoP proof error, when the proof was at fault.
    pub fn dpop_error(&self) -> Option<&DpopError> {
        match &self.error {
            RsError::Dpop(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the server, not the client, is at fault (replay store full or unavailable);
    /// the request is still rejected (fail closed) and a host may answer 503 instead.
    pub fn is_server_fault(&self) -> bool {
        self.dpop_error().is_some_and(DpopError::is_server_fault)
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status(), self.reason(), self.error)
    }
}

impl core::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Resource-server settings: DPoP policy, replay store, nonce source, verifier, and which
/// token kinds are accepted.
#[must_use]
pub struct RsConfig<'a> {
    dpop: DpopSettings<'a>,
    allow_bearer: bool,
    resource_metadata: Option<String>,
}

impl fmt::Debug for RsConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RsConfig");
        self.dpop.debug_fields(&mut d);
        d.field("allow_bearer", &self.allow_bearer)
            .field("resource_metadata", &self.resource_metadata)
            .finish_non_exhaustive()
    }
}

impl<'a> RsConfig<'a> {
    /// RFC 9449 defaults ([`Policy::new`]), the [`DefaultVerifier`](keybound_dpop::DefaultVerifier), no nonce, DPoP accepted,
    /// unbound tokens refused; proofs' `jti`s are recorded in `replay`.
    pub fn new(replay: impl ReplayStore + Send + Sync + 'a) -> Self {
        RsConfig {
            dpop: DpopSettings::new(replay),
            allow_bearer: false,
            resource_metadata: None,
        }
    }

    /// [`RsConfig::new`] for a host that records proofs in a store of its own, e.g. an
    /// [`AsyncReplayStore`] shared by a fleet: run [`ResourceServer::check`], then
    /// [`PendingRequest::commit`] or [`PendingRequest::commit_async`] with that store.
    ///
    /// Such a server has no store of its own, so [`ResourceServer::verify`] refuses every
    /// DPoP request as a server fault (`replay`, [`Rejection::is_server_fault`]) rather than
    /// accept a proof it cannot record.
    pub fn without_replay_store() -> Self {
        RsConfig {
            dpop: DpopSettings::with_replay(None),
            allow_bearer: false,
            resource_metadata: None,
        }
    }

    /// From a resolved profile: its algorithms, `iat` window and RSA minimum; DPoP accepted
    /// when enabled; unbound tokens refused. `nonce` is required when the configuration
    /// requires nonces (and used only then).
    #[cfg(feature = "profile")]
    pub fn from_resolved(
        resolved: &keybound_profile::ResolvedConfig,
        replay: impl ReplayStore + Send + Sync + 'a,
        nonce: Option<Box<dyn NonceSource + Send + Sync + 'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        Ok(RsConfig {
            dpop: DpopSettings::from_resolved(resolved, Some(Box::new(replay)), nonce)?,
            allow_bearer: false,
            resource_metadata: None,
        })
    }

    /// [`RsConfig::from_resolved`] without a replay store of its own (see
    /// [`RsConfig::without_replay_store`]).
    #[cfg(feature = "profile")]
    pub fn from_resolved_without_replay_store(
        resolved: &keybound_profile::ResolvedConfig,
        nonce: Option<Box<dyn NonceSource + Send + Sync + 'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        Ok(RsConfig {
            dpop: DpopSettings::from_resolved(resolved, None, nonce)?,
            allow_bearer: false,
            resource_metadata: None,
        })
    }

    /// Adds `resource_metadata="url"` to every challenge (RFC 9728 §5.1): the URL of this
    /// resource's protected-resource metadata. Characters a quoted-string cannot hold (`"`,
    /// `\`, controls, non-ASCII) are replaced by `'`.
    pub fn with_resource_metadata(mut self, url: &str) -> Self {
        self.resource_metadata = Some(url.to_string());
        self
    }

    /// With this DPoP policy (algorithms, `iat` window, RSA minimum). A nonce source in
    /// `policy` cannot be kept (it is not `Sync`): set it with [`RsConfig::with_nonce`];
    /// until then every proof is refused with `use_dpop_nonce` (fail closed).
    pub fn with_policy(mut self, policy: Policy<'_>) -> Self {
        self.dpop.policy = PolicyParams::from_policy(&policy);
        self
    }

    /// Requiring proofs to carry a nonce from `source` (RFC 9449 §9).
    pub fn with_nonce(mut self, source: impl NonceSource + Send + Sync + 'a) -> Self {
        self.dpop.nonce = Some(Box::new(source));
        self
    }

    /// Verifying proof signatures with `verifier` (default: [`DefaultVerifier`](keybound_dpop::DefaultVerifier)).
    pub fn with_verifier(mut self, verifier: impl SignatureVerifier + Send + Sync + 'a) -> Self {
        self.dpop.verifier = Box::new(verifier);
        self
    }

    /// Whether unbound tokens (an empty or absent `cnf`) are accepted as plain bearer tokens
    /// (default: no). A `cnf` with only methods this server cannot check is refused even so.
    pub fn allow_bearer(mut self, allow: bool) -> Self {
        self.allow_bearer = allow;
        self
    }

    /// Whether the `DPoP` scheme is accepted at all (default: yes). An mTLS-only server turns
    /// it off: the `DPoP` scheme is then treated as unknown and no DPoP challenge is sent.
    pub fn accept_dpop(mut self, accept: bool) -> Self {
        self.dpop.accept = accept;
        self
    }

    /// Other URIs the proof's `htu` may name for this server (e.g. an mTLS alias host).
    pub fn with_htu_aliases(mut self, aliases: &'a [&'a str]) -> Self {
        self.dpop.htu_aliases = aliases;
        self
    }
}

/// Verifies requests to protected resources (RFC 9449 §7, RFC 8705 §3, RFC 6750 §3).
pub struct ResourceServer<'a> {
    config: RsConfig<'a>,
    algs: AlgSet,
    challenge: Arc<ChallengeParams>,
}

/// What every challenge of a server carries, shared with its pending requests.
#[derive(Debug)]
struct ChallengeParams {
    algs: AlgSet,
    accept_dpop: bool,
    resource_metadata: Option<String>,
}

impl fmt::Debug for ResourceServer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceServer")
            .field("config", &self.config)
            .field("algs", &self.algs)
            .finish()
    }
}

impl<'a> ResourceServer<'a> {
    /// A resource server with `config`.
    pub fn new(config: RsConfig<'a>) -> Self {
        let algs = config.dpop.supported_algs();
        let challenge = Arc::new(ChallengeParams {
            algs,
            accept_dpop: config.dpop.accept,
            resource_metadata: config.resource_metadata.clone(),
        });
        ResourceServer {
            config,
            algs,
            challenge,
        }
    }

    /// Whether this server has a replay store of its own (see
    /// [`RsConfig::without_replay_store`]).
    pub fn has_replay_store(&self) -> bool {
        self.config.dpop.replay.is_some()
    }

    /// The algorithms proofs may use: the policy's, limited to what the verifier supports
    /// (the `algs` of the DPoP challenge).
    pub fn algs(&self) -> AlgSet {
        self.algs
    }

    /// The effective DPoP policy, with the configured nonce source.
    pub fn policy(&self) -> Policy<'_> {
        self.config.dpop.policy()
    }

    /// A fresh nonce for a `DPoP-Nonce` response header (RFC 9449 §9), when nonces are required.
    pub fn issue_nonce(&self, now: u64) -> Option<String> {
        crate::common::issue_nonce(&self.policy(), now)
    }

    /// Step 1: the scheme and token of the request, so the host can look the token up and
    /// find its `cnf`. Missing, unknown-scheme and malformed headers are rejected here.
    pub fn credentials<'r>(&self, req: &RsRequest<'r>) -> Result<Credentials<'r>, Rejection> {
        match parse_authorization(req.authorization) {
            Ok(Authorization::Token(c)) if c.scheme == Scheme::Dpop && !self.config.dpop.accept => {
                Err(self.reject(RsError::UnsupportedScheme, None, 0))
            }
            Ok(Authorization::Token(c)) => Ok(c),
            Ok(Authorization::None) => Err(self.reject(RsError::MissingToken, None, 0)),
            Ok(_) => Err(self.reject(RsError::UnsupportedScheme, None, 0)),
            Err(e) => {
                let scheme = authorization_scheme(req.authorization);
                Err(self.reject(RsError::MalformedAuthorization(e), scheme, 0))
            }
        }
    }

    /// Step 2: whether `req` may use the token whose `cnf` claim is `cnf` (use
    /// [`Confirmation::new`] for a token without `cnf`), at `now` (Unix seconds), with the
    /// proof's `jti` recorded in the configured replay store.
    ///
    /// [`ResourceServer::check`] then [`PendingRequest::commit`] with that store. Runs
    /// [`ResourceServer::credentials`] again (cheap), so a host that does not need the token
    /// before this step may call `verify` alone.
    pub fn verify(
        &self,
        req: &RsRequest<'_>,
        cnf: &Confirmation,
        now: u64,
    ) -> Result<Accepted, Rejection> {
        let pending = self.check(req, cnf, now)?;
        match pending.proof {
            Some(proof) => {
                let scheme = pending.scheme;
                let proof = self
                    .config
                    .dpop
                    .commit(proof)
                    .map_err(|e| self.reject(RsError::Dpop(e), Some(scheme), now))?;
                Ok(PendingRequest::accepted(scheme, Some(proof), pending.x5t))
            }
            None => Ok(PendingRequest::accepted(pending.scheme, None, pending.x5t)),
        }
    }

    /// Step 2 without the replay commit: every check of [`ResourceServer::verify`] (scheme
    /// versus binding, the proof's stateless checks with `ath` and `cnf.jkt`, the client
    /// certificate), answering a [`PendingRequest`] to commit to a replay store of the host's
    /// choice — synchronously or, for a networked store, without blocking
    /// ([`PendingRequest::commit_async`]).
    pub fn check(
        &self,
        req: &RsRequest<'_>,
        cnf: &Confirmation,
        now: u64,
    ) -> Result<PendingRequest, Rejection> {
        let creds = self.credentials(req)?;
        let scheme = creds.scheme;
        let reject = |e: RsError| self.reject(e, Some(scheme), now);

        // Fail closed: a token bound only by methods we cannot check is not a bearer token.
        if cnf.is_uncheckable() {
            return Err(reject(RsError::UnsupportedConfirmation));
        }
        let jkt = cnf.jkt().copied();
        let x5t = cnf.x5t_s256().copied();

        // Scheme versus binding, then the proof's stateless checks.
        let checked: Option<CheckedProof> = match scheme {
            Scheme::Bearer => {
                if jkt.is_some() {
                    return Err(reject(RsError::DpopTokenAsBearer));
                }
                if !req.dpop.is_empty() {
                    return Err(reject(RsError::ProofWithBearer));
                }
                None
            }
            Scheme::Dpop => {
                let Some(jkt) = jkt else {
                    return Err(reject(RsError::UnboundTokenAsDpop));
                };
                Some(
                    self.check_proof(req, creds.token, jkt, now)
                        .map_err(|e| reject(RsError::Dpop(e)))?,
                )
            }
        };

        // Certificate binding.
        if x5t.is_some() {
            let result = match req.client_cert {
                Some(ClientCert::Der(der)) => {
                    keybound_mtls::check_certificate_binding(cnf, Some(der)).map(|_| ())
                }
                Some(ClientCert::Thumbprint(tp)) => {
                    keybound_mtls::check_thumbprint_binding(cnf, Some(&tp))
                }
                None => keybound_mtls::check_thumbprint_binding(cnf, None),
            };
            result.map_err(|e| reject(RsError::Certificate(e)))?;
        }

        if jkt.is_none() && x5t.is_none() && !self.config.allow_bearer {
            return Err(reject(RsError::BearerNotAllowed));
        }

        // Replay, last (the caller's commit): only a request that passed everything else
        // uses up its jti.
        Ok(PendingRequest {
            scheme,
            proof: checked,
            x5t,
            challenge: Arc::clone(&self.challenge),
        })
    }

    /// The rejection for a token the host found invalid after [`ResourceServer::credentials`]
    /// (unknown, expired, revoked): 401 `invalid_token` with the challenge of `scheme`
    /// (RFC 6750 §3.1, RFC 9449 §7.1).
    pub fn reject_invalid_token(&self, scheme: Scheme) -> Rejection {
        self.reject(RsError::InvalidToken, Some(scheme), 0)
    }

    /// [`ResourceServer::verify`] at the system clock's current time.
    #[cfg(feature = "std")]
    pub fn verify_now(
        &self,
        req: &RsRequest<'_>,
        cnf: &Confirmation,
    ) -> Result<Accepted, Rejection> {
        self.verify(req, cnf, crate::unix_now())
    }

    fn check_proof(
        &self,
        req: &RsRequest<'_>,
        token: &str,
        jkt: JwkThumbprint,
        now: u64,
    ) -> Result<CheckedProof, DpopError> {
        let proof = keybound_dpop::single_header_value(req.dpop)?;
        let request = keybound_dpop::Request::new(req.method, req.uri)
            .with_aliases(self.config.dpop.htu_aliases)
            .with_access_token(token)
            .with_jkt(jkt);
        keybound_dpop::check_proof(
            proof,
            &request,
            &self.policy(),
            &*self.config.dpop.verifier,
            now,
        )
    }

    /// Builds the rejection: challenges for the scheme used (both when none), plus a nonce
    /// when the proof lacked a valid one.
    fn reject(&self, error: RsError, scheme: Option<Scheme>, now: u64) -> Rejection {
        let dpop_nonce = match &error {
            RsError::Dpop(e) if e.needs_nonce() => self.issue_nonce(now),
            _ => None,
        };
        self.challenge.reject(error, scheme, dpop_nonce)
    }
}

impl ChallengeParams {
    /// The rejection for `error`: challenges for the scheme used (both when none).
    fn reject(
        &self,
        error: RsError,
        scheme: Option<Scheme>,
        dpop_nonce: Option<String>,
    ) -> Rejection {
        let mut challenges = Vec::with_capacity(2);
        let code = error.error_code();
        let desc = Description(&error).to_string();
        let dpop_at_fault = matches!(
            error,
            RsError::DpopTokenAsBearer | RsError::UnboundTokenAsDpop | RsError::Dpop(_)
        );
        let (bearer, dpop) = match (code, scheme) {
            // No usable token: offer every scheme this server takes.
            (None, _) | (_, None) => (true, true),
            _ if dpop_at_fault => (false, true),
            (_, Some(Scheme::Bearer)) if matches!(error, RsError::BearerNotAllowed) => (true, true),
            (_, Some(Scheme::Bearer)) => (true, false),
            (_, Some(Scheme::Dpop)) => (false, true),
        };
        if bearer {
            let mut s = bearer_challenge(code, &desc);
            self.append_resource_metadata(&mut s, code.is_some());
            challenges.push(s);
        }
        if dpop && self.accept_dpop {
            let mut s = String::new();
            // Writing into a String cannot fail.
            let _ = keybound_dpop::write_www_authenticate(&mut s, code, Some(&desc), self.algs);
            self.append_resource_metadata(&mut s, true);
            challenges.push(s);
        }
        Rejection {
            error,
            challenges,
            dpop_nonce,
        }
    }
}

impl ChallengeParams {
    /// `, resource_metadata="…"` (RFC 9728 §5.1) after earlier parameters, else
    /// ` resource_metadata="…"` after the bare scheme.
    fn append_resource_metadata(&self, challenge: &mut String, has_params: bool) {
        if let Some(url) = &self.resource_metadata {
            challenge.push_str(if has_params { ", " } else { " " });
            // Writing into a String cannot fail.
            let _ = write!(challenge, "resource_metadata=\"{}\"", QuotedText(url));
        }
    }
}

/// A request that passed every check of [`ResourceServer::check`]; commit its proof's `jti`
/// (RFC 9449 §11.1, step 11 of §4.3) to finish.
///
/// Owns what the commit needs (no borrow of the server or the request), so an async host can
/// hold it across `.await`.
#[derive(Clone, Debug)]
#[must_use = "a request is accepted only once its proof's jti is committed"]
pub struct PendingRequest {
    scheme: Scheme,
    proof: Option<CheckedProof>,
    x5t: Option<CertThumbprint>,
    challenge: Arc<ChallengeParams>,
}

impl PendingRequest {
    /// The `Authorization` scheme used.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The proof key's thumbprint (equal to `cnf.jkt`), when the token is DPoP-bound.
    pub fn jkt(&self) -> Option<&JwkThumbprint> {
        self.proof.as_ref().map(CheckedProof::jkt)
    }

    /// The certificate thumbprint (equal to `cnf."x5t#S256"`), when the token is
    /// certificate-bound.
    pub fn x5t_s256(&self) -> Option<&CertThumbprint> {
        self.x5t.as_ref()
    }

    /// Whether a proof waits to be committed (a DPoP-bound token); when not, the commit
    /// touches no store.
    pub fn needs_replay_commit(&self) -> bool {
        self.proof.is_some()
    }

    /// Records the proof's `jti` in `store` (RFC 9449 §11.1). A replay, or a store that cannot
    /// record it, rejects the request (fail closed; the latter is a server fault).
    pub fn commit<S: ReplayStore + ?Sized>(self, store: &S) -> Result<Accepted, Rejection> {
        let PendingRequest {
            scheme,
            proof,
            x5t,
            challenge,
        } = self;
        let proof = match proof {
            Some(p) => Some(
                p.commit(store)
                    .map_err(|e| challenge.reject(RsError::Dpop(e), Some(scheme), None))?,
            ),
            None => None,
        };
        Ok(Self::accepted(scheme, proof, x5t))
    }

    /// [`PendingRequest::commit`] through an [`AsyncReplayStore`] (e.g. one shared by a
    /// fleet), without blocking the runtime; the same verdicts. The future is `Send` when the
    /// store is `Sync`.
    pub async fn commit_async<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Accepted, Rejection> {
        let PendingRequest {
            scheme,
            proof,
            x5t,
            challenge,
        } = self;
        let proof = match proof {
            Some(p) => Some(
                p.commit_async(store)
                    .await
                    .map_err(|e| challenge.reject(RsError::Dpop(e), Some(scheme), None))?,
            ),
            None => None,
        };
        Ok(Self::accepted(scheme, proof, x5t))
    }

    /// The commit when `store` can answer without waiting
    /// ([`AsyncReplayStore::check_and_insert_inline`]): `Ok` with the verdict of
    /// [`PendingRequest::commit_async`]; `Err(self)` unchanged when the store needs I/O
    /// (nothing recorded: commit asynchronously).
    #[expect(
        clippy::result_large_err,
        reason = "Err hands the request back by value for the async commit; boxing it would \
                  cost the allocation this path exists to avoid"
    )]
    pub fn commit_inline<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Result<Accepted, Rejection>, PendingRequest> {
        let PendingRequest {
            scheme,
            proof,
            x5t,
            challenge,
        } = self;
        let Some(p) = proof else {
            return Ok(Ok(Self::accepted(scheme, None, x5t)));
        };
        match p.commit_inline(store) {
            Ok(Ok(verified)) => Ok(Ok(Self::accepted(scheme, Some(verified), x5t))),
            Ok(Err(e)) => Ok(Err(challenge.reject(RsError::Dpop(e), Some(scheme), None))),
            Err(p) => Err(PendingRequest {
                scheme,
                proof: Some(p),
                x5t,
                challenge,
            }),
        }
    }

    /// The rejection for a replay store that gave no answer in time (the host's timeout):
    /// `replay`, a server fault, like [`ReplayError::Unavailable`](keybound_dpop::replay::ReplayError).
    pub fn reject_store_unavailable(self) -> Rejection {
        let e = DpopError::ReplayStore(keybound_dpop::replay::ReplayError::Unavailable);
        self.challenge
            .reject(RsError::Dpop(e), Some(self.scheme), None)
    }

    fn accepted(scheme: Scheme, proof: Option<Verified>, x5t: Option<CertThumbprint>) -> Accepted {
        let binding = match (&proof, x5t) {
            (Some(p), Some(x5t)) => Binding::Both { jkt: p.jkt, x5t },
            (Some(p), None) => Binding::Dpop { jkt: p.jkt },
            (None, Some(x5t)) => Binding::Mtls { x5t },
            (None, None) => Binding::Bearer,
        };
        Accepted {
            binding,
            scheme,
            proof,
        }
    }
}

/// The scheme of a malformed `Authorization` header, if it names one we know.
fn authorization_scheme(values: &[&[u8]]) -> Option<Scheme> {
    let [one] = values else { return None };
    let s = core::str::from_utf8(one).ok()?;
    let s = s.trim_start_matches([' ', '\t']);
    Scheme::from_name(s.split([' ', '\t']).next().unwrap_or_default())
}

/// `Bearer error="…", error_description="…"` (RFC 6750 §3); bare `Bearer` with no error.
fn bearer_challenge(code: Option<&str>, desc: &str) -> String {
    let mut s = String::from("Bearer");
    if let Some(code) = code {
        // Writing into a String cannot fail.
        let _ = write!(s, " error=\"{code}\", error_description=\"{desc}\"");
    }
    s
}

/// Text made safe for a quoted-string (no `"`, `\`, controls or non-ASCII).
struct QuotedText<'t>(&'t str);

impl fmt::Display for QuotedText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            let ok = c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\';
            f.write_char(if ok { c } else { '\'' })?;
        }
        Ok(())
    }
}

/// The error text made safe for a quoted-string (no `"`, `\` or non-ASCII).
struct Description<'e>(&'e RsError);

impl fmt::Display for Description<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Clean<'f, 'g>(&'f mut fmt::Formatter<'g>);
        impl fmt::Write for Clean<'_, '_> {
            fn write_str(&mut self, s: &str) -> fmt::Result {
                for c in s.chars() {
                    let ok = c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\';
                    self.0.write_char(if ok { c } else { '\'' })?;
                }
                Ok(())
            }
        }
        write!(Clean(f), "{}", self.0)
    }
}
