//! The client: a reqwest client with a DPoP key ring, per-origin nonces and the single
//! `use_dpop_nonce` retry (RFC 9449 §8, §9).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;
use std::collections::VecDeque;
use std::string::String;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::vec::Vec;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::BodyExt as _;
use keybound::dpop::ProofParams;
use keybound::{CertThumbprint, JwkThumbprint};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Method, Url};
use rustls_pki_types::CertificateDer;

use crate::error::{BuildError, ClientError};
use crate::header::{self, MAX_ERROR_BODY};
use crate::nonces::{DEFAULT_NONCE_CAPACITY, NonceCache, NonceKey, Target};
use crate::signer::{JwsSigner, sign_proof};
use crate::tls::{ClientIdentity, client_config, roots_from_pem};

/// Most keys a client holds at once; rotating past it retires the oldest inactive key.
pub const MAX_KEYS: usize = 16;

/// The `DPoP` request header (RFC 9449 §4.1).
pub const DPOP: HeaderName = HeaderName::from_static("dpop");
/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// What a DPoP client did for one request, attached to the response's extensions
/// (`response.extensions().get::<DpopExchange>()`, or [`DpopExchange::of`]).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopExchange {
    /// The thumbprint of the key that signed the proofs.
    pub jkt: JwkThumbprint,
    /// The `jti` of every proof sent, in order: one, or two after a nonce retry.
    pub jtis: Vec<String>,
    /// The nonce each proof carried (`None`: no nonce was known).
    pub nonces: Vec<Option<String>>,
}

impl DpopExchange {
    /// The exchange record of `response`, when a proof was sent.
    pub fn of(response: &reqwest::Response) -> Option<&DpopExchange> {
        response.extensions().get::<DpopExchange>()
    }

    /// Whether the request was sent a second time after `use_dpop_nonce`.
    pub fn retried(&self) -> bool {
        self.jtis.len() > 1
    }
}

/// Whether and how a request is proven (see [`RequestOptions`]).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProofMode {
    /// A proof on every request, except one carrying `Authorization: Bearer` (a DPoP proof
    /// next to a Bearer token is refused by resource servers that check the scheme, RFC 9449
    /// §7.2) or when the client holds no key.
    #[default]
    Auto,
    /// No proof (plain request; nonces in the answer are still remembered).
    Never,
}

/// Per-request choices: the key, the server role (for nonces), and whether to send a proof.
#[non_exhaustive]
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestOptions {
    /// The key to sign with (`None`: the active key). A token bound to an older key must be
    /// presented with proofs of that key (RFC 9449 §7.1).
    pub key: Option<JwkThumbprint>,
    /// Resource server or authorization server: which nonce to use and remember.
    pub target: Target,
    /// Proof or not.
    pub proof: ProofMode,
}

impl RequestOptions {
    /// The defaults: active key, resource server, proof when applicable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Signing with the key whose thumbprint is `jkt`.
    #[must_use]
    pub fn with_key(mut self, jkt: JwkThumbprint) -> Self {
        self.key = Some(jkt);
        self
    }

    /// For `target`.
    #[must_use]
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// With proof mode `mode`.
    #[must_use]
    pub fn with_proof(mut self, mode: ProofMode) -> Self {
        self.proof = mode;
        self
    }
}

struct KeyRing {
    keys: Vec<(JwkThumbprint, Arc<dyn JwsSigner>)>,
    active: Option<JwkThumbprint>,
}

impl KeyRing {
    fn get(&self, jkt: &JwkThumbprint) -> Option<Arc<dyn JwsSigner>> {
        self.keys
            .iter()
            .find(|(k, _)| k == jkt)
            .map(|(_, s)| Arc::clone(s))
    }

    fn add(&mut self, signer: Arc<dyn JwsSigner>) -> JwkThumbprint {
        let jkt = signer.thumbprint();
        self.keys.retain(|(k, _)| *k != jkt);
        if self.keys.len() >= MAX_KEYS {
            let active = self.active;
            if let Some(pos) = self.keys.iter().position(|(k, _)| Some(*k) != active) {
                self.keys.remove(pos);
            }
        }
        self.keys.push((jkt, signer));
        self.active = Some(jkt);
        jkt
    }
}

struct Shared {
    http: reqwest::Client,
    keys: RwLock<KeyRing>,
    nonces: Mutex<NonceCache>,
    identity: Option<CertThumbprint>,
}

/// A DPoP client on reqwest (RFC 9449): a fresh proof per request, nonces remembered per
/// origin, one automatic retry on `use_dpop_nonce`, token endpoint helpers. Cheap to clone
/// (one shared state).
#[derive(Clone)]
pub struct DpopClient {
    shared: Arc<Shared>,
}

impl fmt::Debug for DpopClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopClient")
            .field("active_key", &self.jkt())
            .field("keys", &self.keys().len())
            .field("x5t#S256", &self.shared.identity)
            .finish_non_exhaustive()
    }
}

/// Builds a [`DpopClient`].
#[must_use]
pub struct DpopClientBuilder {
    keys: Vec<Arc<dyn JwsSigner>>,
    roots: Option<Vec<CertificateDer<'static>>>,
    identity: Option<ClientIdentity>,
    nonce_capacity: usize,
    timeout: Option<Duration>,
    connect_timeout: Option<Duration>,
    no_proxy: bool,
    user_agent: Option<String>,
}

impl fmt::Debug for DpopClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopClientBuilder")
            .field("keys", &self.keys.len())
            .field("custom_roots", &self.roots.as_ref().map(Vec::len))
            .field("identity", &self.identity)
            .field("nonce_capacity", &self.nonce_capacity)
            .finish_non_exhaustive()
    }
}

impl Default for DpopClientBuilder {
    fn default() -> Self {
        DpopClientBuilder {
            keys: Vec::new(),
            roots: None,
            identity: None,
            nonce_capacity: DEFAULT_NONCE_CAPACITY,
            timeout: None,
            connect_timeout: None,
            no_proxy: false,
            user_agent: None,
        }
    }
}

impl DpopClientBuilder {
    /// Adds a signing key; the last one added is the active key.
    pub fn key(mut self, signer: impl JwsSigner + 'static) -> Self {
        self.keys.push(Arc::new(signer));
        self
    }

    /// Adds a shared signing key; the last one added is the active key.
    pub fn key_arc(mut self, signer: Arc<dyn JwsSigner>) -> Self {
        self.keys.push(signer);
        self
    }

    /// Trusts only the CA certificates in `pem` (default: the platform's verifier and roots).
    pub fn root_certificates_pem(mut self, pem: &[u8]) -> Result<Self, BuildError> {
        self.roots
            .get_or_insert_with(Vec::new)
            .extend(roots_from_pem(pem)?);
        Ok(self)
    }

    /// Presents `identity` as the TLS client certificate (RFC 8705).
    pub fn client_identity(mut self, identity: ClientIdentity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// How many nonces to remember (default [`DEFAULT_NONCE_CAPACITY`], at least 1).
    pub fn nonce_capacity(mut self, capacity: usize) -> Self {
        self.nonce_capacity = capacity.max(1);
        self
    }

    /// A total timeout per HTTP exchange (default: none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A connect timeout (default: none).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Ignores proxy settings from the environment (`HTTP_PROXY`, …).
    pub fn no_proxy(mut self) -> Self {
        self.no_proxy = true;
        self
    }

    /// The `User-Agent` header value.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = Some(agent.into());
        self
    }

    /// The client. Redirects are never followed (each hop would need its own proof, and a
    /// proof must not travel to another origin): a 3xx is handed back as it is.
    pub fn build(self) -> Result<DpopClient, BuildError> {
        let tls = client_config(self.roots.as_deref(), self.identity.as_ref())?;
        let mut http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(t) = self.timeout {
            http = http.timeout(t);
        }
        if let Some(t) = self.connect_timeout {
            http = http.connect_timeout(t);
        }
        if self.no_proxy {
            http = http.no_proxy();
        }
        if let Some(agent) = self.user_agent {
            http = http.user_agent(agent);
        }
        let http = http.build().map_err(|e| BuildError::Http(Box::new(e)))?;
        let mut ring = KeyRing {
            keys: Vec::new(),
            active: None,
        };
        for k in self.keys {
            ring.add(k);
        }
        Ok(DpopClient {
            shared: Arc::new(Shared {
                http,
                keys: RwLock::new(ring),
                nonces: Mutex::new(NonceCache::new(self.nonce_capacity)),
                identity: self.identity.as_ref().map(ClientIdentity::x5t_s256),
            }),
        })
    }
}

/// The token of an `Authorization: DPoP <token>` header (scheme case-insensitive, RFC 9110
/// §11.1); `None` for any other scheme, several values, or non-UTF-8.
fn dpop_token(headers: &reqwest::header::HeaderMap) -> Option<AuthScheme<'_>> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return Some(AuthScheme::Other);
    }
    let value = value.to_str().ok()?.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if scheme.eq_ignore_ascii_case("dpop") {
        Some(AuthScheme::Dpop(rest.trim_start_matches([' ', '\t'])))
    } else if scheme.eq_ignore_ascii_case("bearer") {
        Some(AuthScheme::Bearer)
    } else {
        Some(AuthScheme::Other)
    }
}

enum AuthScheme<'h> {
    Dpop(&'h str),
    Bearer,
    Other,
}

/// `url` without query and fragment: the proof's `htu` (RFC 9449 §4.2).
fn htu_of(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.into()
}

/// What signing one request needs.
struct Prepared {
    signer: Arc<dyn JwsSigner>,
    /// The `DPoP` access token, for `ath`.
    token: Option<String>,
    origin: NonceKey,
    htu: String,
    method: String,
    url: Url,
}

/// What a response said about nonces.
struct Seen {
    /// A usable `DPoP-Nonce` value.
    nonce: Option<String>,
    /// A `use_dpop_nonce` challenge (401) or error body (400).
    use_dpop_nonce: bool,
}

/// A body whose first frames were read already: they are replayed, then the rest follows.
struct ReplayBody {
    frames: VecDeque<Frame<Bytes>>,
    error: Option<reqwest::Error>,
    rest: Option<reqwest::Body>,
}

impl http_body::Body for ReplayBody {
    type Data = Bytes;
    type Error = reqwest::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, reqwest::Error>>> {
        if let Some(f) = self.frames.pop_front() {
            return Poll::Ready(Some(Ok(f)));
        }
        if let Some(e) = self.error.take() {
            return Poll::Ready(Some(Err(e)));
        }
        match self.rest.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let buffered: u64 = self
            .frames
            .iter()
            .filter_map(Frame::data_ref)
            .map(|d| d.len() as u64)
            .sum();
        let Some(rest) = &self.rest else {
            return http_body::SizeHint::with_exact(buffered);
        };
        let inner = rest.size_hint();
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(inner.lower().saturating_add(buffered));
        if let Some(upper) = inner.upper() {
            hint.set_upper(upper.saturating_add(buffered));
        }
        hint
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
            && self.error.is_none()
            && self.rest.as_ref().is_none_or(|b| b.is_end_stream())
    }
}

/// Reads up to `max + 1` bytes of `resp`'s body and gives back a response that still yields
/// the whole body, with those bytes when the body ended within `max`.
async fn peek_body(resp: reqwest::Response, max: usize) -> (reqwest::Response, Option<Vec<u8>>) {
    use reqwest::ResponseBuilderExt as _;
    let url = resp.url().clone();
    let (mut parts, mut body) = http::Response::<reqwest::Body>::from(resp).into_parts();
    let mut frames = VecDeque::new();
    let mut data = Vec::new();
    let mut error = None;
    let mut complete = false;
    while data.len() <= max {
        match body.frame().await {
            None => {
                complete = true;
                break;
            }
            Some(Ok(frame)) => {
                if let Some(d) = frame.data_ref() {
                    data.extend_from_slice(d);
                }
                frames.push_back(frame);
            }
            Some(Err(e)) => {
                error = Some(e);
                break;
            }
        }
    }
    let peeked = (complete && data.len() <= max).then_some(data);
    let replay = ReplayBody {
        frames,
        error,
        rest: (!complete).then_some(body),
    };
    // http::Response loses reqwest's URL; carry it over in the extension reqwest reads.
    if let Ok(mut carrier) = http::Response::builder().url(url).body(()) {
        parts
            .extensions
            .extend(core::mem::take(carrier.extensions_mut()));
    }
    let rebuilt = http::Response::from_parts(parts, reqwest::Body::wrap(replay));
    (reqwest::Response::from(rebuilt), peeked)
}

impl DpopClient {
    /// A builder: keys, trust roots, client certificate, nonce capacity, timeouts.
    pub fn builder() -> DpopClientBuilder {
        DpopClientBuilder::default()
    }

    /// A client with one key, the platform's roots and no client certificate.
    pub fn new(signer: impl JwsSigner + 'static) -> Result<Self, BuildError> {
        Self::builder().key(signer).build()
    }

    /// The underlying reqwest client (same TLS set-up; no proofs, no nonces).
    pub fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    fn keys_read(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        self.shared
            .keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn keys_write(&self) -> std::sync::RwLockWriteGuard<'_, KeyRing> {
        self.shared
            .keys
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The active key's thumbprint (`dpop_jkt`, RFC 9449 §10), if the client holds a key.
    pub fn jkt(&self) -> Option<JwkThumbprint> {
        self.keys_read().active
    }

    /// Every key held, oldest first.
    pub fn keys(&self) -> Vec<JwkThumbprint> {
        self.keys_read().keys.iter().map(|(k, _)| *k).collect()
    }

    /// The signer with thumbprint `jkt`.
    pub fn signer(&self, jkt: &JwkThumbprint) -> Option<Arc<dyn JwsSigner>> {
        self.keys_read().get(jkt)
    }

    /// Adds `signer` and makes it the active key; returns its thumbprint. Older keys stay
    /// usable by thumbprint (up to [`MAX_KEYS`]) until [`DpopClient::retire_key`]: tokens
    /// bound to them (`cnf.jkt`) still need their proofs.
    pub fn rotate_key(&self, signer: impl JwsSigner + 'static) -> JwkThumbprint {
        self.keys_write().add(Arc::new(signer))
    }

    /// Makes the held key `jkt` the active one; `false` when no such key is held.
    pub fn activate_key(&self, jkt: &JwkThumbprint) -> bool {
        let mut ring = self.keys_write();
        let held = ring.keys.iter().any(|(k, _)| k == jkt);
        if held {
            ring.active = Some(*jkt);
        }
        held
    }

    /// Drops the key `jkt`. Access tokens bound to it become unusable from here on (their
    /// proofs cannot be made any more; refresh, or request new tokens, with another key).
    /// Retiring the active key leaves the client without one until the next rotation.
    pub fn retire_key(&self, jkt: &JwkThumbprint) -> bool {
        let mut ring = self.keys_write();
        let before = ring.keys.len();
        ring.keys.retain(|(k, _)| k != jkt);
        if ring.active.as_ref() == Some(jkt) {
            ring.active = None;
        }
        ring.keys.len() != before
    }

    /// The client certificate's `x5t#S256` (RFC 8705 §3.1), when the client presents one: what
    /// a certificate-bound token's `cnf` must carry.
    pub fn x5t_s256(&self) -> Option<CertThumbprint> {
        self.shared.identity
    }

    /// The nonce remembered for `url`'s origin and `target`.
    pub fn nonce(&self, url: &str, target: Target) -> Option<String> {
        let key = NonceKey::new(&Url::parse(url).ok()?, target)?;
        self.lock_nonces().get(&key)
    }

    fn lock_nonces(&self) -> std::sync::MutexGuard<'_, NonceCache> {
        self.shared
            .nonces
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A request to `url` with `method`, sent with [`RequestBuilder::send`].
    pub fn request(&self, method: Method, url: &str) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            inner: self.shared.http.request(method, url),
            options: RequestOptions::default(),
        }
    }

    /// A `GET` to `url`.
    pub fn get(&self, url: &str) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// A `POST` to `url`.
    pub fn post(&self, url: &str) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Sends `req` with the default [`RequestOptions`].
    pub async fn execute(&self, req: reqwest::Request) -> Result<reqwest::Response, ClientError> {
        self.execute_with(req, &RequestOptions::default()).await
    }

    /// Sends `req`: a fresh proof (RFC 9449 §4.2: new `jti`, `htm`, `htu` without query and
    /// fragment, `iat` now, `ath` for `Authorization: DPoP`, the origin's nonce) in the `DPoP`
    /// header (replacing any there); the answer's `DPoP-Nonce` is remembered. When the answer
    /// is `use_dpop_nonce` (401 challenge, or 400 error body) *and* carries a new usable
    /// nonce, the request is sent once more with a new proof; that second answer is returned
    /// whatever it is. A streaming body cannot be sent twice: [`ClientError::BodyNotReplayable`].
    pub async fn execute_with(
        &self,
        req: reqwest::Request,
        options: &RequestOptions,
    ) -> Result<reqwest::Response, ClientError> {
        let spare = req.try_clone();
        self.execute_rebuilding(req, options, || async move { Ok::<_, ClientError>(spare) })
            .await
    }

    /// [`DpopClient::execute_with`], taking the request to resend from `rebuild` (`None`: it
    /// cannot be resent).
    pub(crate) async fn execute_rebuilding<E, F, Fut>(
        &self,
        req: reqwest::Request,
        options: &RequestOptions,
        rebuild: F,
    ) -> Result<reqwest::Response, E>
    where
        E: From<ClientError>,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<reqwest::Request>, E>>,
    {
        let url = req.url().clone();
        let Some(prepared) = self.prepare(&req, options)? else {
            let origin = NonceKey::new(&url, options.target);
            let resp = self
                .shared
                .http
                .execute(req)
                .await
                .map_err(|e| ClientError::transport(&url, e))?;
            let (resp, _) = self.observe(resp, origin.as_ref(), false).await;
            return Ok(resp);
        };
        let first_nonce = self.lock_nonces().get(&prepared.origin);
        let mut exchange = DpopExchange {
            jkt: prepared.signer.thumbprint(),
            jtis: Vec::with_capacity(2),
            nonces: Vec::with_capacity(2),
        };
        let (mut resp, retry) = self
            .send_signed(req, &prepared, first_nonce, &mut exchange, true)
            .await?;
        let Some(nonce) = retry else {
            resp.extensions_mut().insert(exchange);
            return Ok(resp);
        };
        let Some(again) = rebuild().await? else {
            return Err(ClientError::BodyNotReplayable {
                status: resp.status().as_u16(),
                url: url.into(),
            }
            .into());
        };
        tracing::debug!(%url, "use_dpop_nonce: sending once more with the new nonce");
        // The second answer goes to the caller as it is, even another challenge.
        let (mut resp, _) = self
            .send_signed(again, &prepared, Some(nonce), &mut exchange, false)
            .await?;
        resp.extensions_mut().insert(exchange);
        Ok(resp)
    }

    /// Signs a proof carrying `nonce`, sends `req` with it, remembers the answer's nonce;
    /// with `may_retry`, also returns the nonce to retry with when the answer is
    /// `use_dpop_nonce` with a usable nonce other than the one just sent.
    async fn send_signed(
        &self,
        mut req: reqwest::Request,
        p: &Prepared,
        nonce: Option<String>,
        exchange: &mut DpopExchange,
        may_retry: bool,
    ) -> Result<(reqwest::Response, Option<String>), ClientError> {
        let mut params = ProofParams::new(&p.method, &p.htu, keybound::unix_now());
        if let Some(t) = p.token.as_deref() {
            params = params.with_access_token(t);
        }
        if let Some(n) = nonce.as_deref() {
            params = params.with_nonce(n);
        }
        let signed = sign_proof(&*p.signer, &params).await?;
        set_proof(&mut req, &signed.proof)?;
        exchange.jtis.push(signed.jti);
        exchange.nonces.push(nonce.clone());
        let resp = self
            .shared
            .http
            .execute(req)
            .await
            .map_err(|e| ClientError::transport(&p.url, e))?;
        let (resp, seen) = self.observe(resp, Some(&p.origin), may_retry).await;
        if !(may_retry && seen.use_dpop_nonce) {
            return Ok((resp, None));
        }
        let retry = seen.nonce.filter(|n| Some(n) != nonce.as_ref());
        if retry.is_none() {
            tracing::debug!(url = %p.url, "use_dpop_nonce without a new DPoP-Nonce: not retried");
        }
        Ok((resp, retry))
    }

    /// What signing `req` needs, or `None` when no proof is due.
    fn prepare(
        &self,
        req: &reqwest::Request,
        options: &RequestOptions,
    ) -> Result<Option<Prepared>, ClientError> {
        if options.proof == ProofMode::Never {
            return Ok(None);
        }
        let token = match dpop_token(req.headers()) {
            Some(AuthScheme::Bearer) => return Ok(None),
            Some(AuthScheme::Dpop(t)) => Some(t.to_owned()),
            Some(AuthScheme::Other) | None => None,
        };
        let signer = {
            let ring = self.keys_read();
            match &options.key {
                Some(jkt) => Some(ring.get(jkt).ok_or(ClientError::UnknownKey { jkt: *jkt })?),
                None => ring.active.as_ref().and_then(|a| ring.get(a)),
            }
        };
        let Some(signer) = signer else {
            return Ok(None);
        };
        let url = req.url().clone();
        let origin = NonceKey::new(&url, options.target)
            .filter(|_| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| ClientError::InvalidUrl {
                url: url.as_str().to_owned(),
            })?;
        Ok(Some(Prepared {
            signer,
            token,
            origin,
            htu: htu_of(&url),
            method: req.method().as_str().to_owned(),
            url,
        }))
    }

    /// Remembers the response's nonce and tells whether it is a `use_dpop_nonce` answer;
    /// `proof_sent` allows reading a 400 body (only then can it matter).
    async fn observe(
        &self,
        resp: reqwest::Response,
        origin: Option<&NonceKey>,
        proof_sent: bool,
    ) -> (reqwest::Response, Seen) {
        let fields: Vec<&[u8]> = resp
            .headers()
            .get_all(&DPOP_NONCE)
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        let nonce = match header::parse_dpop_nonce(&fields) {
            Ok(n) => n.map(str::to_owned),
            Err(e) => {
                tracing::warn!(url = %resp.url(), error = %e, "ignoring the DPoP-Nonce header");
                None
            }
        };
        if let (Some(n), Some(origin)) = (&nonce, origin) {
            self.lock_nonces().put(origin.clone(), n);
        }
        let status = resp.status().as_u16();
        let use_dpop_nonce = match status {
            401 => {
                let fields: Vec<&[u8]> = resp
                    .headers()
                    .get_all(WWW_AUTHENTICATE)
                    .iter()
                    .map(HeaderValue::as_bytes)
                    .collect();
                header::is_use_dpop_nonce_challenge(&fields).unwrap_or_else(|e| {
                    tracing::warn!(url = %resp.url(), error = %e, "unreadable WWW-Authenticate");
                    false
                })
            }
            // Only worth reading when a retry could follow: a proof was sent and a nonce came.
            400 if proof_sent && nonce.is_some() => {
                let (resp, body) = peek_body(resp, MAX_ERROR_BODY).await;
                let hit = body.is_some_and(|b| header::is_use_dpop_nonce_body(&b));
                return (
                    resp,
                    Seen {
                        nonce,
                        use_dpop_nonce: hit,
                    },
                );
            }
            _ => false,
        };
        (
            resp,
            Seen {
                nonce,
                use_dpop_nonce,
            },
        )
    }
}

fn set_proof(req: &mut reqwest::Request, proof: &str) -> Result<(), ClientError> {
    let value = HeaderValue::from_str(proof).map_err(|e| ClientError::Request(Box::new(e)))?;
    req.headers_mut().insert(DPOP, value);
    Ok(())
}

/// A request being built; [`RequestBuilder::send`] signs and sends it.
#[must_use]
pub struct RequestBuilder {
    client: DpopClient,
    inner: reqwest::RequestBuilder,
    options: RequestOptions,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("inner", &self.inner)
            .field("options", &self.options)
            .finish()
    }
}

impl RequestBuilder {
    /// Adds a header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    /// Sets the body (a `Vec`, `String`, `Bytes` or `&'static` data can be resent after a
    /// nonce challenge; a stream cannot).
    pub fn body(mut self, body: impl Into<reqwest::Body>) -> Self {
        self.inner = self.inner.body(body);
        self
    }

    /// Sets an `application/x-www-form-urlencoded` body.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        self.inner = self
            .inner
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(form_body(pairs));
        self
    }

    /// Presents `token` as `Authorization: DPoP <token>` (RFC 9449 §7.1); the proof gets its
    /// `ath`.
    pub fn access_token(mut self, token: &str) -> Self {
        self.inner = self.inner.header(AUTHORIZATION, format!("DPoP {token}"));
        self
    }

    /// Presents a token from the token endpoint: `DPoP` with proofs of the key it is bound
    /// to, or `Bearer` (no proof) when the server issued a Bearer token.
    pub fn token(mut self, token: &crate::token::TokenResponse) -> Self {
        if token.is_dpop() {
            self.inner = self
                .inner
                .header(AUTHORIZATION, format!("DPoP {}", token.access_token()));
            self.options.key = token.jkt();
        } else {
            self.inner = self
                .inner
                .header(AUTHORIZATION, format!("Bearer {}", token.access_token()));
        }
        self
    }

    /// Signs with the key `jkt` instead of the active one.
    pub fn key(mut self, jkt: JwkThumbprint) -> Self {
        self.options.key = Some(jkt);
        self
    }

    /// For `target` (which nonce to use and remember).
    pub fn target(mut self, target: Target) -> Self {
        self.options.target = target;
        self
    }

    /// Sends no proof.
    pub fn without_proof(mut self) -> Self {
        self.options.proof = ProofMode::Never;
        self
    }

    /// A timeout for this request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.inner = self.inner.timeout(timeout);
        self
    }

    /// Signs and sends (see [`DpopClient::execute_with`]).
    pub async fn send(self) -> Result<reqwest::Response, ClientError> {
        let req = self
            .inner
            .build()
            .map_err(|e| ClientError::Request(Box::new(e)))?;
        self.client.execute_with(req, &self.options).await
    }
}

/// `application/x-www-form-urlencoded` serialization (WHATWG URL §5.2, RFC 6749 Appendix B).
pub(crate) fn form_body(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}
