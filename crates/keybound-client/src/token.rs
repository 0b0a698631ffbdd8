//! Token endpoint helpers (RFC 6749 §4.1.3, §4.4, §6) with DPoP (RFC 9449 §5): client
//! authentication, PKCE (RFC 7636, S256), `dpop_jkt` (RFC 9449 §10), strict reading of the
//! token response and the `token_type` check.

use core::fmt;
use std::string::{String, ToString as _};
use std::sync::Arc;
use std::vec::Vec;

use base64ct::{Base64, Base64UrlUnpadded, Encoding as _};
use keybound::JwkThumbprint;
use keybound::json::{JsonError, Object, Value};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::client::{DpopClient, DpopExchange, ProofMode, RequestOptions, form_body};
use crate::error::ClientError;
use crate::nonces::Target;
use crate::signer::{JwsSigner, SignerError, new_jti, random, sign_compact};

/// Largest token endpoint answer read, in bytes.
pub const MAX_TOKEN_RESPONSE: usize = 64 * 1024;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client secret; zeroized on drop, never printed.
#[derive(Clone)]
pub struct ClientSecret(Zeroizing<String>);

impl ClientSecret {
    /// The secret `s`.
    pub fn new(s: impl Into<String>) -> Self {
        ClientSecret(Zeroizing::new(s.into()))
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret(..)")
    }
}

/// `private_key_jwt` settings (RFC 7523 §2.2, OpenID Connect Core §9).
#[derive(Clone)]
pub struct PrivateKeyJwt {
    signer: Arc<dyn JwsSigner>,
    kid: Option<String>,
    audience: Option<String>,
    lifetime: u64,
}

impl fmt::Debug for PrivateKeyJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKeyJwt")
            .field("alg", &self.signer.alg())
            .field("kid", &self.kid)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl PrivateKeyJwt {
    /// Assertions signed by `signer` (a key registered in the client's JWKS), valid 60 s,
    /// with `aud` = the token endpoint URL.
    pub fn new(signer: impl JwsSigner + 'static) -> Self {
        Self::from_arc(Arc::new(signer))
    }

    /// [`PrivateKeyJwt::new`] with a shared signer.
    pub fn from_arc(signer: Arc<dyn JwsSigner>) -> Self {
        PrivateKeyJwt {
            signer,
            kid: None,
            audience: None,
            lifetime: 60,
        }
    }

    /// With a `kid` header naming the key in the client's JWKS.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// With this `aud` (e.g. the issuer identifier, as FAPI 2.0 asks) instead of the token
    /// endpoint URL.
    #[must_use]
    pub fn with_audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Assertions valid for `secs` seconds (`exp` = `iat` + `secs`, at least 1).
    #[must_use]
    pub fn with_lifetime(mut self, secs: u64) -> Self {
        self.lifetime = secs.max(1);
        self
    }

    /// A fresh assertion (new `jti`) for `client_id` at `token_url`, issued at `now`.
    async fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now: u64,
    ) -> Result<String, SignerError> {
        let mut header = String::from("{\"alg\":\"");
        header.push_str(self.signer.alg().name());
        header.push('"');
        if let Some(kid) = &self.kid {
            header.push_str(",\"kid\":");
            json_str(&mut header, kid)?;
        }
        header.push('}');
        let aud = self.audience.as_deref().unwrap_or(token_url);
        let mut claims = String::from("{\"iss\":");
        json_str(&mut claims, client_id)?;
        claims.push_str(",\"sub\":");
        json_str(&mut claims, client_id)?;
        claims.push_str(",\"aud\":");
        json_str(&mut claims, aud)?;
        claims.push_str(",\"jti\":");
        json_str(&mut claims, &new_jti()?)?;
        claims.push_str(&format!(
            ",\"iat\":{now},\"exp\":{}}}",
            now.saturating_add(self.lifetime)
        ));
        sign_compact(&*self.signer, &header, &claims).await
    }
}

fn json_str(out: &mut String, s: &str) -> Result<(), SignerError> {
    keybound::json::write_str(out, s).map_err(|_| SignerError::new("cannot serialize a claim"))
}

/// How the client authenticates at the token endpoint (RFC 6749 §2.3, RFC 7523 §2.2,
/// RFC 8705 §2, OpenID Connect Core §9).
#[non_exhaustive]
#[derive(Clone, Debug)]
pub enum ClientAuth {
    /// A public client (`none`): `client_id` in the body only.
    None,
    /// `client_secret_basic`: HTTP Basic with the form-encoded id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic(ClientSecret),
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    ClientSecretPost(ClientSecret),
    /// `private_key_jwt`: a signed JWT assertion, made fresh for every request.
    PrivateKeyJwt(PrivateKeyJwt),
    /// `tls_client_auth` / `self_signed_tls_client_auth`: the client certificate of the TLS
    /// handshake ([`DpopClientBuilder::client_identity`](crate::DpopClientBuilder::client_identity)),
    /// `client_id` in the body.
    TlsClientAuth,
}

/// A token endpoint and how this client authenticates there.
#[derive(Clone, Debug)]
pub struct TokenEndpoint {
    url: String,
    client_id: String,
    auth: ClientAuth,
}

impl TokenEndpoint {
    /// The endpoint at `url` for client `client_id` authenticating with `auth`.
    pub fn new(url: impl Into<String>, client_id: impl Into<String>, auth: ClientAuth) -> Self {
        TokenEndpoint {
            url: url.into(),
            client_id: client_id.into(),
            auth,
        }
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The client identifier.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
}

/// A grant to request at the token endpoint, with its parameters.
#[derive(Clone)]
#[must_use]
pub struct GrantRequest {
    params: Vec<(String, Zeroizing<String>)>,
    key: Option<JwkThumbprint>,
    proof: ProofMode,
}

impl fmt::Debug for GrantRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Codes, verifiers and refresh tokens are secrets: names only.
        let names: Vec<&str> = self.params.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("GrantRequest")
            .field("params", &names)
            .field("key", &self.key)
            .field("proof", &self.proof)
            .finish()
    }
}

impl GrantRequest {
    fn with_type(grant_type: &str) -> Self {
        GrantRequest {
            params: Vec::with_capacity(4),
            key: None,
            proof: ProofMode::Auto,
        }
        .param("grant_type", grant_type)
    }

    /// `client_credentials` (RFC 6749 §4.4.2).
    pub fn client_credentials() -> Self {
        Self::with_type("client_credentials")
    }

    /// `authorization_code` with the PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5). The code
    /// was bound to the key in `dpop_jkt` (RFC 9449 §10): sign with that key.
    pub fn authorization_code(code: &str, redirect_uri: &str, pkce: &Pkce) -> Self {
        Self::with_type("authorization_code")
            .param("code", code)
            .param("redirect_uri", redirect_uri)
            .param("code_verifier", pkce.verifier())
    }

    /// `refresh_token` (RFC 6749 §6). A public client's refresh token is bound to the key it
    /// was issued with (RFC 9449 §5): sign with that key ([`GrantRequest::key`]).
    pub fn refresh_token(refresh_token: &str) -> Self {
        Self::with_type("refresh_token").param("refresh_token", refresh_token)
    }

    /// With `scope`.
    pub fn scope(self, scope: &str) -> Self {
        self.param("scope", scope)
    }

    /// With another parameter (`resource`, `audience`, …).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params
            .push((name.to_owned(), Zeroizing::new(value.to_owned())));
        self
    }

    /// Proofs signed by the key `jkt` instead of the active key.
    pub fn key(mut self, jkt: JwkThumbprint) -> Self {
        self.key = Some(jkt);
        self
    }

    /// No DPoP proof: the token will not be DPoP-bound (e.g. certificate-bound only).
    pub fn without_dpop(mut self) -> Self {
        self.proof = ProofMode::Never;
        self
    }
}

/// PKCE with S256 (RFC 7636 §4.1–4.2): a random verifier and its challenge.
#[derive(Clone)]
pub struct Pkce {
    verifier: Zeroizing<String>,
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pkce(..)")
    }
}

/// Why a PKCE verifier could not be made or used.
#[non_exhaustive]
#[derive(Debug)]
pub enum PkceError {
    /// A verifier must be 43 to 128 characters of `[A-Z] [a-z] [0-9] - . _ ~` (RFC 7636 §4.1).
    InvalidVerifier,
    /// The operating system's RNG failed.
    Rng(SignerError),
}

impl fmt::Display for PkceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidVerifier => {
                f.write_str("a PKCE verifier is 43 to 128 unreserved characters (RFC 7636 §4.1)")
            }
            Self::Rng(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl core::error::Error for PkceError {}

impl Pkce {
    /// The `code_challenge_method`.
    pub const METHOD: &'static str = "S256";

    /// A verifier of 32 random bytes, base64url (43 characters).
    pub fn generate() -> Result<Self, PkceError> {
        let bytes = Zeroizing::new(random::<32>().map_err(PkceError::Rng)?);
        Ok(Pkce {
            verifier: Zeroizing::new(Base64UrlUnpadded::encode_string(&*bytes)),
        })
    }

    /// A given verifier, checked against RFC 7636 §4.1.
    pub fn from_verifier(verifier: &str) -> Result<Self, PkceError> {
        let ok = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        if !ok {
            return Err(PkceError::InvalidVerifier);
        }
        Ok(Pkce {
            verifier: Zeroizing::new(verifier.to_owned()),
        })
    }

    /// The `code_verifier` for the token request.
    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    /// The `code_challenge`: `BASE64URL(SHA256(verifier))` (RFC 7636 §4.2).
    pub fn challenge(&self) -> String {
        Base64UrlUnpadded::encode_string(&Sha256::digest(self.verifier.as_bytes()))
    }
}

/// An authorization request (RFC 6749 §4.1.1) with PKCE and `dpop_jkt` (RFC 9449 §10), as a
/// URL to send the user to.
#[derive(Clone, Debug)]
#[must_use]
pub struct AuthorizationRequest {
    params: Vec<(String, String)>,
}

impl AuthorizationRequest {
    /// `response_type=code` for `client_id` returning to `redirect_uri`, with `pkce`'s S256
    /// challenge.
    pub fn new(client_id: &str, redirect_uri: &str, pkce: &Pkce) -> Self {
        AuthorizationRequest { params: Vec::new() }
            .param("response_type", "code")
            .param("client_id", client_id)
            .param("redirect_uri", redirect_uri)
            .param("code_challenge", &pkce.challenge())
            .param("code_challenge_method", Pkce::METHOD)
    }

    /// Binds the code to the key `jkt` (`dpop_jkt`, RFC 9449 §10).
    pub fn dpop_jkt(self, jkt: &JwkThumbprint) -> Self {
        self.param("dpop_jkt", &jkt.to_string())
    }

    /// With `scope`.
    pub fn scope(self, scope: &str) -> Self {
        self.param("scope", scope)
    }

    /// With `state`.
    pub fn state(self, state: &str) -> Self {
        self.param("state", state)
    }

    /// With another parameter.
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The URL: `authorization_endpoint` with these parameters added to its query.
    pub fn url(&self, authorization_endpoint: &str) -> Result<String, ClientError> {
        let mut url =
            reqwest::Url::parse(authorization_endpoint).map_err(|_| ClientError::InvalidUrl {
                url: authorization_endpoint.to_owned(),
            })?;
        url.query_pairs_mut()
            .extend_pairs(self.params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Ok(url.into())
    }
}

/// A successful token response (RFC 6749 §5.1), read strictly.
#[derive(Clone)]
pub struct TokenResponse {
    access_token: Zeroizing<String>,
    token_type: String,
    expires_in: Option<u64>,
    refresh_token: Option<Zeroizing<String>>,
    scope: Option<String>,
    id_token: Option<String>,
    jkt: Option<JwkThumbprint>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &self.refresh_token.is_some())
            .field("scope", &self.scope)
            .field("jkt", &self.jkt)
            .finish_non_exhaustive()
    }
}

impl TokenResponse {
    /// `access_token`.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// `token_type` as the server spelled it.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether `token_type` is `DPoP` (case-insensitive, RFC 6749 §5.1).
    pub fn is_dpop(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("DPoP")
    }

    /// `expires_in`, seconds.
    pub fn expires_in(&self) -> Option<u64> {
        self.expires_in
    }

    /// `refresh_token`.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref().map(String::as_str)
    }

    /// `scope`.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// `id_token` (OpenID Connect Core §3.1.3.3).
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }

    /// The thumbprint of the key the access token is bound to (the proof key), for a DPoP
    /// token.
    pub fn jkt(&self) -> Option<JwkThumbprint> {
        self.jkt
    }

    /// Reads a token response body strictly: one JSON object (duplicate members, trailing
    /// data and bad syntax refused, [`keybound::json`]); `access_token` and `token_type`
    /// non-empty strings; `expires_in` a non-negative integer; `refresh_token`, `scope`,
    /// `id_token` strings; other members ignored.
    pub fn parse(body: &[u8]) -> Result<Self, TokenResponseError> {
        let obj = Object::parse(body).map_err(TokenResponseError::Json)?;
        let access_token = required_str(&obj, "access_token")?;
        let token_type = required_str(&obj, "token_type")?;
        let expires_in = match obj.get("expires_in") {
            None => None,
            Some(v) => Some(v.as_number().and_then(|n| n.as_u64()).ok_or(
                TokenResponseError::WrongType {
                    member: "expires_in",
                    expected: "a non-negative integer",
                },
            )?),
        };
        Ok(TokenResponse {
            access_token: Zeroizing::new(access_token),
            token_type,
            expires_in,
            refresh_token: optional_str(&obj, "refresh_token")?.map(Zeroizing::new),
            scope: optional_str(&obj, "scope")?,
            id_token: optional_str(&obj, "id_token")?,
            jkt: None,
        })
    }
}

fn string_value(v: &Value<'_>, member: &'static str) -> Result<String, TokenResponseError> {
    v.as_str()
        .map(|s| s.to_cow().into_owned())
        .ok_or(TokenResponseError::WrongType {
            member,
            expected: "a string",
        })
}

fn required_str(obj: &Object<'_>, member: &'static str) -> Result<String, TokenResponseError> {
    let v = obj
        .get(member)
        .ok_or(TokenResponseError::Missing { member })?;
    let s = string_value(&v, member)?;
    if s.is_empty() {
        return Err(TokenResponseError::Empty { member });
    }
    Ok(s)
}

fn optional_str(
    obj: &Object<'_>,
    member: &'static str,
) -> Result<Option<String>, TokenResponseError> {
    obj.get(member)
        .map(|v| string_value(&v, member))
        .transpose()
}

/// Why a token response body was refused (RFC 6749 §5.1).
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenResponseError {
    /// Not one strict JSON object (RFC 8259; duplicate members included).
    Json(JsonError),
    /// A required member is missing.
    Missing {
        /// The member.
        member: &'static str,
    },
    /// A member has the wrong JSON type.
    WrongType {
        /// The member.
        member: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A required string is empty.
    Empty {
        /// The member.
        member: &'static str,
    },
}

impl fmt::Display for TokenResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "not a strict JSON object: {e}"),
            Self::Missing { member } => write!(f, "member {member} is missing"),
            Self::WrongType { member, expected } => write!(f, "member {member} is not {expected}"),
            Self::Empty { member } => write!(f, "member {member} is empty"),
        }
    }
}

impl core::error::Error for TokenResponseError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a token request produced no token.
#[non_exhaustive]
#[derive(Debug)]
pub enum TokenError {
    /// Sending failed, or the proof could not be signed.
    Client(ClientError),
    /// The client assertion (`private_key_jwt`) could not be signed.
    Assertion(SignerError),
    /// The server answered an OAuth error (RFC 6749 §5.2).
    ErrorResponse {
        /// HTTP status.
        status: u16,
        /// `error`.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
    /// A status without a readable OAuth error body.
    UnexpectedStatus {
        /// HTTP status.
        status: u16,
    },
    /// A success status with a body that is not a valid token response.
    Malformed(TokenResponseError),
    /// The answer is larger than [`MAX_TOKEN_RESPONSE`].
    TooLarge {
        /// The cap.
        max: usize,
    },
    /// A DPoP proof was sent and `token_type` is not `DPoP` (RFC 9449 §5): the server issued
    /// an unbound token the client did not ask for.
    TokenTypeMismatch {
        /// The `token_type` received.
        token_type: String,
    },
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Client(e) => fmt::Display::fmt(e, f),
            Self::Assertion(e) => write!(f, "cannot sign the client assertion: {e}"),
            Self::ErrorResponse {
                status,
                error,
                description,
            } => {
                write!(f, "token endpoint answered {status} {error}")?;
                match description {
                    Some(d) => write!(f, ": {d}"),
                    None => Ok(()),
                }
            }
            Self::UnexpectedStatus { status } => {
                write!(f, "token endpoint answered {status} without an OAuth error")
            }
            Self::Malformed(e) => write!(f, "token response refused: {e}"),
            Self::TooLarge { max } => write!(f, "token response larger than {max} bytes"),
            Self::TokenTypeMismatch { token_type } => write!(
                f,
                "a DPoP proof was sent but token_type is {token_type:?}, not \"DPoP\" (RFC 9449 §5)"
            ),
        }
    }
}

impl core::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Client(e) => Some(e),
            Self::Assertion(e) => Some(e),
            Self::Malformed(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ClientError> for TokenError {
    fn from(e: ClientError) -> Self {
        TokenError::Client(e)
    }
}

/// Reads at most `max` bytes of body.
async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, TokenError> {
    let url = resp.url().clone();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ClientError::transport(&url, e))?
    {
        if body.len().saturating_add(chunk.len()) > max {
            return Err(TokenError::TooLarge { max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `error` and `error_description` of an OAuth error body (RFC 6749 §5.2).
fn oauth_error(body: &[u8]) -> Option<(String, Option<String>)> {
    let obj = Object::parse(body).ok()?;
    let error = obj.get("error")?.as_str()?.to_cow().into_owned();
    let description = obj
        .get("error_description")
        .and_then(|v| v.as_str())
        .map(|s| s.to_cow().into_owned());
    Some((error, description))
}

impl DpopClient {
    /// An authorization request for `client_id` with `pkce`, bound to the active key
    /// (`dpop_jkt`, RFC 9449 §10) when the client holds one.
    pub fn authorization_request(
        &self,
        client_id: &str,
        redirect_uri: &str,
        pkce: &Pkce,
    ) -> AuthorizationRequest {
        let req = AuthorizationRequest::new(client_id, redirect_uri, pkce);
        match self.jkt() {
            Some(jkt) => req.dpop_jkt(&jkt),
            None => req,
        }
    }

    /// `client_credentials` (RFC 6749 §4.4) with a DPoP proof.
    pub async fn client_credentials(
        &self,
        endpoint: &TokenEndpoint,
        scope: Option<&str>,
    ) -> Result<TokenResponse, TokenError> {
        let mut grant = GrantRequest::client_credentials();
        if let Some(s) = scope {
            grant = grant.scope(s);
        }
        self.token(endpoint, grant).await
    }

    /// `authorization_code` (RFC 6749 §4.1.3) with the PKCE verifier and a DPoP proof of the
    /// active key (the one [`DpopClient::authorization_request`] put in `dpop_jkt`).
    pub async fn authorization_code(
        &self,
        endpoint: &TokenEndpoint,
        code: &str,
        redirect_uri: &str,
        pkce: &Pkce,
    ) -> Result<TokenResponse, TokenError> {
        self.token(
            endpoint,
            GrantRequest::authorization_code(code, redirect_uri, pkce),
        )
        .await
    }

    /// `refresh_token` (RFC 6749 §6) with a DPoP proof of the active key.
    pub async fn refresh_token(
        &self,
        endpoint: &TokenEndpoint,
        refresh_token: &str,
    ) -> Result<TokenResponse, TokenError> {
        self.token(endpoint, GrantRequest::refresh_token(refresh_token))
            .await
    }

    /// Any grant: builds the form body with client authentication, sends it with a proof
    /// (nonces of the [`Target::AuthorizationServer`]), retries once on `use_dpop_nonce` with
    /// a new proof *and a new client assertion* (an assertion's `jti` is single-use), and
    /// reads the answer strictly. When a proof was sent, `token_type` must be `DPoP`
    /// (case-insensitive): [`TokenError::TokenTypeMismatch`] otherwise.
    pub async fn token(
        &self,
        endpoint: &TokenEndpoint,
        grant: GrantRequest,
    ) -> Result<TokenResponse, TokenError> {
        let mut options = RequestOptions::new()
            .with_target(Target::AuthorizationServer)
            .with_proof(grant.proof);
        options.key = grant.key;
        let first = self.token_http_request(endpoint, &grant).await?;
        let resp = self
            .execute_rebuilding(first, &options, || async {
                // A new client assertion too: its jti is single-use (RFC 7523 §3).
                self.token_http_request(endpoint, &grant).await.map(Some)
            })
            .await?;
        let status = resp.status().as_u16();
        let exchange = DpopExchange::of(&resp).cloned();
        let body = read_capped(resp, MAX_TOKEN_RESPONSE).await?;
        if !(200..300).contains(&status) {
            return Err(match oauth_error(&body) {
                Some((error, description)) => TokenError::ErrorResponse {
                    status,
                    error,
                    description,
                },
                None => TokenError::UnexpectedStatus { status },
            });
        }
        let mut token = TokenResponse::parse(&body).map_err(TokenError::Malformed)?;
        if let Some(exchange) = exchange {
            if !token.is_dpop() {
                return Err(TokenError::TokenTypeMismatch {
                    token_type: token.token_type,
                });
            }
            token.jkt = Some(exchange.jkt);
        }
        Ok(token)
    }

    /// The HTTP request of a token call, with a fresh client assertion when one is used.
    async fn token_http_request(
        &self,
        endpoint: &TokenEndpoint,
        grant: &GrantRequest,
    ) -> Result<reqwest::Request, TokenError> {
        let mut pairs: Vec<(&str, &str)> = grant
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut basic = None;
        let assertion;
        match &endpoint.auth {
            ClientAuth::None | ClientAuth::TlsClientAuth => {
                pairs.push(("client_id", &endpoint.client_id));
            }
            ClientAuth::ClientSecretBasic(secret) => {
                let user: String =
                    form_urlencoded::byte_serialize(endpoint.client_id.as_bytes()).collect();
                let pass: Zeroizing<String> = Zeroizing::new(
                    form_urlencoded::byte_serialize(secret.expose().as_bytes()).collect(),
                );
                let joined = Zeroizing::new(format!("{user}:{}", pass.as_str()));
                basic = Some(Zeroizing::new(format!(
                    "Basic {}",
                    Base64::encode_string(joined.as_bytes())
                )));
            }
            ClientAuth::ClientSecretPost(secret) => {
                pairs.push(("client_id", &endpoint.client_id));
                pairs.push(("client_secret", secret.expose()));
            }
            ClientAuth::PrivateKeyJwt(pkj) => {
                assertion = pkj
                    .assertion(&endpoint.client_id, &endpoint.url, keybound::unix_now())
                    .await
                    .map_err(TokenError::Assertion)?;
                pairs.push(("client_id", &endpoint.client_id));
                pairs.push(("client_assertion_type", JWT_BEARER_ASSERTION));
                pairs.push(("client_assertion", &assertion));
            }
        }
        let body = Zeroizing::new(form_body(&pairs));
        let mut req = self
            .http()
            .post(&endpoint.url)
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .header(ACCEPT, HeaderValue::from_static("application/json"))
            .body(body.as_bytes().to_vec());
        if let Some(b) = &basic {
            let mut value = HeaderValue::from_str(b)
                .map_err(|e| TokenError::Client(ClientError::Request(Box::new(e))))?;
            value.set_sensitive(true);
            req = req.header(AUTHORIZATION, value);
        }
        req.build()
            .map_err(|e| TokenError::Client(ClientError::Request(Box::new(e))))
    }
}
