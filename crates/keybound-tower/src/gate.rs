//! The per-request decision, synchronous parts: target, client certificate, credentials,
//! token result, binding checks, and the answers (rejections, 503, metadata).

use core::fmt::Write as _;
use core::net::IpAddr;
use core::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER,
    WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};
use keybound::dpop::replay::AsyncReplayStore;
use keybound::http::{header_values, public_uri};
use keybound::mtls::{CertFormat, IpPrefix, TrustedProxies};
use keybound::rs::{
    Accepted, ClientCert, PendingRequest, Rejection, ResourceServer, RsConfig, RsRequest, Scheme,
};

use crate::config::{GateConfig, RequestTarget};
use crate::extensions::{Authenticated, PeerAddr, PeerCertificate};
use crate::header::{
    DPOP, DPOP_NONCE, X_FORWARDED_METHOD, X_FORWARDED_URI, X_ORIGINAL_METHOD, X_ORIGINAL_URI,
};
use crate::metadata::ProtectedResourceMetadata;
use crate::metrics::Metrics;
use crate::validator::{TokenFailure, TokenInfo, TokenValidator};

/// Configuration, validator and store, shared by every clone of the service.
pub(crate) struct Gate<V, S> {
    origin: String,
    rs: ResourceServer<'static>,
    target: RequestTarget,
    forward_prefix: Option<String>,
    proxies: Vec<IpPrefix>,
    cert_headers: Vec<(HeaderName, CertFormat)>,
    pub(crate) store_timeout: Option<Duration>,
    retry_after: HeaderValue,
    rotate_nonce: bool,
    metadata_path: Option<String>,
    metadata_json: Bytes,
    metadata: ProtectedResourceMetadata,
    scopes: Vec<String>,
    one_field: bool,
    pub(crate) metrics: Metrics,
    clock: fn() -> u64,
    pub(crate) validator: V,
    pub(crate) store: S,
}

/// What a request carries that the decision needs after the token is known.
pub(crate) struct Target {
    scheme: Option<Scheme>,
    method: String,
    htu: String,
    cert: Option<CertBytes>,
    started: Instant,
    now: u64,
}

enum CertBytes {
    Tls(PeerCertificate),
    Header(Vec<u8>),
}

impl CertBytes {
    fn der(&self) -> &[u8] {
        match self {
            CertBytes::Tls(c) => c.der(),
            CertBytes::Header(v) => v,
        }
    }
}

/// The first step's outcome.
pub(crate) enum Start<F> {
    /// Answer now (metadata, or a rejection already logged).
    Respond(Response<Bytes>),
    /// Wait for the token validator.
    Validate {
        fut: F,
        scheme: Scheme,
        target: Target,
    },
}

/// The outcome once the token is known.
#[expect(
    clippy::large_enum_variant,
    reason = "the large variant is the accepted path; boxing it would allocate on every request"
)]
pub(crate) enum AfterToken {
    Respond(Response<Bytes>),
    Commit(PendingRequest, TokenInfo),
}

/// The outcome once the replay store answered.
pub(crate) enum Decision {
    Respond(Response<Bytes>),
    Accept(Authenticated, Option<HeaderValue>),
}

/// A refusal, before it becomes a response.
struct Denial {
    status: StatusCode,
    challenges: Vec<String>,
    nonce: Option<String>,
    error: Option<&'static str>,
    description: String,
    reason: &'static str,
    /// A finer cause for the log (the token member at fault).
    detail: Option<&'static str>,
    unavailable: Option<&'static str>,
    scheme: Option<Scheme>,
}

impl Denial {
    fn from_rejection(rej: &Rejection) -> Self {
        if rej.is_server_fault() {
            return Denial::unavailable("replay_store", rej.description());
        }
        Denial {
            status: StatusCode::from_u16(rej.status()).unwrap_or(StatusCode::UNAUTHORIZED),
            challenges: rej.www_authenticate().to_vec(),
            nonce: rej.dpop_nonce().map(str::to_owned),
            error: rej.error(),
            description: rej.description(),
            reason: rej.reason(),
            detail: None,
            unavailable: None,
            scheme: None,
        }
    }

    fn bad_request(reason: &'static str, description: String) -> Self {
        Denial {
            status: StatusCode::BAD_REQUEST,
            challenges: Vec::new(),
            nonce: None,
            error: Some("invalid_request"),
            description,
            reason,
            detail: None,
            unavailable: None,
            scheme: None,
        }
    }

    fn unavailable(cause: &'static str, description: String) -> Self {
        Denial {
            status: StatusCode::SERVICE_UNAVAILABLE,
            challenges: Vec::new(),
            nonce: None,
            error: Some("temporarily_unavailable"),
            description,
            reason: if cause == "replay_store" {
                "store_unavailable"
            } else {
                "token_validator_unavailable"
            },
            detail: None,
            unavailable: Some(cause),
            scheme: None,
        }
    }
}

impl<V: TokenValidator, S: AsyncReplayStore + Send + Sync + 'static> Gate<V, S> {
    pub(crate) fn new(config: GateConfig, validator: V, store: S) -> Self {
        let url = ProtectedResourceMetadata::new(&config.resource).url();
        let mut config = config;
        let rs_config = core::mem::replace(&mut config.rs, RsConfig::without_replay_store());
        let rs_config = if config.serve_metadata {
            rs_config.with_resource_metadata(&url)
        } else {
            rs_config
        };
        let rs = ResourceServer::new(rs_config);
        let metadata = config.finished_metadata(rs.algs());
        let metadata_path = config.serve_metadata.then(|| metadata.well_known_path());
        Gate {
            metadata_json: Bytes::from(metadata.to_json()),
            metadata,
            metadata_path,
            rs,
            retry_after: HeaderValue::from(config.retry_after),
            origin: config.origin,
            target: config.target,
            forward_prefix: config.forward_prefix,
            proxies: config.proxies,
            cert_headers: config.cert_headers,
            store_timeout: config.store_timeout,
            rotate_nonce: config.rotate_nonce,
            scopes: config.scopes,
            one_field: config.one_challenge_field,
            metrics: config.metrics,
            clock: config.clock,
            validator,
            store,
        }
    }

    pub(crate) fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.metadata
    }

    pub(crate) fn resource_server(&self) -> &ResourceServer<'static> {
        &self.rs
    }

    /// Step one: metadata requests, the target, the client certificate, the credentials;
    /// then the token goes to the validator.
    pub(crate) fn start<B>(&self, req: &Request<B>) -> Start<V::Future> {
        let started = Instant::now();
        let now = (self.clock)();
        if let Some(path) = &self.metadata_path
            && req.uri().path() == path
            && (req.method() == Method::GET || req.method() == Method::HEAD)
        {
            return Start::Respond(self.metadata_response());
        }
        let (method, htu) = match self.target(req) {
            Ok(t) => t,
            Err(d) => return Start::Respond(self.deny(*d, started, req.uri().path())),
        };
        let cert = match self.client_cert(req) {
            Ok(c) => c,
            Err(d) => return Start::Respond(self.deny(*d, started, &htu)),
        };
        let mut target = Target {
            scheme: None,
            method,
            htu,
            cert,
            started,
            now,
        };
        let authorization = header_values(req.headers(), &AUTHORIZATION);
        let dpop = header_values(req.headers(), &DPOP);
        let rs_req = target.rs_request(&authorization, &dpop);
        let asked = self
            .rs
            .credentials(&rs_req)
            .map(|creds| (self.validator.validate(creds.token, now), creds.scheme));
        match asked {
            Ok((fut, scheme)) => {
                target.scheme = Some(scheme);
                Start::Validate {
                    fut,
                    scheme,
                    target,
                }
            }
            Err(rej) => {
                Start::Respond(self.deny(Denial::from_rejection(&rej), started, &target.htu))
            }
        }
    }

    /// Step two: the token's verdict, then every binding check but the replay commit.
    pub(crate) fn after_token<B>(
        &self,
        req: &Request<B>,
        target: &Target,
        scheme: Scheme,
        token: Result<TokenInfo, TokenFailure>,
    ) -> AfterToken {
        let info = match token {
            Ok(info) => info,
            Err(TokenFailure::Invalid {
                reason,
                description,
            }) => {
                let rej = self.rs.reject_invalid_token(scheme);
                let mut d = Denial::from_rejection(&rej);
                d.description = description;
                d.detail = Some(reason);
                d.scheme = Some(scheme);
                return AfterToken::Respond(self.deny(d, target.started, &target.htu));
            }
            Err(TokenFailure::Unavailable { description }) => {
                let d = Denial::unavailable("token_validator", description);
                return AfterToken::Respond(self.deny(d, target.started, &target.htu));
            }
        };
        let authorization = header_values(req.headers(), &AUTHORIZATION);
        let dpop = header_values(req.headers(), &DPOP);
        let rs_req = target.rs_request(&authorization, &dpop);
        let pending = match self.rs.check(&rs_req, info.cnf(), target.now) {
            Ok(p) => p,
            Err(rej) => {
                let mut d = Denial::from_rejection(&rej);
                d.scheme = Some(scheme);
                return AfterToken::Respond(self.deny(d, target.started, &target.htu));
            }
        };
        // Scopes before the replay commit, so a refused request keeps its proof unused.
        if let Some(missing) = self.scopes.iter().find(|s| !info.has_scope(s)) {
            let d = self.insufficient_scope(scheme, missing);
            return AfterToken::Respond(self.deny(d, target.started, &target.htu));
        }
        AfterToken::Commit(pending, info)
    }

    /// Step three: the replay store's answer (or its absence).
    pub(crate) fn decide(
        &self,
        target: &Target,
        info: TokenInfo,
        result: Result<Accepted, Rejection>,
    ) -> Decision {
        match result {
            Ok(accepted) => {
                let auth = Authenticated::new(info, accepted.binding(), accepted.scheme());
                self.log_accept(&auth, target);
                let nonce = if self.rotate_nonce {
                    self.rs
                        .issue_nonce(target.now)
                        .and_then(|n| HeaderValue::from_str(&n).ok())
                } else {
                    None
                };
                Decision::Accept(auth, nonce)
            }
            Err(rej) => {
                let mut d = Denial::from_rejection(&rej);
                d.scheme = target.scheme;
                Decision::Respond(self.deny(d, target.started, &target.htu))
            }
        }
    }

    /// The commit of a store that needs I/O, bounded by the store timeout.
    pub(crate) async fn commit_async(
        &self,
        pending: PendingRequest,
    ) -> Result<Accepted, Rejection> {
        match self.store_timeout {
            #[cfg(feature = "tokio")]
            Some(limit) => {
                let spare = pending.clone();
                match tokio::time::timeout(limit, pending.commit_async(&self.store)).await {
                    Ok(result) => result,
                    Err(_) => Err(spare.reject_store_unavailable()),
                }
            }
            _ => pending.commit_async(&self.store).await,
        }
    }

    fn target<B>(&self, req: &Request<B>) -> Result<(String, String), Box<Denial>> {
        match self.target {
            RequestTarget::ForwardAuth => {
                let first = |a: &HeaderName, b: &HeaderName| {
                    let h = req.headers();
                    h.get(a)
                        .or_else(|| h.get(b))
                        .and_then(|v| v.to_str().ok())
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                };
                let mut method = first(&X_ORIGINAL_METHOD, &X_FORWARDED_METHOD);
                let mut uri = first(&X_ORIGINAL_URI, &X_FORWARDED_URI);
                if method.is_none()
                    && uri.is_none()
                    && let Some(rest) = self
                        .forward_prefix
                        .as_deref()
                        .and_then(|p| req.uri().path().strip_prefix(p))
                        .filter(|rest| rest.starts_with('/'))
                {
                    method = Some(req.method().as_str());
                    uri = Some(rest);
                }
                match (method, uri) {
                    (Some(m), Some(u)) if u.starts_with('/') && is_token(m) => {
                        let path = u.split(['?', '#']).next().unwrap_or(u);
                        let mut htu = String::with_capacity(self.origin.len() + path.len());
                        htu.push_str(&self.origin);
                        htu.push_str(path);
                        Ok((m.to_owned(), htu))
                    }
                    _ => Err(Box::new(Denial::bad_request(
                        "missing_original_request",
                        "forward-auth check without X-Original-Method and X-Original-URI \
                         (or X-Forwarded-Method and X-Forwarded-Uri) in origin form"
                            .to_owned(),
                    ))),
                }
            }
            _ => Ok((
                req.method().as_str().to_owned(),
                public_uri(&self.origin, req.uri()),
            )),
        }
    }

    /// The client certificate: a trusted proxy's header, else the TLS peer's own.
    fn client_cert<B>(&self, req: &Request<B>) -> Result<Option<CertBytes>, Box<Denial>> {
        let tls = req.extensions().get::<PeerCertificate>();
        let peer = peer_ip(req);
        let trusted = !self.cert_headers.is_empty()
            && peer.is_some_and(|ip| self.proxies.iter().any(|p| p.contains(ip)));
        let Some(ip) = peer.filter(|_| trusted) else {
            return Ok(tls.cloned().map(CertBytes::Tls));
        };
        let mut present = self
            .cert_headers
            .iter()
            .filter(|(name, _)| req.headers().contains_key(name));
        let Some((name, format)) = present.next() else {
            // A trusted proxy that forwards no certificate: the client presented none. Its
            // own TLS certificate is its identity, never the client's.
            return Ok(None);
        };
        if let Some((other, _)) = present.next() {
            return Err(Box::new(Denial::bad_request(
                "certificate_header",
                format!("client certificate in both {name} and {other}"),
            )));
        }
        let values = header_values(req.headers(), name);
        let len = values.iter().map(|v| v.len()).max().unwrap_or(0);
        let mut buf = vec![0u8; len];
        let policy = TrustedProxies::peers(&self.proxies, *format);
        match policy.client_cert(ip, None, &values, &mut buf) {
            Ok(Some(cert)) => Ok(Some(CertBytes::Header(cert.der.as_bytes().to_vec()))),
            Ok(None) => Ok(None),
            Err(e) => Err(Box::new(Denial::bad_request(
                "certificate_header",
                format!("client certificate header {name}: {e}"),
            ))),
        }
    }

    fn insufficient_scope(&self, scheme: Scheme, missing: &str) -> Denial {
        let wanted = self.scopes.join(" ");
        let description = format!("the token lacks scope {missing}");
        let mut c = String::from(scheme.as_str());
        // Writing into a String cannot fail.
        let _ = write!(
            c,
            " error=\"insufficient_scope\", error_description=\"{}\", scope=\"{}\"",
            quoted(&description),
            quoted(&wanted)
        );
        if scheme == Scheme::Dpop {
            c.push_str(", algs=\"");
            let _ = self.rs.algs().write_names(&mut c);
            c.push('"');
        }
        if self.metadata_path.is_some() {
            let _ = write!(
                c,
                ", resource_metadata=\"{}\"",
                quoted(&self.metadata.url())
            );
        }
        Denial {
            status: StatusCode::FORBIDDEN,
            challenges: vec![c],
            nonce: None,
            error: Some("insufficient_scope"),
            description,
            reason: "insufficient_scope",
            detail: None,
            unavailable: None,
            scheme: Some(scheme),
        }
    }

    fn metadata_response(&self) -> Response<Bytes> {
        let mut resp = Response::new(self.metadata_json.clone());
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=300"));
        resp
    }

    pub(crate) fn metadata_json(&self) -> Bytes {
        self.metadata_json.clone()
    }

    /// Logs, counts and answers a refusal.
    fn deny(&self, d: Denial, started: Instant, htu: &str) -> Response<Bytes> {
        let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let path = path_of(htu);
        match d.unavailable {
            Some(cause) => {
                if cause == "replay_store" {
                    self.metrics.store_unavailable();
                } else {
                    self.metrics.validator_unavailable();
                }
                tracing::warn!(
                    target: "keybound",
                    outcome = "unavailable",
                    status = d.status.as_u16(),
                    reason = d.reason,
                    cause,
                    detail = %d.description,
                    path,
                    latency_us,
                    "keybound decision"
                );
            }
            None => {
                self.metrics.rejected(d.reason);
                tracing::info!(
                    target: "keybound",
                    outcome = "rejected",
                    status = d.status.as_u16(),
                    reason = d.reason,
                    detail = d.detail.unwrap_or("-"),
                    scheme = d.scheme.map_or("-", Scheme::as_str),
                    path,
                    latency_us,
                    "keybound decision"
                );
            }
        }
        self.denial_response(&d)
    }

    fn log_accept(&self, auth: &Authenticated, target: &Target) {
        let binding = auth.binding_name();
        self.metrics.accepted(binding);
        let latency_us = u64::try_from(target.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::info!(
            target: "keybound",
            outcome = "accepted",
            status = 200u16,
            binding,
            jkt = %Short(auth.jkt()),
            x5t = %Short(auth.x5t_s256()),
            sub = auth.subject().unwrap_or("-"),
            method = %target.method,
            path = path_of(&target.htu),
            latency_us,
            "keybound decision"
        );
    }

    fn denial_response(&self, d: &Denial) -> Response<Bytes> {
        let mut body = String::with_capacity(96 + d.description.len());
        body.push('{');
        if let Some(e) = d.error {
            body.push_str("\"error\":");
            // Writing into a String cannot fail.
            let _ = keybound::json::write_str(&mut body, e);
            body.push(',');
        }
        body.push_str("\"error_description\":");
        let _ = keybound::json::write_str(&mut body, &d.description);
        body.push_str(",\"reason\":");
        let _ = keybound::json::write_str(&mut body, d.reason);
        body.push('}');
        let mut resp = Response::new(Bytes::from(body));
        *resp.status_mut() = d.status;
        let h = resp.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.one_field && !d.challenges.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&d.challenges.join(", ")) {
                h.insert(WWW_AUTHENTICATE, v);
            }
        } else {
            for c in &d.challenges {
                if let Ok(v) = HeaderValue::from_str(c) {
                    h.append(WWW_AUTHENTICATE, v);
                }
            }
        }
        if let Some(n) = d
            .nonce
            .as_deref()
            .and_then(|n| HeaderValue::from_str(n).ok())
        {
            h.insert(DPOP_NONCE, n);
        }
        if d.unavailable.is_some() {
            h.insert(RETRY_AFTER, self.retry_after.clone());
        }
        resp
    }
}

impl Target {
    fn rs_request<'r>(
        &'r self,
        authorization: &'r [&'r [u8]],
        dpop: &'r [&'r [u8]],
    ) -> RsRequest<'r> {
        let req = RsRequest::new(&self.method, &self.htu)
            .with_authorization(authorization)
            .with_dpop(dpop);
        match &self.cert {
            Some(c) => req.with_client_cert(ClientCert::Der(c.der())),
            None => req,
        }
    }
}

/// The TCP peer: the layer's own extension, else axum's `ConnectInfo`.
fn peer_ip<B>(req: &Request<B>) -> Option<IpAddr> {
    if let Some(PeerAddr(addr)) = req.extensions().get::<PeerAddr>() {
        return Some(addr.ip());
    }
    #[cfg(feature = "axum")]
    if let Some(info) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<core::net::SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    None
}

/// An HTTP method token (RFC 9110 §5.6.2).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// The path of `htu` (after the origin), for logs.
fn path_of(htu: &str) -> &str {
    let rest = htu.split_once("://").map_or(htu, |(_, r)| r);
    rest.find('/').and_then(|i| rest.get(i..)).unwrap_or("/")
}

/// The first 8 characters of a thumbprint, enough to correlate, too few to be one; `-` when
/// there is none. Formats without allocating (and only when the event is enabled).
struct Short<T>(Option<T>);

impl<T: core::fmt::Display> core::fmt::Display for Short<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        struct Prefix<'a, 'b> {
            out: &'a mut core::fmt::Formatter<'b>,
            left: usize,
        }
        impl core::fmt::Write for Prefix<'_, '_> {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                for c in s.chars().take(self.left) {
                    self.out.write_char(c)?;
                    self.left -= 1;
                }
                Ok(())
            }
        }
        match &self.0 {
            Some(tp) => write!(Prefix { out: f, left: 8 }, "{tp}"),
            None => f.write_str("-"),
        }
    }
}

/// Text made safe for a quoted-string.
fn quoted(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '\''
            }
        })
        .collect()
}
