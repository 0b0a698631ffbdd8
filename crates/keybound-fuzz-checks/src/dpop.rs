//! Fuzz checks for the dpop layer (RFC 9449 §4.2 codec, §4.3 validation).
//!
//! Under `cfg(fuzzing)` validation uses `keybound_dpop::AcceptAllVerifier` so the fuzzer gets
//! past the signature and reaches every later check; the stable corpus replay uses the real
//! RustCrypto verifier.
#![allow(
    clippy::missing_panics_doc,
    clippy::indexing_slicing,
    reason = "a panic is how a fuzz check reports a violated invariant"
)]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_dpop::nonce::FixedNonce;
use keybound_dpop::{
    Algorithm, DecodedProof, DpopError, NumericDate, Policy, Reason, Request, check_proof,
    single_header_value,
};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[
    ("dpop_decode", dpop_decode),
    ("dpop_validate", dpop_validate),
];

const REASONS: [&str; 13] = [
    "malformed",
    "typ",
    "alg",
    "jwk",
    "signature",
    "jti",
    "htm",
    "htu",
    "iat",
    "ath",
    "nonce",
    "replay",
    "key_binding",
];

fn check_error(e: &DpopError) {
    assert!(
        REASONS.contains(&e.reason().as_str()),
        "unknown reason {e:?}"
    );
    let wire = e.wire_error();
    assert!(wire == "invalid_dpop_proof" || wire == "use_dpop_nonce");
    // use_dpop_nonce is always a nonce fault (a malformed nonce claim without a nonce policy
    // is a nonce fault answered invalid_dpop_proof).
    if wire == "use_dpop_nonce" {
        assert_eq!(e.reason(), Reason::Nonce);
        assert!(e.needs_nonce());
    }
    let _ = e.to_string();
}

/// The compact-JWS codec on raw proof text: never panics; a decoded proof re-encodes to the
/// same segments (strict, canonical base64url), its signing input is the received prefix, and
/// the typed views agree with the raw JSON.
pub fn dpop_decode(data: &[u8]) {
    let Ok(text) = core::str::from_utf8(data) else {
        let _ = single_header_value([data]);
        return;
    };
    let _ = single_header_value([text]);
    let decoded = match DecodedProof::decode(text) {
        Ok(d) => d,
        Err(e) => return check_error(&e),
    };
    let parts = decoded.parts();
    assert_eq!(
        Base64UrlUnpadded::encode_string(decoded.header_json()),
        parts.header
    );
    assert_eq!(
        Base64UrlUnpadded::encode_string(decoded.payload_json()),
        parts.payload
    );
    assert_eq!(
        Base64UrlUnpadded::encode_string(decoded.signature()),
        parts.signature
    );
    let prefix_len = parts.header.len() + 1 + parts.payload.len();
    assert_eq!(decoded.signing_input(), &text.as_bytes()[..prefix_len]);
    match decoded.header() {
        Ok(h) => {
            assert_eq!(Algorithm::from_name(h.alg().name()), Some(h.alg()));
            assert!(!h.jwk().is_private());
            let _ = h.jwk().thumbprint();
        }
        Err(e) => check_error(&e),
    }
    match decoded.claims() {
        Ok(c) => {
            assert!(!c.jti.is_empty() && c.jti.len() <= keybound_dpop::MAX_JTI_LEN);
            let raw = decoded.payload_object().unwrap();
            let iat = raw.get("iat").and_then(|v| NumericDate::from_json(&v));
            assert_eq!(iat.map(NumericDate::floor), Some(c.iat));
            assert_eq!(iat, Some(c.iat_date));
        }
        Err(e) => check_error(&e),
    }
}

const NOW: u64 = 1_700_000_000;

/// Full validation. The input is `header JSON \0 payload JSON \0 signature bytes` (base64url
/// encoded here, so the fuzzer mutates JSON, not base64); without two NULs it is used as the
/// proof text itself. Never panics; an accepted proof satisfies every request expectation.
pub fn dpop_validate(data: &[u8]) {
    let mut parts = data.splitn(3, |b| *b == 0);
    let proof = match (parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s)) => format!(
            "{}.{}.{}",
            Base64UrlUnpadded::encode_string(h),
            Base64UrlUnpadded::encode_string(p),
            Base64UrlUnpadded::encode_string(s)
        ),
        _ => String::from_utf8_lossy(data).into_owned(),
    };
    #[cfg(fuzzing)]
    let verifier = keybound_dpop::AcceptAllVerifier;
    #[cfg(not(fuzzing))]
    let verifier = keybound_dpop::RustCryptoVerifier;
    let nonce = FixedNonce("n-1");
    let token = "tok";
    let plain = Policy::new();
    let strict = Policy::fapi2().with_nonce(&nonce);
    for (policy, with_token) in [(&plain, false), (&strict, true)] {
        let mut req = Request::new("POST", "https://server.example.com/token");
        if with_token {
            req = req.with_access_token(token);
        }
        match check_proof(&proof, &req, policy, &verifier, NOW) {
            Ok(checked) => {
                let decoded = DecodedProof::decode(&proof).unwrap();
                let header = decoded.header().unwrap();
                let claims = decoded.claims().unwrap();
                assert_eq!(checked.jkt(), &header.jwk().thumbprint());
                assert_eq!(checked.jti(), claims.jti);
                assert_eq!(claims.htm, "POST");
                assert!(policy.algs.contains(checked.alg()));
                let iat = checked.iat();
                assert!(
                    iat >= (NOW - policy.max_age) as i64 && iat <= (NOW + policy.leeway) as i64
                );
                if with_token {
                    assert_eq!(claims.nonce.as_deref(), Some("n-1"));
                    assert!(keybound_dpop::ath_matches(
                        claims.ath.as_deref().unwrap(),
                        token
                    ));
                }
                assert!(checked.replay_expires_at() >= NOW + policy.replay_window());
            }
            Err(e) => check_error(&e),
        }
    }
}
