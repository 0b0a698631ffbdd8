//! The authorization server: metadata (RFC 8414), JWKS, PAR (RFC 9126), the authorization
//! endpoint (RFC 6749 §4.1, auto-approving one user, RFC 9207 `iss`) and the token endpoint
//! (`client_credentials`, `authorization_code` with PKCE S256, `refresh_token`), DPoP with
//! server nonces required (RFC 9449) through the facade's two-phase checks, and RFC 9068
//! access tokens.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use axum::routing::{get, post};
use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound::JwkThumbprint;
use keybound::authz::{
    AsConfig, AsRejection, AuthorizationServer, ClientKind, Grant, TokenRequest,
};
use keybound::cnf::{Confirmation, ct_eq};
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::http::{DPOP, DPOP_NONCE, as_rejection_response, header_values};
use keybound::jose::{AlgSet, DefaultVerifier, SigningKey, signing_alg_values_supported};
use keybound::jwt::{TokenClaims, mint};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::assertion::{self, JWT_BEARER, RegisteredKey};
use crate::form::Form;
use crate::store::Expiring;

/// Access-token lifetime (RFC 9068 `exp − iat`), seconds.
const ACCESS_TOKEN_TTL: u64 = 300;
/// Authorization-code lifetime (RFC 6749 §4.1.2: short; 10 minutes at most).
const CODE_TTL: u64 = 60;
/// Pushed-request lifetime (RFC 9126 §2.2 `expires_in`).
const PAR_TTL: u64 = 60;
/// Refresh-token lifetime.
const REFRESH_TTL: u64 = 600;
/// The one scope this server grants.
const SCOPE: &str = "api:read";
/// Largest form body read.
const BODY_LIMIT: usize = 64 * 1024;
/// Live entries per store; a full store refuses (503), it never evicts.
const STORE_CAP: usize = 10_000;
/// Step of the stateless nonce source (a nonce is good for this step and the previous one).
const NONCE_STEP: u64 = 60;
/// `state` longer than this is refused.
const MAX_STATE_LEN: usize = 512;

/// How a client authenticates at the token and PAR endpoints.
#[derive(Debug)]
pub(crate) enum ClientAuth {
    /// `private_key_jwt` (RFC 7523 §2.2) with this registered key.
    PrivateKeyJwt(RegisteredKey),
    /// `none`: a public client (RFC 6749 §2.1).
    None,
}

/// A registered client.
#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) auth: ClientAuth,
    pub(crate) grant_types: Vec<String>,
    pub(crate) redirect_uris: Vec<String>,
    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request carries a proof.
    pub(crate) dpop_bound: bool,
}

impl Client {
    fn kind(&self) -> ClientKind {
        match self.auth {
            ClientAuth::PrivateKeyJwt(_) => ClientKind::Confidential,
            ClientAuth::None => ClientKind::Public,
        }
    }

    fn may(&self, grant_type: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant_type)
    }
}

/// What the server is configured with (from the deployment file).
#[derive(Debug)]
pub(crate) struct Settings {
    /// The one resource indicator (RFC 8707) tokens are issued for: their `aud`.
    pub(crate) resource: String,
    /// The user the authorization endpoint signs in.
    pub(crate) user: String,
    pub(crate) clients: Vec<Client>,
}

/// A pushed authorization request (RFC 9126), waiting for the user agent.
#[derive(Clone, Debug)]
struct Pushed {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    resource: String,
    state: Option<String>,
    dpop_jkt: Option<JwkThumbprint>,
}

/// An authorization code (RFC 6749 §4.1.2) and what it stands for.
#[derive(Clone, Debug)]
struct Code {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    scope: String,
    resource: String,
    sub: String,
    /// RFC 9449 §10: the proof at the token endpoint must be made with this key.
    dpop_jkt: Option<JwkThumbprint>,
}

/// A refresh token and the binding recorded when it was issued (RFC 9449 §5).
#[derive(Clone, Debug)]
struct Refresh {
    client_id: String,
    sub: String,
    scope: String,
    resource: String,
    binding: Confirmation,
}

#[derive(Debug)]
struct Stores {
    pushed: Expiring<Pushed>,
    codes: Expiring<Code>,
    refresh: Expiring<Refresh>,
    /// `client_id` + `jti` of every accepted client assertion, until it expires.
    assertions: Expiring<()>,
}

/// The server's state, shared by every request.
pub(crate) struct App {
    issuer: String,
    token_endpoint: String,
    par_endpoint: String,
    resource: String,
    user: String,
    clients: HashMap<String, Client>,
    authz: AuthorizationServer<'static>,
    key: SigningKey,
    kid: String,
    metadata: String,
    jwks: String,
    stores: Mutex<Stores>,
}

/// A refused request: an OAuth error (RFC 6749 §5.2) or the facade's DPoP rejection.
#[derive(Debug)]
enum Refusal {
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    Authz(AsRejection),
}

fn refuse(error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal::OAuth {
        status: StatusCode::BAD_REQUEST,
        error,
        description: description.into(),
    }
}

fn invalid_client(description: impl Into<String>) -> Refusal {
    refuse("invalid_client", description)
}

fn server_error(status: StatusCode, error: &'static str, description: &str) -> Refusal {
    Refusal::OAuth {
        status,
        error,
        description: description.to_owned(),
    }
}

fn store_full() -> Refusal {
    server_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "temporarily_unavailable",
        "a store is full",
    )
}

impl Refusal {
    fn response(&self) -> Response<Body> {
        match self {
            Refusal::OAuth {
                status,
                error,
                description,
            } => json_response(
                *status,
                &json!({"error": error, "error_description": description}),
                None,
            ),
            Refusal::Authz(rej) => as_rejection_response(rej).map(Body::from),
        }
    }

    fn summary(&self) -> String {
        match self {
            Refusal::OAuth {
                status,
                error,
                description,
            } => format!("{} {error}: {description}", status.as_u16()),
            Refusal::Authz(rej) => format!(
                "{} {} ({}): {}",
                rej.status(),
                rej.error(),
                rej.reason(),
                rej.description()
            ),
        }
    }
}

fn json_response(status: StatusCode, body: &Value, nonce: Option<&str>) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(v) = nonce.and_then(|n| HeaderValue::from_str(n).ok()) {
        h.insert(DPOP_NONCE, v);
    }
    resp
}

/// 32 random bytes, base64url: codes, refresh tokens, request URIs, token `jti`s.
fn random_token() -> Result<String, Refusal> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| {
        server_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no randomness",
        )
    })?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]`.
fn is_code_verifier(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The scope to grant: `requested` (space-separated, RFC 6749 §3.3) when every token of it
/// is in `allowed`, else `allowed` itself when nothing was requested.
fn granted_scope(requested: Option<&str>, allowed: &str) -> Result<String, Refusal> {
    let Some(requested) = requested else {
        return Ok(allowed.to_owned());
    };
    let mut granted: Vec<&str> = Vec::new();
    for token in requested.split(' ') {
        if token.is_empty() {
            return Err(refuse(
                "invalid_scope",
                "scope is not space-separated tokens",
            ));
        }
        if !allowed.split(' ').any(|a| a == token) {
            return Err(refuse(
                "invalid_scope",
                format!("scope `{token}` is not available (only `{allowed}`)"),
            ));
        }
        if !granted.contains(&token) {
            granted.push(token);
        }
    }
    Ok(granted.join(" "))
}

impl App {
    /// The server for `issuer` (its `https://` origin) with `settings`.
    pub(crate) fn new(issuer: String, settings: Settings) -> Result<App, String> {
        let Settings {
            resource,
            user,
            clients,
        } = settings;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| format!("randomness: {e}"))?;
        // DPoP with server nonces required (RFC 9449 §8), every algorithm the verifier
        // knows, no certificate-bound tokens (no client certificates here), and a token
        // request without proof of possession refused.
        let authz = AuthorizationServer::new(
            AsConfig::new(MemoryReplayStore::new(STORE_CAP))
                .with_nonce(HmacNonceSource::new(secret, NONCE_STEP))
                .mtls_bound_tokens(false)
                .require_proof_of_possession(true),
        );
        let key = SigningKey::generate_os_rng(keybound::jose::Algorithm::Es256)
            .map_err(|e| format!("signing key: {e}"))?;
        let kid = key.thumbprint().to_b64_string();
        let mut public: Value =
            serde_json::from_str(&key.public_jwk()).map_err(|e| format!("public JWK: {e}"))?;
        if let Some(o) = public.as_object_mut() {
            o.insert("kid".into(), json!(kid));
            o.insert("use".into(), json!("sig"));
            o.insert("alg".into(), json!(key.alg().name()));
        }
        let jwks = json!({ "keys": [public] }).to_string();
        let token_endpoint = format!("{issuer}/token");
        let par_endpoint = format!("{issuer}/par");
        let names = |algs: AlgSet| algs.iter().map(|a| a.name()).collect::<Vec<_>>();
        let metadata = json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": token_endpoint,
            "pushed_authorization_request_endpoint": par_endpoint,
            "require_pushed_authorization_requests": true,
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "none"],
            "token_endpoint_auth_signing_alg_values_supported":
                names(signing_alg_values_supported(AlgSet::ALL, &DefaultVerifier::default())),
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": [SCOPE],
            "authorization_response_iss_parameter_supported": true,
            "dpop_signing_alg_values_supported": names(authz.algs()),
        })
        .to_string();
        Ok(App {
            token_endpoint,
            par_endpoint,
            resource,
            user,
            clients: clients.into_iter().map(|c| (c.id.clone(), c)).collect(),
            authz,
            key,
            kid,
            metadata,
            jwks,
            stores: Mutex::new(Stores {
                pushed: Expiring::new(STORE_CAP),
                codes: Expiring::new(STORE_CAP),
                refresh: Expiring::new(STORE_CAP),
                assertions: Expiring::new(STORE_CAP),
            }),
            issuer,
        })
    }

    fn stores(&self) -> MutexGuard<'_, Stores> {
        // Every critical section leaves the maps consistent; a panic elsewhere does not
        // poison their meaning.
        self.stores.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh `DPoP-Nonce` for a successful answer (RFC 9449 §8.2), so that the client's
    /// next proof carries a current one.
    fn fresh_nonce(&self, now: u64) -> Option<String> {
        self.authz.issue_nonce(now)
    }

    /// The registered client a request names: `client_id`, or the assertion's `sub` when
    /// there is no `client_id` (RFC 7521 §4.2). Not yet authenticated.
    fn client(&self, headers: &HeaderMap, form: &Form) -> Result<&Client, Refusal> {
        if headers.contains_key(header::AUTHORIZATION) {
            return Err(refuse(
                "invalid_request",
                "client authentication in the Authorization header is not offered (private_key_jwt or none)",
            ));
        }
        if form.has("client_secret") {
            return Err(invalid_client(
                "client_secret_post is not offered (private_key_jwt or none)",
            ));
        }
        let id = match (form.get("client_id"), form.get("client_assertion")) {
            (Some(id), _) => id.to_owned(),
            (None, Some(a)) => assertion::unverified_subject(a)
                .ok_or_else(|| invalid_client("no client_id and no readable assertion sub"))?,
            (None, None) => return Err(invalid_client("no client_id")),
        };
        self.clients
            .get(&id)
            .ok_or_else(|| invalid_client(format!("unknown client `{id}`")))
    }

    /// Client authentication (RFC 6749 §2.3): `private_key_jwt` verified for real, its `jti`
    /// single use; `none` for a public client, which must not send an assertion.
    fn authenticate(
        &self,
        client: &Client,
        form: &Form,
        audiences: &[&str],
        now: u64,
    ) -> Result<(), Refusal> {
        let assertion_type = form.get("client_assertion_type");
        let assertion = form.get("client_assertion");
        match &client.auth {
            ClientAuth::None => {
                if assertion_type.is_some() || assertion.is_some() {
                    return Err(invalid_client(
                        "a public client (token_endpoint_auth_method none) sends no client assertion",
                    ));
                }
                Ok(())
            }
            ClientAuth::PrivateKeyJwt(key) => {
                if assertion_type != Some(JWT_BEARER) {
                    return Err(invalid_client(format!(
                        "private_key_jwt: client_assertion_type must be {JWT_BEARER}"
                    )));
                }
                let jws = assertion
                    .ok_or_else(|| invalid_client("private_key_jwt: no client_assertion"))?;
                let verified = assertion::verify(jws, &client.id, key, audiences, now)
                    .map_err(|f| invalid_client(f.to_string()))?;
                let fresh = self
                    .stores()
                    .assertions
                    .insert_new(
                        format!("{}\n{}", client.id, verified.jti),
                        (),
                        verified.keep_until,
                        now,
                    )
                    .map_err(|_| store_full())?;
                if !fresh {
                    return Err(invalid_client(
                        "client assertion `jti`: already used (RFC 7523 §3)",
                    ));
                }
                Ok(())
            }
        }
    }

    /// The `resource` parameters (RFC 8707 §2): absent means `default`; present, every value
    /// must be `default` (one resource per token here).
    fn resource(form: &Form, default: &str) -> Result<String, Refusal> {
        match form.all("resource").iter().find(|r| **r != default) {
            Some(other) => Err(refuse(
                "invalid_target",
                format!("resource `{other}` is not served here (only `{default}`)"),
            )),
            None => Ok(default.to_owned()),
        }
    }

    /// The parameters of an authorization request, checked at PAR (RFC 9126 §2.1).
    fn authorization_request(&self, client: &Client, form: &Form) -> Result<Pushed, Refusal> {
        if form.get("response_type") != Some("code") {
            return Err(refuse(
                "unsupported_response_type",
                "response_type must be code",
            ));
        }
        if form.get("response_mode").is_some_and(|m| m != "query") {
            return Err(refuse("invalid_request", "response_mode must be query"));
        }
        let redirect_uri = form
            .get("redirect_uri")
            .filter(|r| client.redirect_uris.iter().any(|u| u == r))
            .ok_or_else(|| refuse("invalid_request", "redirect_uri missing or not registered"))?;
        if form.get("code_challenge_method") != Some("S256") {
            return Err(refuse(
                "invalid_request",
                "PKCE required: code_challenge_method S256 (RFC 7636 §4.3)",
            ));
        }
        // BASE64URL(SHA-256(verifier)) is 43 characters.
        let code_challenge = form
            .get("code_challenge")
            .filter(|c| c.len() == 43 && Base64UrlUnpadded::decode_vec(c).is_ok())
            .ok_or_else(|| {
                refuse(
                    "invalid_request",
                    "code_challenge missing or not a base64url SHA-256",
                )
            })?;
        let state = form.get("state");
        if state.is_some_and(|s| s.len() > MAX_STATE_LEN) {
            return Err(refuse("invalid_request", "state too long"));
        }
        Ok(Pushed {
            client_id: client.id.clone(),
            redirect_uri: redirect_uri.to_owned(),
            code_challenge: code_challenge.to_owned(),
            scope: granted_scope(form.get("scope"), SCOPE)?,
            resource: Self::resource(form, &self.resource)?,
            state: state.map(str::to_owned),
            dpop_jkt: None,
        })
    }

    /// `POST /par` (RFC 9126 §2): stateless checks of `dpop_jkt` and the DPoP proof
    /// (RFC 9449 §10.1), client authentication, then the proof's `jti` committed.
    fn par(&self, parts: &Parts, form: &Form, now: u64) -> Result<Response<Body>, Refusal> {
        if form.has("request_uri") {
            return Err(refuse(
                "invalid_request",
                "request_uri is not allowed in a pushed request (RFC 9126 §2.1)",
            ));
        }
        if form.has("request") {
            return Err(refuse(
                "request_not_supported",
                "request objects (RFC 9101) are not supported",
            ));
        }
        let client = self.client(&parts.headers, form)?;
        if !client.may("authorization_code") {
            return Err(refuse(
                "unauthorized_client",
                format!("{} may not use authorization_code", client.id),
            ));
        }
        let dpop = header_values(&parts.headers, &DPOP);
        let pending = self
            .authz
            .check_par(
                parts.method.as_str(),
                &self.par_endpoint,
                &dpop,
                form.get("dpop_jkt"),
                now,
            )
            .map_err(Refusal::Authz)?;
        // RFC 9126 §2: the issuer, the token endpoint and the PAR endpoint all name this server.
        self.authenticate(
            client,
            form,
            &[&self.issuer, &self.token_endpoint, &self.par_endpoint],
            now,
        )?;
        let mut pushed = self.authorization_request(client, form)?;
        pushed.dpop_jkt = pending.commit(&self.authz).map_err(Refusal::Authz)?;
        let request_uri = format!("urn:ietf:params:oauth:request_uri:{}", random_token()?);
        let stored = self
            .stores()
            .pushed
            .insert_new(request_uri.clone(), pushed, now + PAR_TTL, now)
            .map_err(|_| store_full())?;
        if !stored {
            return Err(server_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "request_uri collision",
            ));
        }
        Ok(json_response(
            StatusCode::CREATED,
            &json!({"request_uri": request_uri, "expires_in": PAR_TTL}),
            self.fresh_nonce(now).as_deref(),
        ))
    }

    /// `GET /authorize?client_id=…&request_uri=…` (RFC 9126 §4): the pushed request, used
    /// once; the user (signed in and consenting by program) gets a code, redirected with
    /// `code`, `state` and `iss` (RFC 9207). Errors are shown, never redirected.
    fn authorize(&self, query: Option<&str>, now: u64) -> Result<Response<Body>, Refusal> {
        let form = Form::parse(query.unwrap_or_default().as_bytes())
            .map_err(|e| refuse("invalid_request", e.to_string()))?;
        let client_id = form
            .get("client_id")
            .ok_or_else(|| refuse("invalid_request", "client_id missing"))?;
        let request_uri = form.get("request_uri").ok_or_else(|| {
            refuse(
                "invalid_request",
                "pushed authorization requests are required (RFC 9126 §5): no request_uri",
            )
        })?;
        let pushed = self
            .stores()
            .pushed
            .take(request_uri, now)
            .ok_or_else(|| refuse("invalid_request", "request_uri unknown, used or expired"))?;
        if pushed.client_id != client_id {
            return Err(refuse(
                "invalid_request",
                "request_uri was pushed by another client",
            ));
        }
        let code = random_token()?;
        let record = Code {
            client_id: pushed.client_id,
            redirect_uri: pushed.redirect_uri.clone(),
            code_challenge: pushed.code_challenge,
            scope: pushed.scope,
            resource: pushed.resource,
            sub: self.user.clone(),
            dpop_jkt: pushed.dpop_jkt,
        };
        let stored = self
            .stores()
            .codes
            .insert_new(code.clone(), record, now + CODE_TTL, now)
            .map_err(|_| store_full())?;
        if !stored {
            return Err(server_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "code collision",
            ));
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("code", &code);
        if let Some(state) = &pushed.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", &self.issuer);
        let mut location = pushed.redirect_uri;
        location.push(if location.contains('?') { '&' } else { '?' });
        location.push_str(&query.finish());
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::FOUND;
        let location = HeaderValue::from_str(&location).map_err(|_| {
            server_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "redirect URI",
            )
        })?;
        resp.headers_mut().insert(header::LOCATION, location);
        resp.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(resp)
    }

    /// `POST /token` (RFC 6749 §3.2) in the facade's order: the grant and its recorded binding
    /// read (nothing consumed), the stateless DPoP checks against that binding, client
    /// authentication, the grant's own checks, the proof's `jti` committed, the code consumed,
    /// then the RFC 9068 access token minted with `cnf`.
    fn token(&self, parts: &Parts, form: &Form, now: u64) -> Result<Response<Body>, Refusal> {
        let grant_type = form
            .get("grant_type")
            .ok_or_else(|| refuse("invalid_request", "grant_type missing"))?;
        if !matches!(
            grant_type,
            "client_credentials" | "authorization_code" | "refresh_token"
        ) {
            return Err(refuse(
                "unsupported_grant_type",
                format!("grant_type {grant_type}"),
            ));
        }
        let client = self.client(&parts.headers, form)?;
        if !client.may(grant_type) {
            return Err(refuse(
                "unauthorized_client",
                format!("{} may not use {grant_type}", client.id),
            ));
        }

        // 1. The grant and the binding recorded with it.
        enum Held {
            ClientCredentials,
            Code(String, Code),
            Refresh(Refresh),
        }
        let (grant, held) = match grant_type {
            "authorization_code" => {
                let code = form
                    .get("code")
                    .ok_or_else(|| refuse("invalid_request", "code missing"))?;
                let record = self.stores().codes.get(code, now).ok_or_else(|| {
                    refuse(
                        "invalid_grant",
                        "authorization code unknown, used or expired",
                    )
                })?;
                (
                    Grant::AuthorizationCode {
                        dpop_jkt: record.dpop_jkt,
                    },
                    Held::Code(code.to_owned(), record),
                )
            }
            "refresh_token" => {
                let token = form
                    .get("refresh_token")
                    .ok_or_else(|| refuse("invalid_request", "refresh_token missing"))?;
                let record =
                    self.stores().refresh.get(token, now).ok_or_else(|| {
                        refuse("invalid_grant", "refresh token unknown or expired")
                    })?;
                (
                    Grant::RefreshToken {
                        binding: record.binding,
                    },
                    Held::Refresh(record),
                )
            }
            _ => {
                if client.kind() == ClientKind::Public {
                    return Err(refuse(
                        "unauthorized_client",
                        "client_credentials needs a confidential client",
                    ));
                }
                (Grant::Other, Held::ClientCredentials)
            }
        };

        // 2. Stateless proof checks (RFC 9449 §4.3 steps 1–10, §5, §10), nonce included.
        let dpop = header_values(&parts.headers, &DPOP);
        let request = TokenRequest::new(&self.token_endpoint, client.kind(), grant)
            .with_method(parts.method.as_str())
            .with_dpop(&dpop)
            .with_dpop_required(client.dpop_bound);
        let pending = self
            .authz
            .check_token_request(&request, now)
            .map_err(Refusal::Authz)?;

        // 3. Client authentication.
        self.authenticate(client, form, &[&self.issuer, &self.token_endpoint], now)?;

        // 4. The grant's own checks.
        let (sub, scope, resource, with_refresh) = match &held {
            Held::ClientCredentials => (
                client.id.clone(),
                granted_scope(form.get("scope"), SCOPE)?,
                Self::resource(form, &self.resource)?,
                false,
            ),
            Held::Code(_, code) => {
                if code.client_id != client.id {
                    return Err(refuse(
                        "invalid_grant",
                        "the code was issued to another client",
                    ));
                }
                if form.get("redirect_uri") != Some(code.redirect_uri.as_str()) {
                    return Err(refuse(
                        "invalid_grant",
                        "redirect_uri is not the authorization request's (RFC 6749 §4.1.3)",
                    ));
                }
                let verifier = form
                    .get("code_verifier")
                    .filter(|v| is_code_verifier(v))
                    .ok_or_else(|| {
                        refuse(
                            "invalid_grant",
                            "code_verifier missing or malformed (RFC 7636 §4.1)",
                        )
                    })?;
                let computed = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier));
                if !ct_eq(computed.as_bytes(), code.code_challenge.as_bytes()) {
                    return Err(refuse(
                        "invalid_grant",
                        "code_verifier does not match code_challenge (RFC 7636 §4.6)",
                    ));
                }
                (
                    code.sub.clone(),
                    code.scope.clone(),
                    Self::resource(form, &code.resource)?,
                    client.may("refresh_token"),
                )
            }
            Held::Refresh(refresh) => {
                if refresh.client_id != client.id {
                    return Err(refuse(
                        "invalid_grant",
                        "the refresh token was issued to another client",
                    ));
                }
                (
                    refresh.sub.clone(),
                    granted_scope(form.get("scope"), &refresh.scope)?,
                    Self::resource(form, &refresh.resource)?,
                    false,
                )
            }
        };

        // 5. The proof's jti, then the code (single use, RFC 6749 §4.1.2).
        let binding = pending.commit(&self.authz).map_err(Refusal::Authz)?;
        if let Held::Code(code, _) = &held
            && self.stores().codes.take(code, now).is_none()
        {
            return Err(refuse("invalid_grant", "authorization code already used"));
        }

        // 6. The RFC 9068 access token, bound by cnf (RFC 9449 §6.1).
        let jti = random_token()?;
        let audience = [resource.as_str()];
        let mut claims = TokenClaims::new(
            &self.issuer,
            &sub,
            &audience,
            &client.id,
            now,
            now + ACCESS_TOKEN_TTL,
            &jti,
        )
        .with_scope(&scope);
        if !binding.cnf().is_empty() {
            claims = claims.with_cnf(binding.cnf());
        }
        let access_token = mint(
            &self.key,
            Some(&self.kid),
            &claims,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .map_err(|_| {
            server_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "signing failed",
            )
        })?;
        let mut body = json!({
            "access_token": access_token,
            "token_type": binding.token_type().as_str(),
            "expires_in": ACCESS_TOKEN_TTL,
            "scope": scope,
        });
        if with_refresh {
            let token = random_token()?;
            let record = Refresh {
                client_id: client.id.clone(),
                sub,
                scope,
                resource,
                binding: *binding.refresh_token_cnf(),
            };
            let stored = self
                .stores()
                .refresh
                .insert_new(token.clone(), record, now + REFRESH_TTL, now)
                .map_err(|_| store_full())?;
            if stored && let Some(o) = body.as_object_mut() {
                o.insert("refresh_token".into(), json!(token));
            }
        }
        Ok(json_response(
            StatusCode::OK,
            &body,
            self.fresh_nonce(now).as_deref(),
        ))
    }
}

/// Reads a form body strictly: one `Content-Type` of `application/x-www-form-urlencoded`,
/// at most [`BODY_LIMIT`] bytes, then [`Form::parse`].
async fn read_form(headers: &HeaderMap, body: Body) -> Result<Form, Refusal> {
    let types: Vec<&HeaderValue> = headers.get_all(header::CONTENT_TYPE).iter().collect();
    let essence = match types.as_slice() {
        [one] => one
            .to_str()
            .ok()
            .and_then(|s| s.split(';').next())
            .map(str::trim),
        _ => None,
    };
    if !essence.is_some_and(|e| e.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
        return Err(refuse(
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let bytes = axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .map_err(|_| refuse("invalid_request", "body unreadable or over 64 KiB"))?;
    Form::parse(&bytes).map_err(|e| refuse("invalid_request", e.to_string()))
}

/// Logs one line per request and turns a refusal into its response.
fn finish(method: &str, path: &str, result: Result<Response<Body>, Refusal>) -> Response<Body> {
    match result {
        Ok(resp) => {
            eprintln!("{method} {path} → {}", resp.status().as_u16());
            resp
        }
        Err(refusal) => {
            eprintln!("{method} {path} → {}", refusal.summary());
            refusal.response()
        }
    }
}

async fn token_endpoint(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let now = keybound::unix_now();
    let result = match read_form(&parts.headers, body).await {
        Ok(form) => app.token(&parts, &form, now),
        Err(r) => Err(r),
    };
    finish(parts.method.as_str(), parts.uri.path(), result)
}

async fn par_endpoint(State(app): State<Arc<App>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let now = keybound::unix_now();
    let result = match read_form(&parts.headers, body).await {
        Ok(form) => app.par(&parts, &form, now),
        Err(r) => Err(r),
    };
    finish(parts.method.as_str(), parts.uri.path(), result)
}

async fn authorization_endpoint(
    State(app): State<Arc<App>>,
    RawQuery(query): RawQuery,
) -> Response<Body> {
    let result = app.authorize(query.as_deref(), keybound::unix_now());
    finish("GET", "/authorize", result)
}

async fn metadata(State(app): State<Arc<App>>) -> Response<Body> {
    document(&app.metadata, "application/json")
}

async fn jwks(State(app): State<Arc<App>>) -> Response<Body> {
    document(&app.jwks, "application/jwk-set+json")
}

fn document(text: &str, content_type: &'static str) -> Response<Body> {
    let mut resp = Response::new(Body::from(text.to_owned()));
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// The routes.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks", get(jwks))
        .route("/par", post(par_endpoint))
        .route("/authorize", get(authorization_endpoint))
        .route("/token", post(token_endpoint))
        .with_state(app)
}
