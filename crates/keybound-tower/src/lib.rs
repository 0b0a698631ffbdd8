#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod body;
mod config;
mod extensions;
mod gate;
mod metadata;
mod metrics;
mod service;
mod validator;

#[cfg(feature = "axum")]
mod extract;

pub use body::KeyboundBody;
pub use config::{ConfigError, DEFAULT_STORE_TIMEOUT, GateConfig, RequestTarget};
pub use extensions::{Authenticated, PeerAddr, PeerCertificate};
pub use metadata::{METADATA_WELL_KNOWN, ProtectedResourceMetadata};
pub use metrics::{Metrics, MetricsSnapshot};
pub use service::{KeyboundLayer, KeyboundService, ResponseFuture};
pub use validator::{JwksHandle, JwtValidator, TokenFailure, TokenInfo, TokenValidator};

pub use keybound;
pub use keybound::rs::{Binding, Scheme};

/// Response header names the layer writes.
pub mod header {
    use http::HeaderName;

    /// `DPoP-Nonce` (RFC 9449 §8.1, §9).
    pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
    /// `DPoP` (RFC 9449 §4.1).
    pub const DPOP: HeaderName = HeaderName::from_static("dpop");
    /// RFC 9440 `Client-Cert`.
    pub const CLIENT_CERT: HeaderName = HeaderName::from_static("client-cert");
    /// nginx's `$ssl_client_escaped_cert`, as the proxy wiring guide forwards it.
    pub const X_SSL_CLIENT_ESCAPED_CERT: HeaderName =
        HeaderName::from_static("x-ssl-client-escaped-cert");
    /// Envoy's `x-forwarded-client-cert` (XFCC).
    pub const X_FORWARDED_CLIENT_CERT: HeaderName =
        HeaderName::from_static("x-forwarded-client-cert");
    /// nginx `auth_request`: the original request's method (set by the proxy).
    pub const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
    /// nginx `auth_request`: the original request's URI (set by the proxy).
    pub const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
    /// Traefik `ForwardAuth`: the original request's method.
    pub const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
    /// Traefik `ForwardAuth`: the original request's URI.
    pub const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
}

#[cfg(feature = "axum")]
pub use extract::MissingLayer;
