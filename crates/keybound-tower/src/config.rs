//! The layer's configuration: built once, checked once, then shared behind an `Arc`.

use core::fmt;
use core::time::Duration;

use http::HeaderName;
use keybound::dpop::nonce::NonceSource;
use keybound::dpop::{Policy, SignatureVerifier};
use keybound::mtls::{CertFormat, IpPrefix};
use keybound::profile::{Feature, ResolvedConfig};
use keybound::rs::RsConfig;

use crate::metadata::ProtectedResourceMetadata;
use crate::metrics::Metrics;

/// Where the method and URI that a proof's `htm` and `htu` must match come from.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestTarget {
    /// The request itself: its method, and the configured public origin plus its path. The
    /// `Host` and `X-Forwarded-*` headers are never consulted (default).
    RequestLine,
    /// A forward-auth check (nginx `auth_request`, Traefik `ForwardAuth`, Envoy `ext_authz`
    /// over HTTP): the original method from `X-Original-Method` (else `X-Forwarded-Method`),
    /// the original URI from `X-Original-URI` (else `X-Forwarded-Uri`), prefixed by the public
    /// origin. A check without them is refused (400). Use it only on an endpoint the proxy
    /// alone can reach.
    ForwardAuth,
}

/// Why a [`GateConfig`] cannot be built.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The public origin is not `http(s)://host[:port]` (no path, query, fragment or
    /// user info).
    PublicOrigin(String),
    /// The profile's policy cannot be applied (e.g. it requires nonces and no nonce source
    /// was given).
    Profile(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::PublicOrigin(o) => write!(
                f,
                "public origin {o:?} is not http(s)://host[:port] without path, query or fragment"
            ),
            ConfigError::Profile(e) => write!(f, "profile: {e}"),
        }
    }
}

impl core::error::Error for ConfigError {}

/// Everything the layer needs besides the token validator and the replay store.
///
/// ```
/// use keybound_tower::{GateConfig, RequestTarget};
///
/// let config = GateConfig::new("https://api.example.com")?
///     .with_authorization_server("https://as.example.com")
///     .request_target(RequestTarget::RequestLine);
/// assert_eq!(config.public_origin(), "https://api.example.com");
/// # Ok::<(), keybound_tower::ConfigError>(())
/// ```
#[must_use]
pub struct GateConfig {
    pub(crate) origin: String,
    pub(crate) rs: RsConfig<'static>,
    pub(crate) accept_dpop: bool,
    pub(crate) allow_bearer: bool,
    pub(crate) mtls_bound: bool,
    pub(crate) target: RequestTarget,
    pub(crate) forward_prefix: Option<String>,
    pub(crate) proxies: Vec<IpPrefix>,
    pub(crate) cert_headers: Vec<(HeaderName, CertFormat)>,
    pub(crate) store_timeout: Option<Duration>,
    pub(crate) retry_after: u32,
    pub(crate) rotate_nonce: bool,
    pub(crate) serve_metadata: bool,
    pub(crate) resource: String,
    pub(crate) issuers: Vec<String>,
    pub(crate) scopes: Vec<String>,
    pub(crate) one_challenge_field: bool,
    pub(crate) metrics: Metrics,
    pub(crate) clock: fn() -> u64,
}

impl fmt::Debug for GateConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GateConfig")
            .field("public_origin", &self.origin)
            .field("rs", &self.rs)
            .field("target", &self.target)
            .field("trusted_proxies", &self.proxies)
            .field("cert_headers", &self.cert_headers)
            .field("store_timeout", &self.store_timeout)
            .field("retry_after", &self.retry_after)
            .field("rotate_nonce", &self.rotate_nonce)
            .field("serve_metadata", &self.serve_metadata)
            .field("resource", &self.resource)
            .field("authorization_servers", &self.issuers)
            .field("required_scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// Default wait for a replay store's answer before answering 503.
pub const DEFAULT_STORE_TIMEOUT: Duration = Duration::from_secs(2);

impl GateConfig {
    /// A gate for the resource server clients address as `public_origin`
    /// (`https://api.example.com`): RFC 9449 defaults (every algorithm the verifier supports,
    /// `iat` within 300 s, no nonce), DPoP- and certificate-bound tokens accepted, unbound
    /// tokens refused, no proxy trusted, store timeout [`DEFAULT_STORE_TIMEOUT`] (with feature
    /// `tokio`), metadata served at `/.well-known/oauth-protected-resource`.
    pub fn new(public_origin: &str) -> Result<Self, ConfigError> {
        let origin = check_origin(public_origin)?;
        Ok(GateConfig {
            resource: origin.clone(),
            issuers: Vec::new(),
            origin,
            rs: RsConfig::without_replay_store(),
            accept_dpop: true,
            allow_bearer: false,
            mtls_bound: true,
            target: RequestTarget::RequestLine,
            forward_prefix: None,
            proxies: Vec::new(),
            cert_headers: Vec::new(),
            store_timeout: cfg!(feature = "tokio").then_some(DEFAULT_STORE_TIMEOUT),
            retry_after: 1,
            rotate_nonce: false,
            serve_metadata: true,
            scopes: Vec::new(),
            one_challenge_field: false,
            metrics: Metrics::default(),
            clock: keybound::unix_now,
        })
    }

    /// The public origin proofs are checked against.
    pub fn public_origin(&self) -> &str {
        &self.origin
    }

    /// Applies a resolved profile (`rfc9449`, `fapi2-baseline`, `fapi2-message-signing`): its
    /// DPoP algorithms, `iat` window and RSA minimum, DPoP accepted when enabled, and the
    /// metadata derived from it. `nonce` is required when the configuration requires nonces.
    ///
    /// It replaces the DPoP settings made before it ([`GateConfig::with_policy`],
    /// [`GateConfig::with_nonce`], [`GateConfig::with_verifier`]): apply the profile first.
    pub fn with_profile(
        mut self,
        resolved: &ResolvedConfig,
        nonce: Option<Box<dyn NonceSource + Send + Sync>>,
    ) -> Result<Self, ConfigError> {
        self.rs = RsConfig::from_resolved_without_replay_store(resolved, nonce)
            .map_err(|e| ConfigError::Profile(e.to_string()))?
            .allow_bearer(self.allow_bearer);
        self.accept_dpop = resolved.is_enabled(Feature::Dpop);
        self.mtls_bound = resolved.is_enabled(Feature::Mtls);
        Ok(self)
    }

    /// With this DPoP policy (algorithms, `iat` window, RSA minimum; RFC 9449 §4.3).
    pub fn with_policy(mut self, policy: Policy<'_>) -> Self {
        self.rs = self.rs.with_policy(policy);
        self
    }

    /// Requiring server nonces in proofs (RFC 9449 §9), e.g. an `HmacNonceSource` shared by a
    /// fleet.
    pub fn with_nonce(mut self, source: impl NonceSource + Send + Sync + 'static) -> Self {
        self.rs = self.rs.with_nonce(source);
        self
    }

    /// Verifying proof signatures with `verifier` (default: keybound's `DefaultVerifier`, the
    /// fastest backend per algorithm, behind a prepared-key cache).
    pub fn with_verifier(
        mut self,
        verifier: impl SignatureVerifier + Send + Sync + 'static,
    ) -> Self {
        self.rs = self.rs.with_verifier(verifier);
        self
    }

    /// Whether the `DPoP` scheme is accepted (default: yes).
    pub fn accept_dpop(mut self, accept: bool) -> Self {
        self.accept_dpop = accept;
        self.rs = self.rs.accept_dpop(accept);
        self
    }

    /// Whether unbound tokens are accepted as plain bearer tokens (default: no).
    pub fn allow_bearer(mut self, allow: bool) -> Self {
        self.allow_bearer = allow;
        self.rs = self.rs.allow_bearer(allow);
        self
    }

    /// Whether to advertise `tls_client_certificate_bound_access_tokens` (default: yes; a
    /// profile sets it from its mTLS feature).
    pub fn advertise_mtls_bound_tokens(mut self, advertise: bool) -> Self {
        self.mtls_bound = advertise;
        self
    }

    /// Where `htm` and `htu` come from (default [`RequestTarget::RequestLine`]).
    pub fn request_target(mut self, target: RequestTarget) -> Self {
        self.target = target;
        self
    }

    /// For [`RequestTarget::ForwardAuth`]: when a check carries no original-request headers
    /// and its path starts with `prefix` (Envoy `ext_authz` with `path_prefix: /auth` sends
    /// `METHOD /auth/<original path>`), the original URI is the rest of the path and the
    /// original method is the check's own.
    pub fn forward_auth_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.forward_prefix = Some(prefix.into());
        self
    }

    /// Trusts peers in `prefixes` to forward the client certificate in a header (RFC 8705
    /// §3, RFC 9440): from them only the header counts; from anyone else headers are ignored
    /// and the TLS peer certificate ([`crate::PeerCertificate`]) counts.
    pub fn trust_proxies(mut self, prefixes: impl IntoIterator<Item = IpPrefix>) -> Self {
        self.proxies.extend(prefixes);
        self
    }

    /// A header trusted proxies put the client certificate in, and its format: RFC 9440
    /// `Client-Cert` ([`CertFormat::Rfc9440`]), nginx `$ssl_client_escaped_cert`
    /// ([`CertFormat::NginxEscaped`]), Envoy XFCC ([`CertFormat::Xfcc`]). When several are
    /// configured and a request carries more than one of them, it is refused (400).
    pub fn proxy_cert_header(mut self, name: HeaderName, format: CertFormat) -> Self {
        self.cert_headers.push((name, format));
        self
    }

    /// How long to wait for the replay store before answering 503 with `Retry-After`
    /// (fail closed; needs feature `tokio`, otherwise the store must bound its own time).
    #[cfg(feature = "tokio")]
    pub fn store_timeout(mut self, timeout: Duration) -> Self {
        self.store_timeout = Some(timeout);
        self
    }

    /// The `Retry-After` seconds of a 503 (default 1).
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after = secs;
        self
    }

    /// Whether accepted responses carry a fresh `DPoP-Nonce` (RFC 9449 §8.2) when nonces are
    /// required, so clients rotate before the old one expires (default: no).
    pub fn rotate_nonce(mut self, rotate: bool) -> Self {
        self.rotate_nonce = rotate;
        self
    }

    /// Whether the layer answers `GET` on the metadata path itself (default: yes).
    pub fn serve_metadata(mut self, serve: bool) -> Self {
        self.serve_metadata = serve;
        self
    }

    /// Adds an issuer to the metadata's `authorization_servers` (RFC 9728 §2).
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Uses `resource` (an URL on the public origin) as the RFC 9728 resource identifier
    /// (default: the public origin).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = resource.into();
        self
    }

    /// Requires every token to carry `scope` (RFC 6750 §3.1): otherwise 403
    /// `insufficient_scope`.
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Whether all challenges go into one `WWW-Authenticate` field joined by `, ` (RFC 9110
    /// §11.6.1; some proxies pass only one field back) instead of one field each (default).
    pub fn challenges_in_one_field(mut self, one: bool) -> Self {
        self.one_challenge_field = one;
        self
    }

    /// Counts decisions into `metrics` (default: a fresh set, see
    /// [`crate::KeyboundLayer::metrics`]).
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Reads the time (Unix seconds) from `clock` instead of the system clock (tests).
    pub fn with_clock(mut self, clock: fn() -> u64) -> Self {
        self.clock = clock;
        self
    }

    /// The RFC 9728 document this configuration advertises (DPoP algorithms from `algs`).
    pub(crate) fn finished_metadata(
        &self,
        algs: keybound::jose::AlgSet,
    ) -> ProtectedResourceMetadata {
        let dpop_required = self.accept_dpop && !self.mtls_bound && !self.allow_bearer;
        let mut m = ProtectedResourceMetadata::new(&self.resource);
        for issuer in &self.issuers {
            m = m.with_authorization_server(issuer.clone());
        }
        m.with_dpop(self.accept_dpop.then_some(algs), dpop_required)
            .with_mtls_bound_tokens(self.mtls_bound)
            .with_scopes(self.scopes.iter().cloned())
    }
}

/// `scheme://host[:port]` (lower-cased scheme and host, trailing `/` dropped), or an error.
fn check_origin(origin: &str) -> Result<String, ConfigError> {
    let bad = || ConfigError::PublicOrigin(origin.to_string());
    let trimmed = origin.strip_suffix('/').unwrap_or(origin);
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "https" && scheme != "http" {
        return Err(bad());
    }
    if rest.is_empty()
        || rest
            .bytes()
            .any(|b| matches!(b, b'/' | b'?' | b'#' | b'@' | b'"' | b'\\') || !b.is_ascii_graphic())
    {
        return Err(bad());
    }
    Ok(format!("{scheme}://{}", rest.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn accepts_origin_and_normalizes_case_and_slash() {
        let c = GateConfig::new("HTTPS://API.Example.com:8443/").unwrap();
        assert_eq!(c.public_origin(), "https://api.example.com:8443");
    }

    #[test]
    fn rejects_origin_with_path_query_or_userinfo() {
        for bad in [
            "https://api.example.com/v1",
            "https://api.example.com?x",
            "https://user@api.example.com",
            "ftp://api.example.com",
            "api.example.com",
            "https://",
        ] {
            assert!(
                matches!(GateConfig::new(bad), Err(ConfigError::PublicOrigin(_))),
                "{bad}"
            );
        }
    }
}
