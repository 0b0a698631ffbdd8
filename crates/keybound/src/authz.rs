//! Authorization-server helpers: `dpop_jkt` at PAR / authorization (RFC 9449 §10), the token
//! endpoint's proof check in two phases, the issued token's `cnf` and `token_type`
//! (RFC 9449 §5–6, RFC 8705 §3), and the refresh-token binding rule (RFC 9449 §5).
//!
//! Token endpoint flow:
//!
//! 1. [`AuthorizationServer::check_token_request`]: stateless checks of the `DPoP` proof and
//!    of the grant's binding (the code's `dpop_jkt`, a public client's refresh-token key);
//! 2. the host authenticates the client (its own code);
//! 3. [`PendingToken::commit`]: the proof's `jti` goes into the replay store, and the answer
//!    is the [`TokenBinding`]: `cnf` for the access token, `token_type`, and the binding to
//!    record with the refresh token.
//!
//! Errors are answered with HTTP 400 and a JSON body ([`AsRejection::body_json`]):
//! `invalid_dpop_proof`, `use_dpop_nonce` (with a `DPoP-Nonce` header), `invalid_request`
//! or `invalid_grant`.
//!
//! # Which recorded bindings are honoured
//!
//! A refresh token's binding ([`Grant::RefreshToken`]) is checked by its `jkt` (a proof with
//! that key) and its `x5t#S256` (that client certificate), for public clients and, when
//! configured, confidential ones (RFC 9449 §5, RFC 8705 §4). Any other member beside those
//! is ignored (RFC 7800 §3.1). A binding with members but neither `jkt` nor `x5t#S256` (only
//! `jwk`, `kid`, `osc`, `x5t#S512`, an unknown member, …) is never treated as unbound: the
//! request is refused with [`AsError::UnsupportedConfirmation`] (`invalid_grant`), since
//! the refresh token is bound to something this server cannot check. Only an empty binding
//! is unbound. A confidential client's binding is not consulted at all unless
//! [`AsConfig::bind_confidential_refresh_tokens`] is on (RFC 9449 §5).

use alloc::boxed::Box;
use alloc::string::{String, ToString as _};
use core::fmt;

use keybound_cnf::{BindingError, CertThumbprint, Confirmation, JwkThumbprint, ThumbprintError};
use keybound_dpop::nonce::NonceSource;
use keybound_dpop::replay::{AsyncReplayStore, ReplayStore};
use keybound_dpop::{AlgSet, CheckedProof, DpopError, Policy, SignatureVerifier, Verified};
use keybound_mtls::CertBindingError;

use crate::common::{DpopSettings, PolicyParams};
use crate::rs::ClientCert;

/// Whether a client authenticates at the token endpoint (RFC 6749 §2.1).
pub use keybound_dpop::ClientKind;

/// The access token type to answer in the token response (RFC 9449 §5, RFC 6750 §4).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// `DPoP`: the access token is bound to the proof key.
    Dpop,
    /// `Bearer`: unbound, or bound to the client certificate only (RFC 8705).
    Bearer,
}

impl TokenType {
    /// `DPoP` or `Bearer`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenType::Dpop => "DPoP",
            TokenType::Bearer => "Bearer",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reads an authorization request's `dpop_jkt` parameter (RFC 9449 §10): a base64url
/// SHA-256 JWK thumbprint.
pub fn parse_dpop_jkt(value: &str) -> Result<JwkThumbprint, AsRejection> {
    JwkThumbprint::from_b64(value).map_err(|e| AsRejection::new(AsError::InvalidDpopJkt(e), None))
}

/// The grant of a token request, with the binding recorded when it was issued.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grant {
    /// `authorization_code`; `dpop_jkt` is the key recorded at PAR / authorization
    /// (RFC 9449 §10): the proof must be made with it.
    AuthorizationCode {
        /// The key the code is bound to.
        dpop_jkt: Option<JwkThumbprint>,
    },
    /// `refresh_token`; `binding` is what [`TokenBinding::refresh_token_cnf`] said when the
    /// refresh token was issued (a binding with only methods this server cannot check is
    /// refused: see the module docs).
    RefreshToken {
        /// The refresh token's binding.
        binding: Confirmation,
    },
    /// Any other grant (`client_credentials`, token exchange, …): no earlier binding.
    Other,
}

/// A request to the token endpoint, as the host sees it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct TokenRequest<'r> {
    /// The method, normally `POST`.
    pub method: &'r str,
    /// The token endpoint URI as the client addressed it (`htu`).
    pub uri: &'r str,
    /// Every `DPoP` header value.
    pub dpop: &'r [&'r [u8]],
    /// The client certificate of the TLS connection (or from a trusted proxy).
    pub client_cert: Option<ClientCert<'r>>,
    /// Public or confidential client.
    pub client: ClientKind,
    /// The grant and its recorded binding.
    pub grant: Grant,
    /// The client is registered with `dpop_bound_access_tokens: true` (RFC 9449 §5.2): a
    /// request without a proof is refused.
    pub dpop_required: bool,
}

impl<'r> TokenRequest<'r> {
    /// A `POST` to `uri` by a `client` for `grant`, without proof or certificate.
    pub const fn new(uri: &'r str, client: ClientKind, grant: Grant) -> Self {
        TokenRequest {
            method: "POST",
            uri,
            dpop: &[],
            client_cert: None,
            client,
            grant,
            dpop_required: false,
        }
    }

    /// For a client registered with `dpop_bound_access_tokens: true` (RFC 9449 §5.2).
    #[must_use]
    pub const fn with_dpop_required(mut self, required: bool) -> Self {
        self.dpop_required = required;
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

    /// With another method than `POST`.
    #[must_use]
    pub const fn with_method(mut self, method: &'r str) -> Self {
        self.method = method;
        self
    }
}

/// Why the authorization server refuses a request.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum AsError {
    /// The DPoP proof failed (RFC 9449 §4.3), including a key other than the code's
    /// `dpop_jkt` or a public client's refresh-token key (`key_binding`).
    Dpop(DpopError),
    /// `dpop_jkt` is not a SHA-256 JWK thumbprint (RFC 9449 §10): `invalid_request`.
    InvalidDpopJkt(ThumbprintError),
    /// The policy requires sender-constrained tokens and the request has neither a DPoP proof
    /// nor a client certificate (FAPI 2.0 §5.3.2.1 items 4–5): `invalid_request`.
    ProofOfPossessionRequired,
    /// A `DPoP` proof was sent to a server that does not issue DPoP-bound tokens:
    /// `invalid_request`.
    DpopNotSupported,
    /// The refresh token is bound to a client certificate and this one differs or is
    /// missing (RFC 8705 §4): `invalid_grant`.
    Certificate(CertBindingError),
    /// The refresh token's recorded binding has members but neither `jkt` nor `x5t#S256`
    /// (RFC 7800 §3.1): it is bound by a method this server cannot check, and is refused
    /// rather than treated as unbound (see the module docs): `invalid_grant`.
    UnsupportedConfirmation,
}

impl AsError {
    /// The OAuth error code (RFC 6749 §5.2, RFC 9449 §7.1).
    pub fn error_code(&self) -> &'static str {
        match self {
            AsError::Dpop(e) => e.wire_error(),
            AsError::Certificate(CertBindingError::Binding(_))
            | AsError::UnsupportedConfirmation => "invalid_grant",
            _ => "invalid_request",
        }
    }

    /// The short name of the fault: the [`keybound_dpop::Reason`] string when the proof is at
    /// fault, else `dpop_jkt`, `pop_required`, `dpop_not_supported`, `certificate_missing`,
    /// `certificate_mismatch`, `certificate_malformed`, `certificate_binding` or
    /// `unsupported_cnf`.
    pub fn reason(&self) -> &'static str {
        match self {
            AsError::Dpop(e) => e.reason().as_str(),
            AsError::InvalidDpopJkt(_) => "dpop_jkt",
            AsError::ProofOfPossessionRequired => "pop_required",
            AsError::DpopNotSupported => "dpop_not_supported",
            AsError::Certificate(CertBindingError::Binding(BindingError::NoCertificate)) => {
                "certificate_missing"
            }
            AsError::Certificate(CertBindingError::Binding(BindingError::Mismatch)) => {
                "certificate_mismatch"
            }
            AsError::Certificate(CertBindingError::MalformedCertificate(_)) => {
                "certificate_malformed"
            }
            AsError::Certificate(_) => "certificate_binding",
            AsError::UnsupportedConfirmation => "unsupported_cnf",
        }
    }
}

impl fmt::Display for AsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AsError::Dpop(e) => fmt::Display::fmt(e, f),
            AsError::InvalidDpopJkt(e) => write!(f, "dpop_jkt is invalid: {e}"),
            AsError::ProofOfPossessionRequired => f.write_str(
                "sender-constrained tokens required: send a DPoP proof or use a client certificate",
            ),
            AsError::DpopNotSupported => f.write_str("DPoP is not supported by this server"),
            AsError::Certificate(e) => fmt::Display::fmt(e, f),
            AsError::UnsupportedConfirmation => {
                f.write_str("the refresh token is bound by a cnf method this server cannot check")
            }
        }
    }
}

impl core::error::Error for AsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            AsError::Dpop(e) => Some(e),
            AsError::InvalidDpopJkt(e) => Some(e),
            AsError::Certificate(e) => Some(e),
            _ => None,
        }
    }
}

/// A refused PAR or token request: HTTP 400, the JSON error body and maybe a `DPoP-Nonce`.
#[derive(Clone, Debug, PartialEq)]
pub struct AsRejection {
    error: AsError,
    dpop_nonce: Option<String>,
}

impl AsRejection {
    fn new(error: AsError, dpop_nonce: Option<String>) -> Self {
        AsRejection { error, dpop_nonce }
    }

    /// The HTTP status: 400 (RFC 6749 §5.2), or 429 when the proof key is over its replay
    /// quota ([`DpopError::is_rate_limited`]).
    pub fn status(&self) -> u16 {
        match &self.error {
            AsError::Dpop(e) if e.is_rate_limited() => 429,
            _ => 400,
        }
    }

    /// The OAuth error code (see [`AsError::error_code`]).
    pub fn error(&self) -> &'static str {
        self.error.error_code()
    }

    /// The short name of the fault (see [`AsError::reason`]).
    pub fn reason(&self) -> &'static str {
        self.error.reason()
    }

    /// A human-readable description.
    pub fn description(&self) -> String {
        self.error.to_string()
    }

    /// The typed cause.
    pub fn kind(&self) -> &AsError {
        &self.error
    }

    /// The `DPoP-Nonce` value to send with `use_dpop_nonce` (RFC 9449 §8).
    pub fn dpop_nonce(&self) -> Option<&str> {
        self.dpop_nonce.as_deref()
    }

    /// Whether the server, not the client, is at fault (replay store full or unavailable).
    pub fn is_server_fault(&self) -> bool {
        matches!(&self.error, AsError::Dpop(e) if e.is_server_fault())
    }

    /// The response body `{"error":"…","error_description":"…"}` (RFC 6749 §5.2); send it
    /// with `Content-Type: application/json` and `Cache-Control: no-store`.
    pub fn body_json(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = match &self.error {
            AsError::Dpop(e) => keybound_dpop::write_error_body(&mut s, e),
            e => write_body(&mut s, e),
        };
        s
    }
}

fn write_body(out: &mut String, e: &AsError) -> fmt::Result {
    out.push_str("{\"error\":");
    keybound_json::write_str(out, e.error_code())?;
    out.push_str(",\"error_description\":");
    keybound_json::write_str(out, &e.to_string())?;
    out.push('}');
    Ok(())
}

impl fmt::Display for AsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "400 {} ({}): {}",
            self.error(),
            self.reason(),
            self.error
        )
    }
}

impl core::error::Error for AsRejection {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// What the token endpoint issues: the access token's `cnf`, its `token_type`, and the binding
/// to record with a refresh token issued alongside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBinding {
    cnf: Confirmation,
    token_type: TokenType,
    refresh_token_cnf: Confirmation,
    proof: Option<Verified>,
}

impl TokenBinding {
    /// The access token's `cnf` claim (`jkt` and/or `x5t#S256`; empty when unbound).
    pub fn cnf(&self) -> &Confirmation {
        &self.cnf
    }

    /// `token_type` for the token response: `DPoP` when a proof was presented.
    pub fn token_type(&self) -> TokenType {
        self.token_type
    }

    /// The binding to store with the refresh token and pass back as
    /// [`Grant::RefreshToken`]: the key of this request for public clients (RFC 9449 §5),
    /// empty for confidential clients unless configured otherwise.
    pub fn refresh_token_cnf(&self) -> &Confirmation {
        &self.refresh_token_cnf
    }

    /// The validated proof, when one was presented.
    pub fn proof(&self) -> Option<&Verified> {
        self.proof.as_ref()
    }
}

/// A token request that passed the stateless checks; authenticate the client, then
/// [`PendingToken::commit`].
#[derive(Clone, Debug)]
#[must_use = "the proof's jti must be committed to the replay store"]
pub struct PendingToken {
    proof: Option<CheckedProof>,
    x5t: Option<CertThumbprint>,
    bind_refresh: bool,
}

impl PendingToken {
    /// The proof key's thumbprint, when a proof was presented.
    pub fn jkt(&self) -> Option<&JwkThumbprint> {
        self.proof.as_ref().map(CheckedProof::jkt)
    }

    /// The client certificate's thumbprint, when one binds the token.
    pub fn x5t_s256(&self) -> Option<&CertThumbprint> {
        self.x5t.as_ref()
    }

    /// Records the proof's `jti` (RFC 9449 §11.1) in the server's replay store and returns
    /// what to issue. A server built without a store of its own
    /// ([`AsConfig::without_replay_store`]) refuses the proof as a server fault: use
    /// [`PendingToken::commit_to`] or [`PendingToken::commit_async`] with the host's store.
    pub fn commit(self, server: &AuthorizationServer<'_>) -> Result<TokenBinding, AsRejection> {
        let proof = match self.proof {
            Some(p) => Some(
                server
                    .config
                    .dpop
                    .commit(p)
                    .map_err(|e| AsRejection::new(AsError::Dpop(e), None))?,
            ),
            None => None,
        };
        Ok(issue(proof, self.x5t, self.bind_refresh))
    }

    /// Records the proof's `jti` in `store` (RFC 9449 §11.1) and returns what to issue.
    pub fn commit_to<S: ReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<TokenBinding, AsRejection> {
        let proof = match self.proof {
            Some(p) => Some(
                p.commit(store)
                    .map_err(|e| AsRejection::new(AsError::Dpop(e), None))?,
            ),
            None => None,
        };
        Ok(issue(proof, self.x5t, self.bind_refresh))
    }

    /// [`PendingToken::commit_to`] through an [`AsyncReplayStore`] (e.g. one shared by the
    /// authorization server's replicas), without blocking the runtime; the same verdicts.
    pub async fn commit_async<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<TokenBinding, AsRejection> {
        let proof = match self.proof {
            Some(p) => Some(
                p.commit_async(store)
                    .await
                    .map_err(|e| AsRejection::new(AsError::Dpop(e), None))?,
            ),
            None => None,
        };
        Ok(issue(proof, self.x5t, self.bind_refresh))
    }
}

/// What to issue once the proof (if any) is recorded.
fn issue(proof: Option<Verified>, x5t: Option<CertThumbprint>, bind_refresh: bool) -> TokenBinding {
    let mut cnf = Confirmation::new();
    if let Some(p) = &proof {
        cnf = cnf.with_jkt(p.jkt);
    }
    if let Some(x5t) = x5t {
        cnf = cnf.with_x5t_s256(x5t);
    }
    let token_type = if proof.is_some() {
        TokenType::Dpop
    } else {
        TokenType::Bearer
    };
    let refresh_token_cnf = if bind_refresh {
        cnf
    } else {
        Confirmation::new()
    };
    TokenBinding {
        cnf,
        token_type,
        refresh_token_cnf,
        proof,
    }
}

/// A PAR request that passed the stateless checks; authenticate the client, then
/// [`PendingPar::commit`].
#[derive(Clone, Debug)]
#[must_use = "the proof's jti must be committed to the replay store"]
pub struct PendingPar {
    explicit: Option<JwkThumbprint>,
    proof: Option<CheckedProof>,
}

impl PendingPar {
    /// The key the authorization code will be bound to, if any.
    pub fn jkt(&self) -> Option<&JwkThumbprint> {
        self.proof
            .as_ref()
            .map(CheckedProof::jkt)
            .or(self.explicit.as_ref())
    }

    /// Records the proof's `jti` (RFC 9449 §11.1) in the server's replay store and returns
    /// the code's key (see [`PendingToken::commit`] for a server without a store).
    pub fn commit(
        self,
        server: &AuthorizationServer<'_>,
    ) -> Result<Option<JwkThumbprint>, AsRejection> {
        match self.proof {
            Some(p) => server
                .config
                .dpop
                .commit(p)
                .map(|v| Some(v.jkt))
                .map_err(|e| AsRejection::new(AsError::Dpop(e), None)),
            None => Ok(self.explicit),
        }
    }

    /// Records the proof's `jti` in `store` (RFC 9449 §11.1) and returns the code's key.
    pub fn commit_to<S: ReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Option<JwkThumbprint>, AsRejection> {
        match self.proof {
            Some(p) => p
                .commit(store)
                .map(|v| Some(v.jkt))
                .map_err(|e| AsRejection::new(AsError::Dpop(e), None)),
            None => Ok(self.explicit),
        }
    }

    /// [`PendingPar::commit_to`] through an [`AsyncReplayStore`], without blocking.
    pub async fn commit_async<S: AsyncReplayStore + ?Sized>(
        self,
        store: &S,
    ) -> Result<Option<JwkThumbprint>, AsRejection> {
        match self.proof {
            Some(p) => p
                .commit_async(store)
                .await
                .map(|v| Some(v.jkt))
                .map_err(|e| AsRejection::new(AsError::Dpop(e), None)),
            None => Ok(self.explicit),
        }
    }
}

/// Authorization-server settings.
#[must_use]
pub struct AsConfig<'a> {
    dpop: DpopSettings<'a>,
    mtls: bool,
    require_pop: bool,
    bind_confidential_refresh: bool,
}

impl fmt::Debug for AsConfig<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("AsConfig");
        self.dpop.debug_fields(&mut d);
        d.field("mtls", &self.mtls)
            .field("require_pop", &self.require_pop)
            .field("bind_confidential_refresh", &self.bind_confidential_refresh)
            .finish_non_exhaustive()
    }
}

impl<'a> AsConfig<'a> {
    /// RFC 9449 defaults: every algorithm, no nonce, DPoP and certificate-bound tokens both
    /// issued, unbound tokens allowed when the client proves nothing, confidential clients'
    /// refresh tokens not bound to a key.
    pub fn new(replay: impl ReplayStore + Send + Sync + 'a) -> Self {
        AsConfig {
            dpop: DpopSettings::new(replay),
            mtls: true,
            require_pop: false,
            bind_confidential_refresh: false,
        }
    }

    /// [`AsConfig::new`] for a host that records proofs in a store of its own (an
    /// [`AsyncReplayStore`] shared by replicas, say): commit with [`PendingToken::commit_to`] /
    /// [`PendingToken::commit_async`]. The configured-store paths
    /// ([`PendingToken::commit`], [`AuthorizationServer::token_binding`],
    /// [`AuthorizationServer::par_binding`]) then refuse proofs as a server fault.
    pub fn without_replay_store() -> Self {
        AsConfig {
            dpop: DpopSettings::with_replay(None),
            mtls: true,
            require_pop: false,
            bind_confidential_refresh: false,
        }
    }

    /// From a resolved profile (FAPI 2.0 or RFC): its algorithms, `iat` window, RSA minimum,
    /// enabled mechanisms, refresh-token rule, and a refusal of token requests without proof
    /// of possession when the profile makes sender-constrained tokens mandatory (FAPI 2.0
    /// §5.3.2.1; plain RFC 9449 issues a Bearer token instead). `nonce` is required when the
    /// configuration requires nonces.
    #[cfg(feature = "profile")]
    pub fn from_resolved(
        resolved: &keybound_profile::ResolvedConfig,
        replay: impl ReplayStore + Send + Sync + 'a,
        nonce: Option<Box<dyn NonceSource + Send + Sync + 'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        Self::from_resolved_store(resolved, Some(Box::new(replay)), nonce)
    }

    /// [`AsConfig::from_resolved`] without a replay store of its own (see
    /// [`AsConfig::without_replay_store`]).
    #[cfg(feature = "profile")]
    pub fn from_resolved_without_replay_store(
        resolved: &keybound_profile::ResolvedConfig,
        nonce: Option<Box<dyn NonceSource + Send + Sync + 'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        Self::from_resolved_store(resolved, None, nonce)
    }

    #[cfg(feature = "profile")]
    fn from_resolved_store(
        resolved: &keybound_profile::ResolvedConfig,
        replay: Option<crate::common::BoxedReplay<'a>>,
        nonce: Option<Box<dyn NonceSource + Send + Sync + 'a>>,
    ) -> Result<Self, keybound_profile::PolicyError> {
        use keybound_profile::{Feature, RefreshTokenBinding};
        Ok(AsConfig {
            dpop: DpopSettings::from_resolved(resolved, replay, nonce)?,
            mtls: resolved.is_enabled(Feature::Mtls),
            require_pop: resolved.sender_constrained_tokens_required(),
            bind_confidential_refresh: resolved.refresh_token_binding(ClientKind::Confidential)
                == RefreshTokenBinding::Key,
        })
    }

    /// With this DPoP policy (algorithms, `iat` window, RSA minimum). A nonce source in
    /// `policy` cannot be kept (it is not `Sync`): set it with [`AsConfig::with_nonce`];
    /// until then every proof is refused with `use_dpop_nonce` (fail closed).
    pub fn with_policy(mut self, policy: Policy<'_>) -> Self {
        self.dpop.policy = PolicyParams::from_policy(&policy);
        self
    }

    /// Requiring proofs to carry a nonce from `source` (RFC 9449 §8).
    pub fn with_nonce(mut self, source: impl NonceSource + Send + Sync + 'a) -> Self {
        self.dpop.nonce = Some(Box::new(source));
        self
    }

    /// Verifying proof signatures with `verifier` (default: [`DefaultVerifier`](keybound_dpop::DefaultVerifier)).
    pub fn with_verifier(mut self, verifier: impl SignatureVerifier + Send + Sync + 'a) -> Self {
        self.dpop.verifier = Box::new(verifier);
        self
    }

    /// Whether DPoP proofs are accepted (default: yes).
    pub fn accept_dpop(mut self, accept: bool) -> Self {
        self.dpop.accept = accept;
        self
    }

    /// Whether access tokens are bound to the client certificate when one is presented
    /// (`tls_client_certificate_bound_access_tokens`, RFC 8705 §3; default: yes).
    pub fn mtls_bound_tokens(mut self, bind: bool) -> Self {
        self.mtls = bind;
        self
    }

    /// Whether a token request without a proof and without a client certificate is refused
    /// (FAPI 2.0; default: no).
    pub fn require_proof_of_possession(mut self, require: bool) -> Self {
        self.require_pop = require;
        self
    }

    /// Whether confidential clients' refresh tokens are bound to their key too (default: no,
    /// RFC 9449 §5).
    pub fn bind_confidential_refresh_tokens(mut self, bind: bool) -> Self {
        self.bind_confidential_refresh = bind;
        self
    }

    /// Other URIs the proof's `htu` may name (e.g. `mtls_endpoint_aliases`).
    pub fn with_htu_aliases(mut self, aliases: &'a [&'a str]) -> Self {
        self.dpop.htu_aliases = aliases;
        self
    }
}

/// PAR, authorization and token endpoint checks (RFC 9449 §5, §10; RFC 8705 §3).
pub struct AuthorizationServer<'a> {
    config: AsConfig<'a>,
    algs: AlgSet,
}

impl fmt::Debug for AuthorizationServer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("config", &self.config)
            .field("algs", &self.algs)
            .finish()
    }
}

impl<'a> AuthorizationServer<'a> {
    /// An authorization server with `config`.
    pub fn new(config: AsConfig<'a>) -> Self {
        let algs = config.dpop.supported_algs();
        AuthorizationServer { config, algs }
    }

    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1): the policy's algorithms the
    /// verifier supports.
    pub fn algs(&self) -> AlgSet {
        self.algs
    }

    /// The effective DPoP policy, with the configured nonce source.
    pub fn policy(&self) -> Policy<'_> {
        self.config.dpop.policy()
    }

    /// A fresh nonce for a `DPoP-Nonce` response header (RFC 9449 §8), when nonces are required.
    pub fn issue_nonce(&self, now: u64) -> Option<String> {
        crate::common::issue_nonce(&self.policy(), now)
    }

    /// At the PAR endpoint (RFC 9449 §10.1): the key to bind the authorization code to, from
    /// the `dpop_jkt` parameter, the request's own DPoP proof, or both (which must match).
    /// The proof is fully validated, replay included. `Ok(None)`: no binding requested.
    /// [`AuthorizationServer::check_par`] splits this in two around client authentication.
    pub fn par_binding(
        &self,
        method: &str,
        uri: &str,
        dpop: &[&[u8]],
        dpop_jkt: Option<&str>,
        now: u64,
    ) -> Result<Option<JwkThumbprint>, AsRejection> {
        self.check_par(method, uri, dpop, dpop_jkt, now)?
            .commit(self)
    }

    /// PAR, phase one (stateless): `dpop_jkt` syntax and the proof's checks, the proof key
    /// required to equal `dpop_jkt` when both are sent (RFC 9449 §10.1). Authenticate the
    /// client, then [`PendingPar::commit`].
    pub fn check_par(
        &self,
        method: &str,
        uri: &str,
        dpop: &[&[u8]],
        dpop_jkt: Option<&str>,
        now: u64,
    ) -> Result<PendingPar, AsRejection> {
        let explicit = dpop_jkt.map(parse_dpop_jkt).transpose()?;
        if dpop.is_empty() {
            return Ok(PendingPar {
                explicit,
                proof: None,
            });
        }
        if !self.config.dpop.accept {
            return Err(AsRejection::new(AsError::DpopNotSupported, None));
        }
        let proof = Some(self.check_proof(method, uri, dpop, explicit, now)?);
        Ok(PendingPar { explicit, proof })
    }

    /// At the authorization endpoint without PAR (RFC 9449 §10): the code's key from the
    /// `dpop_jkt` parameter, if any.
    pub fn authorize_binding(
        &self,
        dpop_jkt: Option<&str>,
    ) -> Result<Option<JwkThumbprint>, AsRejection> {
        dpop_jkt.map(parse_dpop_jkt).transpose()
    }

    /// Token endpoint, phase one (stateless): the proof (RFC 9449 §4.3 steps 1–10) against the
    /// grant's binding, the refresh-token rule (RFC 9449 §5), the client certificate (RFC 8705
    /// §3, §4) and the proof-of-possession requirement.
    pub fn check_token_request(
        &self,
        req: &TokenRequest<'_>,
        now: u64,
    ) -> Result<PendingToken, AsRejection> {
        let key_bound_refresh =
            req.client == ClientKind::Public || self.config.bind_confidential_refresh;
        let (expected_jkt, expected_x5t) = match req.grant {
            Grant::AuthorizationCode { dpop_jkt } => (dpop_jkt, None),
            Grant::RefreshToken { binding } if key_bound_refresh => {
                // Fail closed: a binding we cannot check does not make the grant unbound.
                if binding.is_uncheckable() {
                    return Err(AsRejection::new(AsError::UnsupportedConfirmation, None));
                }
                (binding.jkt().copied(), binding.x5t_s256().copied())
            }
            Grant::RefreshToken { .. } | Grant::Other => (None, None),
        };

        let proof = if req.dpop.is_empty() {
            if expected_jkt.is_some() || req.dpop_required {
                // A key-bound code or refresh token needs a proof with that key, and a client
                // registered for DPoP-bound tokens always sends one.
                return Err(self.dpop_rejection(DpopError::MissingProof, now));
            }
            None
        } else if self.config.dpop.accept {
            Some(self.check_proof(req.method, req.uri, req.dpop, expected_jkt, now)?)
        } else {
            return Err(AsRejection::new(AsError::DpopNotSupported, None));
        };

        let presented = match req.client_cert {
            Some(ClientCert::Der(der)) => Some(
                keybound_mtls::x5t_s256_checked(der)
                    .map_err(|e| AsRejection::new(AsError::Certificate(e.into()), None))?,
            ),
            Some(ClientCert::Thumbprint(tp)) => Some(tp),
            None => None,
        };
        if let Some(bound) = expected_x5t {
            Confirmation::from_x5t_s256(bound)
                .check_x5t_s256(presented.as_ref())
                .map_err(|e| AsRejection::new(AsError::Certificate(e.into()), None))?;
        }
        let x5t = presented.filter(|_| self.config.mtls);

        if self.config.require_pop && proof.is_none() && x5t.is_none() {
            return Err(AsRejection::new(AsError::ProofOfPossessionRequired, None));
        }
        Ok(PendingToken {
            proof,
            x5t,
            bind_refresh: key_bound_refresh,
        })
    }

    /// Both token endpoint phases at once, for hosts that authenticate the client before.
    pub fn token_binding(
        &self,
        req: &TokenRequest<'_>,
        now: u64,
    ) -> Result<TokenBinding, AsRejection> {
        self.check_token_request(req, now)?.commit(self)
    }

    fn check_proof(
        &self,
        method: &str,
        uri: &str,
        dpop: &[&[u8]],
        jkt: Option<JwkThumbprint>,
        now: u64,
    ) -> Result<CheckedProof, AsRejection> {
        let run = || {
            let proof = keybound_dpop::single_header_value(dpop)?;
            let mut request =
                keybound_dpop::Request::new(method, uri).with_aliases(self.config.dpop.htu_aliases);
            if let Some(jkt) = jkt {
                request = request.with_jkt(jkt);
            }
            keybound_dpop::check_proof(
                proof,
                &request,
                &self.policy(),
                &*self.config.dpop.verifier,
                now,
            )
        };
        run().map_err(|e| self.dpop_rejection(e, now))
    }

    fn dpop_rejection(&self, e: DpopError, now: u64) -> AsRejection {
        let nonce = if e.needs_nonce() {
            self.issue_nonce(now)
        } else {
            None
        };
        AsRejection::new(AsError::Dpop(e), nonce)
    }
}
