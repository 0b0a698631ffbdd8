//! RFC 9068 §4 validation of a JWT access token, with the same strict JOSE code as DPoP proofs.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use keybound_cnf::{Confirmation, UnknownMembers};
use keybound_jose::{
    AlgSet, Algorithm, JoseError, NumericDate, Part, SignatureVerifier, check_key_fits,
    decode_segments, decoded_total, split_compact, typ_matches, verify_signature,
};
use keybound_json::{Limits, Object, Str, Value};

use crate::error::{TokenClaim, TokenError};
use crate::jwks::Jwks;

/// The `typ` an RFC 9068 access token carries (§2.1): `at+jwt`, or `application/at+jwt`.
pub const AT_JWT_TYP: &str = "at+jwt";

/// Cap on an access token's length: a PS256 token with a 4096-bit key and a large claims set
/// fits (headers are rarely allowed more than 8 KiB anyway).
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Default clock-skew tolerance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY: u64 = 30;

/// Tokens of up to this many decoded bytes are decoded on the stack.
const STACK_DECODE_LEN: usize = 2048;

const HEADER_MEMBERS: [&str; 4] = ["typ", "alg", "kid", "crit"];
const CLAIM_MEMBERS: [&str; 10] = [
    "iss",
    "exp",
    "nbf",
    "iat",
    "aud",
    "sub",
    "client_id",
    "jti",
    "scope",
    "cnf",
];

/// What a resource server requires of access tokens (RFC 9068 §4): built once, `Copy`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct TokenPolicy<'a> {
    /// The one issuer trusted (`iss`, compared exactly, RFC 9068 §4 step 3).
    pub issuer: &'a str,
    /// This resource server's identifier, which `aud` must contain (RFC 9068 §4 step 4).
    pub audience: &'a str,
    /// Allowed `alg` values (also limited to what the verifier supports).
    pub algs: AlgSet,
    /// Clock-skew tolerance for `exp`, `nbf` and `iat`, in seconds.
    pub leeway: u64,
    /// Minimum RSA modulus bits (never below 2048).
    pub min_rsa_bits: usize,
    /// `cnf` members other than the registered methods: ignored (RFC 7800 §3.1) or refused.
    pub cnf_unknown: UnknownMembers,
}

impl<'a> TokenPolicy<'a> {
    /// Tokens from `issuer` for `audience`: every algorithm of the table, leeway
    /// [`DEFAULT_LEEWAY`], RSA ≥ 2048, unknown `cnf` members recorded (the binding checks
    /// refuse a token bound only by methods they cannot check).
    pub const fn new(issuer: &'a str, audience: &'a str) -> Self {
        TokenPolicy {
            issuer,
            audience,
            algs: AlgSet::ALL,
            leeway: DEFAULT_LEEWAY,
            min_rsa_bits: keybound_jose::MIN_RSA_BITS_FLOOR,
            cnf_unknown: UnknownMembers::Ignore,
        }
    }

    /// With these allowed algorithms (FAPI 2.0: [`AlgSet::FAPI2`]).
    #[must_use]
    pub const fn with_algs(mut self, algs: AlgSet) -> Self {
        self.algs = algs;
        self
    }

    /// With this leeway in seconds.
    #[must_use]
    pub const fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// With this minimum RSA modulus size (raised to 2048 when lower).
    #[must_use]
    pub const fn with_min_rsa_bits(mut self, bits: usize) -> Self {
        self.min_rsa_bits = bits;
        self
    }

    /// With this rule for unrecognized `cnf` members.
    #[must_use]
    pub const fn with_cnf_unknown(mut self, unknown: UnknownMembers) -> Self {
        self.cnf_unknown = unknown;
        self
    }
}

/// A validated access token: the claims a resource server needs, the `cnf` claim for the
/// binding checks, and the whole claims set for anything else.
#[derive(Clone, PartialEq)]
pub struct AccessToken {
    alg: Algorithm,
    kid: Option<String>,
    issuer: String,
    subject: String,
    client_id: String,
    audience: Vec<String>,
    jti: String,
    scope: Vec<String>,
    exp: NumericDate,
    iat: NumericDate,
    nbf: Option<NumericDate>,
    cnf: Option<Confirmation>,
    payload: String,
}

impl AccessToken {
    /// The signing algorithm.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` of the key that verified it, if the header named one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `sub`: the resource owner, or the client for `client_credentials` (RFC 9068 §2.2).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// `client_id`: the client the token was issued to (RFC 9068 §2.2).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// `aud`, as a list.
    pub fn audience(&self) -> &[String] {
        &self.audience
    }

    /// `jti`.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `scope`, split at spaces (RFC 6749 §3.3); empty when absent.
    pub fn scope(&self) -> &[String] {
        &self.scope
    }

    /// Whether `scope` contains `s`.
    pub fn has_scope(&self, s: &str) -> bool {
        self.scope.iter().any(|x| x == s)
    }

    /// `exp`.
    pub fn exp(&self) -> NumericDate {
        self.exp
    }

    /// `iat`.
    pub fn iat(&self) -> NumericDate {
        self.iat
    }

    /// `nbf`, when present.
    pub fn nbf(&self) -> Option<NumericDate> {
        self.nbf
    }

    /// The `cnf` claim when present (RFC 7800 §3.1); hand it to the binding checks.
    pub fn cnf(&self) -> Option<&Confirmation> {
        self.cnf.as_ref()
    }

    /// The `cnf` claim, or an empty one (binding nothing) when absent.
    pub fn confirmation(&self) -> Confirmation {
        self.cnf.unwrap_or_default()
    }

    /// The decoded claims set as received (JSON text), unknown claims included.
    pub fn claims_json(&self) -> &str {
        &self.payload
    }

    /// The claims set as a JSON object (for claims this type does not name: `auth_time`,
    /// `acr`, `roles`, …).
    pub fn claims(&self) -> Option<Object<'_>> {
        Object::parse(self.payload.as_bytes()).ok()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is a bearer secret only as a whole; the claims are not.
        f.debug_struct("AccessToken")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .field("iss", &self.issuer)
            .field("sub", &self.subject)
            .field("client_id", &self.client_id)
            .field("aud", &self.audience)
            .field("exp", &self.exp)
            .field("cnf", &self.cnf)
            .finish_non_exhaustive()
    }
}

/// Validates an RFC 9068 access token (§4) at `now` (Unix seconds), in this order:
///
/// 1. size cap ([`MAX_TOKEN_LEN`]), three segments, strict base64url, strict JSON objects;
/// 2. header: `typ` the media type `at+jwt` (RFC 7515 §4.1.9), `alg` asymmetric and allowed
///    and supported by `verifier` (never `none` or a MAC), no `crit`;
/// 3. the key: by `kid` from `jwks`, or the one key that verifies `alg`; it must fit `alg`
///    (type, curve, size, its own `alg`/`use`/`key_ops`);
/// 4. the signature over the received bytes;
/// 5. claims: `iss` equal to the policy's issuer, `exp` (required) not passed, `nbf` and
///    `iat` not ahead (all with leeway, fractions rounding toward refusal), `aud` containing
///    the policy's audience, `sub`, `client_id`, `jti` present and strings, `scope` a string
///    when present, `cnf` a valid confirmation claim when present.
pub fn validate_token<V: SignatureVerifier + ?Sized>(
    token: &str,
    jwks: &Jwks,
    policy: &TokenPolicy<'_>,
    verifier: &V,
    now: u64,
) -> Result<AccessToken, TokenError> {
    let parts = split_compact(token, MAX_TOKEN_LEN)?;
    let total = decoded_total(&parts)?;
    let mut stack = [0u8; STACK_DECODE_LEN];
    let mut heap = Vec::new();
    let buf = match stack.get_mut(..total) {
        Some(buf) => buf,
        None => {
            heap.resize(total, 0);
            heap.as_mut_slice()
        }
    };
    let ends = decode_segments(&parts, buf)?;
    let buf: &[u8] = buf;
    let header_json = buf.get(..ends.header).unwrap_or_default();
    let payload_json = buf.get(ends.header..ends.payload).unwrap_or_default();
    let signature = buf.get(ends.payload..).unwrap_or_default();
    let (_, [typ, alg, kid, crit]) = parse(header_json, Part::Header, HEADER_MEMBERS)?;
    let (_, claims) = parse(payload_json, Part::Payload, CLAIM_MEMBERS)?;

    // Header.
    match typ {
        None => return Err(JoseError::MissingTyp.into()),
        Some(v) => match v.as_str() {
            Some(s) if typ_matches(&s, AT_JWT_TYP) => {}
            _ => return Err(JoseError::InvalidTyp.into()),
        },
    }
    let alg = match alg {
        None => return Err(JoseError::MissingAlg.into()),
        Some(v) => Algorithm::from_json(&v).ok_or(JoseError::UnsupportedAlg)?,
    };
    if !policy.algs.contains(alg) || !verifier.supports(alg) {
        return Err(JoseError::AlgNotAllowed { alg }.into());
    }
    if crit.is_some() {
        return Err(JoseError::UnsupportedCrit.into());
    }
    let kid = match kid {
        None => None,
        Some(v) => Some(v.as_str().ok_or(TokenError::InvalidKid)?),
    };

    // Key and signature.
    let mut kid_buf = [0u8; 256];
    let kid_text = match kid {
        None => None,
        Some(s) => Some(match s.as_plain() {
            Some(p) => p,
            None => s
                .unescape_into(&mut kid_buf)
                .map_err(|_| TokenError::UnknownKid)?,
        }),
    };
    let key = jwks.select(kid_text, alg)?;
    let jwk = key
        .jwk()
        .map_err(|e| TokenError::Jose(JoseError::InvalidJwk(e)))?;
    check_key_fits(alg, &jwk, policy.min_rsa_bits)?;
    verify_signature(verifier, alg, &jwk, parts.signing_input, signature)?;

    // Claims.
    let [iss, exp, nbf, iat, aud, sub, client_id, jti, scope, cnf] = claims;
    let issuer = required_str(iss, TokenClaim::Iss)?;
    if !issuer.eq_str(policy.issuer) {
        return Err(TokenError::IssuerMismatch);
    }
    let now_i = i64::try_from(now).unwrap_or(i64::MAX);
    let leeway = i64::try_from(policy.leeway).unwrap_or(i64::MAX);
    let exp = required_date(exp, TokenClaim::Exp)?;
    // Valid while now < exp (RFC 7519 §4.1.4): refused once exp ≤ now - leeway.
    if !exp.is_after(now_i.saturating_sub(leeway)) {
        return Err(TokenError::Expired {
            exp: exp.ceil(),
            now,
            leeway: policy.leeway,
        });
    }
    let nbf = match nbf {
        None => None,
        Some(v) => Some(NumericDate::from_json(&v).ok_or(TokenError::InvalidClaim {
            claim: TokenClaim::Nbf,
        })?),
    };
    if let Some(nbf) = nbf
        && nbf.is_after(now_i.saturating_add(leeway))
    {
        return Err(TokenError::NotYetValid {
            nbf: nbf.ceil(),
            now,
            leeway: policy.leeway,
        });
    }
    let iat = required_date(iat, TokenClaim::Iat)?;
    if iat.is_after(now_i.saturating_add(leeway)) {
        return Err(TokenError::IssuedInFuture {
            iat: iat.ceil(),
            now,
            leeway: policy.leeway,
        });
    }
    let audience = audience(aud, policy.audience)?;
    let subject = required_str(sub, TokenClaim::Sub)?.to_cow().into_owned();
    let client_id = required_str(client_id, TokenClaim::ClientId)?
        .to_cow()
        .into_owned();
    let jti = required_str(jti, TokenClaim::Jti)?.to_cow().into_owned();
    let scope = match scope {
        None => Vec::new(),
        Some(v) => {
            let s = v.as_str().ok_or(TokenError::InvalidClaim {
                claim: TokenClaim::Scope,
            })?;
            s.to_cow()
                .split(' ')
                .filter(|x| !x.is_empty())
                .map(String::from)
                .collect()
        }
    };
    let cnf = match cnf {
        None => None,
        Some(Value::Object(o)) => {
            Some(Confirmation::from_object_with(o, policy.cnf_unknown).map_err(TokenError::Cnf)?)
        }
        Some(_) => {
            return Err(TokenError::InvalidClaim {
                claim: TokenClaim::Cnf,
            });
        }
    };
    Ok(AccessToken {
        alg,
        kid: kid_text.map(String::from),
        issuer: String::from(policy.issuer),
        subject,
        client_id,
        audience,
        jti,
        scope,
        exp,
        iat,
        nbf,
        cnf,
        payload: match core::str::from_utf8(payload_json) {
            Ok(s) => String::from(s),
            // Validated as UTF-8 by the strict JSON reader.
            Err(_) => String::new(),
        },
    })
}

fn parse<'j, const N: usize>(
    json: &'j [u8],
    part: Part,
    names: [&str; N],
) -> Result<(Object<'j>, [Option<Value<'j>>; N]), TokenError> {
    Object::parse_picking(json, &Limits::DEFAULT, names)
        .map_err(|error| TokenError::Jose(JoseError::Json { part, error }))
}

fn required_str<'a>(value: Option<Value<'a>>, claim: TokenClaim) -> Result<Str<'a>, TokenError> {
    match value {
        None => Err(TokenError::MissingClaim { claim }),
        Some(v) => match v.as_str() {
            Some(s) if s.unescaped_len() > 0 => Ok(s),
            _ => Err(TokenError::InvalidClaim { claim }),
        },
    }
}

fn required_date(value: Option<Value<'_>>, claim: TokenClaim) -> Result<NumericDate, TokenError> {
    match value {
        None => Err(TokenError::MissingClaim { claim }),
        Some(v) => NumericDate::from_json(&v).ok_or(TokenError::InvalidClaim { claim }),
    }
}

/// `aud`: a string or an array of strings (RFC 7519 §4.1.3) containing `expected`.
fn audience(value: Option<Value<'_>>, expected: &str) -> Result<Vec<String>, TokenError> {
    let invalid = TokenError::InvalidClaim {
        claim: TokenClaim::Aud,
    };
    let list: Vec<Cow<'_, str>> = match value {
        None => {
            return Err(TokenError::MissingClaim {
                claim: TokenClaim::Aud,
            });
        }
        Some(Value::String(s)) => alloc::vec![s.to_cow()],
        Some(Value::Array(a)) => {
            let mut list = Vec::with_capacity(a.len());
            for v in a.iter() {
                list.push(v.as_str().ok_or_else(|| invalid.clone())?.to_cow());
            }
            list
        }
        Some(_) => return Err(invalid),
    };
    if list.is_empty() {
        return Err(invalid);
    }
    if !list.iter().any(|a| a == expected) {
        return Err(TokenError::AudienceMismatch);
    }
    Ok(list.into_iter().map(Cow::into_owned).collect())
}
