//! Request extensions: what the connection tells the layer (peer address, TLS client
//! certificate) and what the layer proved (for handlers and the axum extractor).

use core::fmt;
use core::net::SocketAddr;
use std::sync::Arc;

use keybound::cnf::{CertThumbprint, JwkThumbprint};
use keybound::rs::{Binding, Scheme};

use crate::validator::TokenInfo;

/// The TCP peer of the connection, inserted by the acceptor (axum's `ConnectInfo` is read
/// too, with feature `axum`). Proxy certificate headers are trusted only when this address is
/// a configured trusted proxy; without it they are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

/// The client certificate (leaf, DER) of the TLS connection, inserted by the TLS acceptor
/// after the handshake (RFC 8705 §3): with rustls, `keybound::mtls::rustls::peer_leaf`.
/// Clones share the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub Arc<[u8]>);

impl PeerCertificate {
    /// From the leaf certificate's DER.
    pub fn from_der(der: &[u8]) -> Self {
        PeerCertificate(Arc::from(der))
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerCertificate")
            .field("len", &self.0.len())
            .finish()
    }
}

/// What the layer proved about a request: the validated token, how possession was proven,
/// and the key or certificate thumbprint (RFC 9449 §7, RFC 8705 §3). Inserted into the
/// request's extensions before the inner service runs; clones share one allocation.
#[derive(Clone, Debug)]
pub struct Authenticated(Arc<Proven>);

#[derive(Debug)]
struct Proven {
    token: TokenInfo,
    binding: Binding,
    scheme: Scheme,
}

impl Authenticated {
    pub(crate) fn new(token: TokenInfo, binding: Binding, scheme: Scheme) -> Self {
        Authenticated(Arc::new(Proven {
            token,
            binding,
            scheme,
        }))
    }

    /// The validated access token.
    pub fn token(&self) -> &TokenInfo {
        &self.0.token
    }

    /// The token's subject (`sub`).
    pub fn subject(&self) -> Option<&str> {
        self.0.token.subject()
    }

    /// The client the token was issued to (`client_id`).
    pub fn client_id(&self) -> Option<&str> {
        self.0.token.client_id()
    }

    /// How possession was proven.
    pub fn binding(&self) -> Binding {
        self.0.binding
    }

    /// The binding as one word: `dpop`, `mtls`, `both` or `bearer`.
    pub fn binding_name(&self) -> &'static str {
        binding_name(self.0.binding)
    }

    /// The `Authorization` scheme used.
    pub fn scheme(&self) -> Scheme {
        self.0.scheme
    }

    /// The DPoP key's thumbprint (`cnf.jkt`, RFC 9449 §6.1), when a proof was checked.
    pub fn jkt(&self) -> Option<JwkThumbprint> {
        match self.0.binding {
            Binding::Dpop { jkt } | Binding::Both { jkt, .. } => Some(jkt),
            _ => None,
        }
    }

    /// The client certificate's thumbprint (`cnf."x5t#S256"`, RFC 8705 §3.1), when the token
    /// is certificate-bound.
    pub fn x5t_s256(&self) -> Option<CertThumbprint> {
        match self.0.binding {
            Binding::Mtls { x5t } | Binding::Both { x5t, .. } => Some(x5t),
            _ => None,
        }
    }
}

/// `dpop`, `mtls`, `both` or `bearer`.
pub(crate) fn binding_name(binding: Binding) -> &'static str {
    match binding {
        Binding::Dpop { .. } => "dpop",
        Binding::Mtls { .. } => "mtls",
        Binding::Both { .. } => "both",
        _ => "bearer",
    }
}
