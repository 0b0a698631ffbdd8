//! Access-token validation behind a trait: the RFC 9068 validator over a rotating JWKS, or a
//! host's own (introspection, RFC 7662, or a token database).

use core::fmt;
use core::future::{Future, Ready, ready};
use std::sync::{Arc, PoisonError, RwLock};

use keybound::cnf::Confirmation;
use keybound::dpop::DefaultVerifier;
use keybound::jose::CachedVerifier;
use keybound::jose::{AlgSet, SignatureVerifier};
use keybound::jwt::{AccessToken, Jwks, TokenError, TokenPolicy};

/// What a validated access token tells the resource server: its `cnf` claim (RFC 7800, for
/// the binding checks) and who it was issued to.
#[derive(Clone, PartialEq)]
pub struct TokenInfo {
    cnf: Confirmation,
    subject: Option<String>,
    client_id: Option<String>,
    scope: Vec<String>,
    access_token: Option<AccessToken>,
}

impl fmt::Debug for TokenInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenInfo")
            .field("cnf", &self.cnf)
            .field("subject", &self.subject())
            .field("client_id", &self.client_id())
            .field("scope", &self.scope())
            .field("jwt", &self.access_token.is_some())
            .finish()
    }
}

impl TokenInfo {
    /// A token whose confirmation claim is `cnf` ([`Confirmation::new`] when it has none).
    pub fn new(cnf: Confirmation) -> Self {
        TokenInfo {
            cnf,
            subject: None,
            client_id: None,
            scope: Vec::new(),
            access_token: None,
        }
    }

    /// From an RFC 9068 access token validated by `keybound::jwt::validate_token`.
    pub fn from_access_token(token: AccessToken) -> Self {
        TokenInfo {
            cnf: token.confirmation(),
            subject: None,
            client_id: None,
            scope: Vec::new(),
            access_token: Some(token),
        }
    }

    /// With the subject (`sub`, RFC 7662 §2.2).
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// With the client (`client_id`, RFC 7662 §2.2).
    #[must_use]
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// With the scopes (`scope`, RFC 6749 §3.3).
    #[must_use]
    pub fn with_scope<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scope: I) -> Self {
        self.scope = scope.into_iter().map(Into::into).collect();
        self
    }

    /// The confirmation claim the binding checks use (RFC 7800 §3.1).
    pub fn cnf(&self) -> &Confirmation {
        &self.cnf
    }

    /// The subject (`sub`).
    pub fn subject(&self) -> Option<&str> {
        match &self.access_token {
            Some(at) => Some(at.subject()),
            None => self.subject.as_deref(),
        }
    }

    /// The client the token was issued to (`client_id`).
    pub fn client_id(&self) -> Option<&str> {
        match &self.access_token {
            Some(at) => Some(at.client_id()),
            None => self.client_id.as_deref(),
        }
    }

    /// The scopes granted.
    pub fn scope(&self) -> &[String] {
        match &self.access_token {
            Some(at) => at.scope(),
            None => &self.scope,
        }
    }

    /// Whether scope `s` was granted.
    pub fn has_scope(&self, s: &str) -> bool {
        self.scope().iter().any(|granted| granted == s)
    }

    /// The whole RFC 9068 token (claims, `iss`, `aud`, `exp`, …) when it was a JWT.
    pub fn access_token(&self) -> Option<&AccessToken> {
        self.access_token.as_ref()
    }
}

/// Why a token was not accepted.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenFailure {
    /// The token is invalid (bad signature, expired, unknown, revoked…): 401 `invalid_token`
    /// (RFC 6750 §3.1).
    Invalid {
        /// The member at fault, short and stable (`exp`, `signature`, `kid`, `unknown`…), for
        /// logs and metrics.
        reason: &'static str,
        /// A human-readable explanation (sent as `error_description`).
        description: String,
    },
    /// The validator could not decide (introspection endpoint down, JWKS unreadable): 503,
    /// never an acceptance.
    Unavailable {
        /// What went wrong (logged, not sent).
        description: String,
    },
}

impl fmt::Display for TokenFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenFailure::Invalid {
                reason,
                description,
            } => write!(f, "invalid token ({reason}): {description}"),
            TokenFailure::Unavailable { description } => {
                write!(f, "token validation unavailable: {description}")
            }
        }
    }
}

impl core::error::Error for TokenFailure {}

impl From<TokenError> for TokenFailure {
    fn from(e: TokenError) -> Self {
        TokenFailure::Invalid {
            reason: e.reason(),
            description: e.to_string(),
        }
    }
}

/// Validates an access token and returns its [`TokenInfo`] (RFC 6750 §3.1 on failure).
///
/// The future owns what it needs (`'static`), so the layer stores it without boxing: a
/// validator that answers at once returns [`core::future::Ready`]; one that calls an
/// introspection endpoint clones the token into its own future (boxed or hand-written).
pub trait TokenValidator: Send + Sync + 'static {
    /// The answer.
    type Future: Future<Output = Result<TokenInfo, TokenFailure>> + Send + 'static;

    /// Validates `token` at `now` (Unix seconds).
    fn validate(&self, token: &str, now: u64) -> Self::Future;
}

impl<T: TokenValidator> TokenValidator for Arc<T> {
    type Future = T::Future;

    fn validate(&self, token: &str, now: u64) -> Self::Future {
        (**self).validate(token, now)
    }
}

/// A JWK Set that can be replaced while requests are in flight (key rotation): readers take
/// the current `Arc<Jwks>`, a writer swaps it. Clones share the same set.
#[derive(Clone)]
pub struct JwksHandle(Arc<RwLock<Arc<Jwks>>>);

impl fmt::Debug for JwksHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksHandle")
            .field("keys", &self.current().len())
            .finish()
    }
}

impl JwksHandle {
    /// A handle holding `jwks`.
    pub fn new(jwks: Jwks) -> Self {
        JwksHandle(Arc::new(RwLock::new(Arc::new(jwks))))
    }

    /// The set in force.
    pub fn current(&self) -> Arc<Jwks> {
        // A writer only ever stores a whole Arc, so a poisoned lock still holds a valid set.
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replaces the set (new keys apply to the next token validated).
    pub fn replace(&self, jwks: Jwks) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(jwks);
    }
}

/// The RFC 9068 validator: `typ` `at+jwt`, an allowed asymmetric `alg`, the key chosen by
/// `kid` from a [`JwksHandle`] (rotatable), `iss`, `aud`, `exp`/`nbf`/`iat` with leeway, and
/// the `cnf` claim handed to the binding checks (`keybound::jwt::validate_token`).
pub struct JwtValidator<V = CachedVerifier<DefaultVerifier>> {
    jwks: JwksHandle,
    issuer: String,
    audience: String,
    algs: AlgSet,
    leeway: u64,
    min_rsa_bits: usize,
    verifier: V,
}

impl<V> fmt::Debug for JwtValidator<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtValidator")
            .field("jwks", &self.jwks)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("algs", &self.algs)
            .field("leeway", &self.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtValidator<CachedVerifier<DefaultVerifier>> {
    /// Tokens from `issuer` for `audience`, signed by a key of `jwks`, checked with the
    /// fastest verifier compiled in behind a prepared-key cache (the issuer's few keys sign
    /// every token); [`TokenPolicy::new`]'s defaults otherwise.
    pub fn new(jwks: JwksHandle, issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self::with_verifier(
            jwks,
            issuer,
            audience,
            CachedVerifier::new(DefaultVerifier::default()),
        )
    }
}

impl<V: SignatureVerifier> JwtValidator<V> {
    /// [`JwtValidator::new`] with another signature backend.
    pub fn with_verifier(
        jwks: JwksHandle,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        verifier: V,
    ) -> Self {
        let defaults = TokenPolicy::new("", "");
        JwtValidator {
            jwks,
            issuer: issuer.into(),
            audience: audience.into(),
            algs: defaults.algs,
            leeway: defaults.leeway,
            min_rsa_bits: defaults.min_rsa_bits,
            verifier,
        }
    }

    /// With these allowed algorithms (FAPI 2.0: `AlgSet::FAPI2`).
    #[must_use]
    pub fn with_algs(mut self, algs: AlgSet) -> Self {
        self.algs = algs;
        self
    }

    /// With this clock-skew tolerance for `exp`, `nbf` and `iat`, in seconds.
    #[must_use]
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// With this minimum RSA modulus size.
    #[must_use]
    pub fn with_min_rsa_bits(mut self, bits: usize) -> Self {
        self.min_rsa_bits = bits;
        self
    }

    /// The JWKS handle (replace its set to rotate keys).
    pub fn jwks(&self) -> &JwksHandle {
        &self.jwks
    }

    /// Validates `token` at `now` synchronously (RFC 9068 §4).
    pub fn validate_now(&self, token: &str, now: u64) -> Result<TokenInfo, TokenFailure> {
        let policy = TokenPolicy::new(&self.issuer, &self.audience)
            .with_algs(self.algs)
            .with_leeway(self.leeway)
            .with_min_rsa_bits(self.min_rsa_bits);
        let jwks = self.jwks.current();
        keybound::jwt::validate_token(token, &jwks, &policy, &self.verifier, now)
            .map(TokenInfo::from_access_token)
            .map_err(TokenFailure::from)
    }
}

impl<V: SignatureVerifier + Send + Sync + 'static> TokenValidator for JwtValidator<V> {
    type Future = Ready<Result<TokenInfo, TokenFailure>>;

    fn validate(&self, token: &str, now: u64) -> Self::Future {
        ready(self.validate_now(token, now))
    }
}
