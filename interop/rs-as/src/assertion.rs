//! `private_key_jwt` client authentication (RFC 7523 §2.2, §3; OpenID Connect Core §9):
//! the client assertion verified with keybound-jose against the client's registered public
//! key. Single use of its `jti` is the caller's (it holds the store).

use core::fmt;

use keybound::jose::{
    Algorithm, CompactParts, DefaultVerifier, Jwk, MIN_RSA_BITS_FLOOR, NumericDate, SegmentEnds,
    check_key_fits, decode_segments, decoded_total, split_compact, typ_matches, verify_signature,
};
use keybound::json::{Object, Value};

/// `client_assertion_type` for a JWT assertion (RFC 7523 §2.2).
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Cap on an assertion's length.
const MAX_LEN: usize = 8 * 1024;
/// Cap on `jti` (it is stored until the assertion expires).
const MAX_JTI_LEN: usize = 256;
/// Clock-skew tolerance for `exp`, `nbf` and `iat`, in seconds.
pub(crate) const LEEWAY: i64 = 30;
/// Longest accepted lifetime left (`exp − now`): the `jti` is remembered that long.
const MAX_LIFETIME: i64 = 300;

/// The registered key of a `private_key_jwt` client.
#[derive(Debug)]
pub(crate) struct RegisteredKey {
    /// The public JWK (RFC 7638 members), as JSON text.
    pub(crate) jwk: String,
    /// Its `kid`, when the registration names one.
    pub(crate) kid: Option<String>,
    /// The algorithm the client signs with (`token_endpoint_auth_signing_alg`).
    pub(crate) alg: Algorithm,
}

/// A verified assertion: its `jti` and until when it must be remembered.
#[derive(Debug)]
pub(crate) struct Verified {
    pub(crate) jti: String,
    pub(crate) keep_until: u64,
}

/// Why an assertion is refused: the member at fault and what was wrong.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Fault {
    pub(crate) member: &'static str,
    pub(crate) detail: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "client assertion `{}`: {}", self.member, self.detail)
    }
}

fn fault(member: &'static str, detail: impl Into<String>) -> Fault {
    Fault {
        member,
        detail: detail.into(),
    }
}

/// A compact JWS decoded strictly (canonical base64url, three segments, size cap).
struct Decoded<'j> {
    parts: CompactParts<'j>,
    buf: Vec<u8>,
    ends: SegmentEnds,
}

impl Decoded<'_> {
    fn header(&self) -> &[u8] {
        self.buf.get(..self.ends.header).unwrap_or_default()
    }

    fn payload(&self) -> &[u8] {
        self.buf
            .get(self.ends.header..self.ends.payload)
            .unwrap_or_default()
    }

    fn signature(&self) -> &[u8] {
        self.buf.get(self.ends.payload..).unwrap_or_default()
    }
}

fn decode(jws: &str) -> Result<Decoded<'_>, Fault> {
    let malformed = |e: keybound::jose::JoseError| fault("malformed", e.to_string());
    let parts = split_compact(jws, MAX_LEN).map_err(malformed)?;
    let mut buf = vec![0u8; decoded_total(&parts).map_err(malformed)?];
    let ends = decode_segments(&parts, &mut buf).map_err(malformed)?;
    Ok(Decoded { parts, buf, ends })
}

/// The `sub` of an assertion, read without verification: only to find the registration
/// when the request has no `client_id` (RFC 7521 §4.2 makes it optional). [`verify`] then
/// checks `iss` and `sub` against that client.
pub(crate) fn unverified_subject(jws: &str) -> Option<String> {
    let d = decode(jws).ok()?;
    let claims = Object::parse(d.payload()).ok()?;
    Some(claims.get("sub")?.as_str()?.to_cow().into_owned())
}

fn string_eq(value: Option<Value<'_>>, expected: &str) -> bool {
    value
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.eq_str(expected))
}

/// Verifies `jws` as `client_id`'s assertion signed with `key`, for an endpoint that accepts
/// the audiences `audiences` (the issuer first), at `now`.
pub(crate) fn verify(
    jws: &str,
    client_id: &str,
    key: &RegisteredKey,
    audiences: &[&str],
    now: u64,
) -> Result<Verified, Fault> {
    let now = i64::try_from(now).map_err(|_| fault("exp", "clock out of range"))?;
    let d = decode(jws)?;

    // Header (RFC 7515 §4.1): strict JSON, the registered algorithm, no `crit`, `typ` a JWT.
    let header = Object::parse(d.header()).map_err(|e| fault("malformed", e.to_string()))?;
    let alg = header
        .get("alg")
        .as_ref()
        .and_then(Algorithm::from_json)
        .ok_or_else(|| {
            fault(
                "alg",
                "missing or not an asymmetric algorithm keybound knows",
            )
        })?;
    if alg != key.alg {
        return Err(fault(
            "alg",
            format!("{alg}, the client is registered with {}", key.alg),
        ));
    }
    if header.get("crit").is_some() {
        return Err(fault("crit", "no extension is understood here"));
    }
    if let Some(typ) = header.get("typ") {
        let ok = typ.as_str().is_some_and(|t| {
            typ_matches(&t, "JWT") || typ_matches(&t, "client-authentication+jwt")
        });
        if !ok {
            return Err(fault(
                "typ",
                "neither JWT nor client-authentication+jwt (an access token or a DPoP proof is no assertion)",
            ));
        }
    }
    if let (Some(registered), Some(kid)) = (key.kid.as_deref(), header.get("kid"))
        && !string_eq(Some(kid), registered)
    {
        return Err(fault("kid", "not the registered key's kid"));
    }

    // Signature over the received bytes with the registered public key.
    let jwk = Jwk::parse(key.jwk.as_bytes()).map_err(|e| fault("jwk", e.to_string()))?;
    check_key_fits(alg, &jwk, MIN_RSA_BITS_FLOOR).map_err(|e| fault("jwk", e.to_string()))?;
    verify_signature(
        &DefaultVerifier::default(),
        alg,
        &jwk,
        d.parts.signing_input,
        d.signature(),
    )
    .map_err(|e| fault("signature", e.to_string()))?;

    // Claims (RFC 7523 §3).
    let claims = Object::parse(d.payload()).map_err(|e| fault("malformed", e.to_string()))?;
    if !string_eq(claims.get("iss"), client_id) {
        return Err(fault("iss", "must be the client_id"));
    }
    if !string_eq(claims.get("sub"), client_id) {
        return Err(fault("sub", "must be the client_id"));
    }
    // One string naming this server. RFC 7523 §3 allows an array; a single string avoids the
    // audience-injection attack (draft-ietf-oauth-rfc7523bis requires it; so does
    // oidc-provider's FAPI 2.0 profile).
    match claims.get("aud") {
        Some(aud @ Value::String(_)) => {
            if !audiences.iter().any(|a| string_eq(Some(aud), a)) {
                return Err(fault("aud", "not this authorization server"));
            }
        }
        Some(_) => return Err(fault("aud", "must be one string")),
        None => return Err(fault("aud", "missing")),
    }
    let date = |name: &'static str| -> Result<Option<NumericDate>, Fault> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => NumericDate::from_json(&v)
                .map(Some)
                .ok_or_else(|| fault(name, "not a NumericDate")),
        }
    };
    let exp = date("exp")?.ok_or_else(|| fault("exp", "missing"))?;
    if !exp.is_after(now - LEEWAY) {
        return Err(fault("exp", format!("expired ({} ≤ {now})", exp.ceil())));
    }
    if exp.is_after(now + MAX_LIFETIME + LEEWAY) {
        return Err(fault(
            "exp",
            format!("more than {MAX_LIFETIME} s ahead: its jti would be remembered too long"),
        ));
    }
    if let Some(nbf) = date("nbf")?
        && nbf.is_after(now + LEEWAY)
    {
        return Err(fault("nbf", "not yet valid"));
    }
    if let Some(iat) = date("iat")?
        && iat.is_after(now + LEEWAY)
    {
        return Err(fault("iat", "in the future"));
    }
    let jti = claims
        .get("jti")
        .and_then(|v| v.as_str())
        .map(|s| s.to_cow().into_owned())
        .ok_or_else(|| fault("jti", "missing or not a string"))?;
    if jti.is_empty() || jti.len() > MAX_JTI_LEN {
        return Err(fault("jti", format!("empty or longer than {MAX_JTI_LEN}")));
    }
    let keep_until = u64::try_from(exp.ceil().saturating_add(LEEWAY)).unwrap_or(u64::MAX);
    Ok(Verified { jti, keep_until })
}

#[cfg(test)]
mod tests {
    use keybound::jose::{Algorithm, SigningKey};
    use serde_json::{Value, json};

    use super::{RegisteredKey, verify};

    const NOW: u64 = 1_700_000_000;
    const ISSUER: &str = "https://as.test";
    const TOKEN: &str = "https://as.test/token";

    fn registered(key: &SigningKey) -> RegisteredKey {
        RegisteredKey {
            jwk: key.public_jwk(),
            kid: Some("k1".into()),
            alg: key.alg(),
        }
    }

    fn claims() -> Value {
        json!({"iss": "c1", "sub": "c1", "aud": ISSUER, "jti": "j1",
               "iat": NOW, "nbf": NOW, "exp": NOW + 60})
    }

    fn sign(key: &SigningKey, header_extra: &str, claims: &Value) -> String {
        let header = key.jws_header_json("JWT", header_extra);
        key.sign_compact_os_rng(header.as_bytes(), claims.to_string().as_bytes())
            .unwrap()
    }

    fn es256() -> SigningKey {
        SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
    }

    fn fault_of(jws: &str, key: &SigningKey) -> &'static str {
        verify(jws, "c1", &registered(key), &[ISSUER, TOKEN], NOW)
            .unwrap_err()
            .member
    }

    #[test]
    fn accepts_assertion_for_the_issuer() {
        let key = es256();
        let v = verify(
            &sign(&key, r#""kid":"k1""#, &claims()),
            "c1",
            &registered(&key),
            &[ISSUER, TOKEN],
            NOW,
        )
        .unwrap();
        assert_eq!(v.jti, "j1");
        assert_eq!(v.keep_until, NOW + 60 + 30);
    }

    #[test]
    fn accepts_the_token_endpoint_as_audience() {
        let key = es256();
        let mut c = claims();
        c["aud"] = json!(TOKEN);
        assert!(
            verify(
                &sign(&key, "", &c),
                "c1",
                &registered(&key),
                &[ISSUER, TOKEN],
                NOW
            )
            .is_ok()
        );
    }

    #[test]
    fn rejects_audience_array() {
        let key = es256();
        let mut c = claims();
        c["aud"] = json!([ISSUER]);
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "aud");
    }

    #[test]
    fn rejects_another_audience() {
        let key = es256();
        let mut c = claims();
        c["aud"] = json!("https://elsewhere.test");
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "aud");
    }

    #[test]
    fn rejects_expired_assertion() {
        let key = es256();
        let mut c = claims();
        c["exp"] = json!(NOW - 31);
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "exp");
    }

    #[test]
    fn rejects_assertion_living_too_long() {
        let key = es256();
        let mut c = claims();
        c["exp"] = json!(NOW + 3600);
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "exp");
    }

    #[test]
    fn rejects_future_iat_and_nbf() {
        let key = es256();
        let mut c = claims();
        c["iat"] = json!(NOW + 120);
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "iat");
        let mut c = claims();
        c["nbf"] = json!(NOW + 120);
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "nbf");
    }

    #[test]
    fn rejects_iss_or_sub_other_than_the_client() {
        let key = es256();
        let mut c = claims();
        c["iss"] = json!("c2");
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "iss");
        let mut c = claims();
        c["sub"] = json!("c2");
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "sub");
    }

    #[test]
    fn rejects_signature_of_another_key() {
        let key = es256();
        let other = es256();
        assert_eq!(fault_of(&sign(&other, "", &claims()), &key), "signature");
    }

    #[test]
    fn rejects_algorithm_other_than_the_registered_one() {
        let key = es256();
        let ed = SigningKey::generate_os_rng(Algorithm::EdDsa).unwrap();
        assert_eq!(fault_of(&sign(&ed, "", &claims()), &key), "alg");
    }

    #[test]
    fn rejects_kid_of_another_key() {
        let key = es256();
        assert_eq!(
            fault_of(&sign(&key, r#""kid":"k2""#, &claims()), &key),
            "kid"
        );
    }

    #[test]
    fn rejects_crit() {
        let key = es256();
        assert_eq!(
            fault_of(&sign(&key, r#""crit":["exp"]"#, &claims()), &key),
            "crit"
        );
    }

    #[test]
    fn rejects_dpop_proof_typ() {
        let key = es256();
        let header = key.jws_header_json("dpop+jwt", "");
        let jws = key
            .sign_compact_os_rng(header.as_bytes(), claims().to_string().as_bytes())
            .unwrap();
        assert_eq!(fault_of(&jws, &key), "typ");
    }

    #[test]
    fn rejects_missing_jti() {
        let key = es256();
        let mut c = claims();
        c.as_object_mut().unwrap().remove("jti");
        assert_eq!(fault_of(&sign(&key, "", &c), &key), "jti");
    }

    #[test]
    fn rejects_malformed_compact_serialization() {
        let key = es256();
        let jws = sign(&key, "", &claims());
        assert_eq!(fault_of(&format!("{jws}="), &key), "malformed");
        assert_eq!(fault_of("a.b", &key), "malformed");
    }
}
