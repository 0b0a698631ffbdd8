//! Adapter for the `http` crate's types (feature `http`): build an
//! [`RsRequest`] from a request's parts, and turn a [`Rejection`] or [`AsRejection`] into
//! a response.
//!
//! The request URI a proof's `htu` is compared with must be the one the *client* used, so it
//! is rebuilt from a configured public origin (`https://api.example.com`) and the request's
//! path: behind a TLS-terminating proxy the server's own view (`http://10.0.0.5:8080`) is
//! not what the client signed.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use ::http::header::{
    CACHE_CONTROL, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, WWW_AUTHENTICATE,
};
use ::http::{Method, Response, StatusCode, Uri};

use crate::authz::AsRejection;
use crate::rs::{ClientCert, Rejection, RsRequest};

/// The `DPoP` request header name (RFC 9449 §4.1).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header name (RFC 9449 §8.1).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");
/// The RFC 9440 `Client-Cert` header name (a trusted proxy's client certificate).
pub const CLIENT_CERT: HeaderName = HeaderName::from_static("client-cert");

/// `public_origin` (scheme, host, optional port; a trailing `/` is ignored) followed by the
/// path of `uri`: the request URI as the client addressed it.
pub fn public_uri(public_origin: &str, uri: &Uri) -> String {
    let origin = public_origin.trim_end_matches('/');
    let path = uri.path();
    let mut s = String::with_capacity(origin.len() + path.len() + 1);
    s.push_str(origin);
    if !path.starts_with('/') {
        s.push('/');
    }
    s.push_str(path);
    s
}

/// The values of header `name`, in order.
pub fn header_values<'h>(headers: &'h HeaderMap, name: &HeaderName) -> Vec<&'h [u8]> {
    headers
        .get_all(name)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect()
}

/// What [`RsRequest`] borrows, collected from an `http` request.
#[derive(Clone, Debug)]
pub struct HttpRsRequest<'p> {
    method: &'p str,
    uri: String,
    authorization: Vec<&'p [u8]>,
    dpop: Vec<&'p [u8]>,
    client_cert: Option<ClientCert<'p>>,
}

impl<'p> HttpRsRequest<'p> {
    /// From a method, URI and headers; `public_origin` as in [`public_uri`].
    pub fn new(method: &'p Method, uri: &Uri, headers: &'p HeaderMap, public_origin: &str) -> Self {
        HttpRsRequest {
            method: method.as_str(),
            uri: public_uri(public_origin, uri),
            authorization: header_values(headers, &::http::header::AUTHORIZATION),
            dpop: header_values(headers, &DPOP),
            client_cert: None,
        }
    }

    /// From request parts (e.g. after `Request::into_parts`).
    pub fn from_parts(parts: &'p ::http::request::Parts, public_origin: &str) -> Self {
        Self::new(&parts.method, &parts.uri, &parts.headers, public_origin)
    }

    /// From a whole request.
    pub fn from_request<B>(req: &'p ::http::Request<B>, public_origin: &str) -> Self {
        Self::new(req.method(), req.uri(), req.headers(), public_origin)
    }

    /// With the client certificate of the connection or of a trusted proxy.
    #[must_use]
    pub fn with_client_cert(mut self, cert: ClientCert<'p>) -> Self {
        self.client_cert = Some(cert);
        self
    }

    /// The URI proofs are checked against.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// The borrowed request for [`crate::rs::ResourceServer::verify`].
    pub fn as_rs_request(&self) -> RsRequest<'_> {
        let req = RsRequest::new(self.method, &self.uri)
            .with_authorization(&self.authorization)
            .with_dpop(&self.dpop);
        match self.client_cert {
            Some(c) => req.with_client_cert(c),
            None => req,
        }
    }
}

/// The client certificate DER of a request: the TLS peer's own certificate for a direct
/// client, or the one in header `name` when `peer` is a trusted proxy (RFC 8705 §3,
/// RFC 9440; see [`keybound_mtls::TrustedProxies::client_cert`]). `Ok(None)`: none presented.
pub fn client_cert_der(
    headers: &HeaderMap,
    name: &HeaderName,
    trusted: &keybound_mtls::TrustedProxies<'_>,
    peer: IpAddr,
    tls_cert: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, keybound_mtls::CertError> {
    let values = header_values(headers, name);
    let len = values.iter().map(|v| v.len()).max().unwrap_or(0);
    let mut buf = alloc::vec![0u8; len];
    let cert = trusted.client_cert(peer, tls_cert, &values, &mut buf)?;
    Ok(cert.map(|c| c.der.as_bytes().to_vec()))
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.append(name, v);
    }
}

/// Sets `headers` for a resource-server rejection: `WWW-Authenticate` (one field per
/// challenge), `DPoP-Nonce` when required, and `Cache-Control: no-store`.
pub fn apply_rejection_headers(rej: &Rejection, headers: &mut HeaderMap) {
    for challenge in rej.www_authenticate() {
        insert(headers, WWW_AUTHENTICATE, challenge);
    }
    if let Some(nonce) = rej.dpop_nonce() {
        insert(headers, DPOP_NONCE, nonce);
    }
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// Applies a resource-server rejection to a response builder: status, `WWW-Authenticate`,
/// `DPoP-Nonce`, `Cache-Control: no-store`.
pub fn apply_rejection(
    rej: &Rejection,
    mut builder: ::http::response::Builder,
) -> ::http::response::Builder {
    builder = builder.status(status(rej.status()));
    if let Some(headers) = builder.headers_mut() {
        apply_rejection_headers(rej, headers);
    }
    builder
}

/// A complete resource-server error response with `body`.
pub fn rejection_response<B>(rej: &Rejection, body: B) -> Response<B> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status(rej.status());
    apply_rejection_headers(rej, resp.headers_mut());
    resp
}

/// Applies an authorization-server rejection to a response builder: 400, `Content-Type:
/// application/json`, `Cache-Control: no-store` (RFC 6749 §5.1) and `DPoP-Nonce` when
/// required; send [`AsRejection::body_json`] as the body.
pub fn apply_as_rejection(
    rej: &AsRejection,
    mut builder: ::http::response::Builder,
) -> ::http::response::Builder {
    builder = builder.status(status(rej.status()));
    if let Some(headers) = builder.headers_mut() {
        apply_as_headers(rej, headers);
    }
    builder
}

/// A complete authorization-server error response with the JSON body.
pub fn as_rejection_response(rej: &AsRejection) -> Response<String> {
    let mut resp = Response::new(rej.body_json());
    *resp.status_mut() = status(rej.status());
    apply_as_headers(rej, resp.headers_mut());
    resp
}

fn apply_as_headers(rej: &AsRejection, headers: &mut HeaderMap) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(nonce) = rej.dpop_nonce() {
        insert(headers, DPOP_NONCE, nonce);
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::UNAUTHORIZED)
}
