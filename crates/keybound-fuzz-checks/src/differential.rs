//! Backend differential (issue: every backend gives the same verdict and reason for the same
//! input): proofs and access tokens run through the RustCrypto, *ring* and aws-lc-rs
//! verifiers, the per-algorithm fastest one and the prepared-key cache, and any difference in
//! verdict or reason is a failure.
//!
//! The input is `jwk JSON \0 header JSON \0 payload JSON \0 signature bytes`. The proof is
//! built with the JWK inserted as the header's `jwk` member; the token is checked against a
//! JWKS holding that JWK (when it is a usable JWKS key). Signatures are whatever the fuzzer
//! writes, so the interesting differences are in key handling (weak, off-curve, non-canonical
//! keys), length checks and the order of checks.
#![allow(
    clippy::missing_panics_doc,
    clippy::indexing_slicing,
    reason = "a panic is how a fuzz check reports a violated invariant"
)]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_dpop::{Policy, Request, check_proof};
use std::sync::OnceLock;

use keybound_jose::{
    AwsLcVerifier, CachedVerifier, FastestVerifier, RingVerifier, RustCryptoVerifier,
    SignatureVerifier,
};
use keybound_jwt::{Jwks, TokenPolicy, validate_token};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("jose_differential", jose_differential)];

const NOW: u64 = 1_700_000_000;

/// One prepared-key cache for the whole run, so keys the fuzzer repeats are verified both
/// cold and from the cache.
fn cached() -> &'static CachedVerifier<FastestVerifier> {
    static CACHE: OnceLock<CachedVerifier<FastestVerifier>> = OnceLock::new();
    CACHE.get_or_init(|| CachedVerifier::new(FastestVerifier))
}

fn verifiers() -> [(&'static str, &'static dyn SignatureVerifier); 5] {
    [
        ("rustcrypto", &RustCryptoVerifier),
        ("ring", &RingVerifier),
        ("aws-lc-rs", &AwsLcVerifier),
        ("fastest", &FastestVerifier),
        ("cached", cached()),
    ]
}

/// The same verdict and reason from every backend, for a proof and a token built from `data`.
pub fn jose_differential(data: &[u8]) {
    let mut it = data.splitn(4, |b| *b == 0);
    let (Some(jwk), Some(header), Some(payload), Some(sig)) =
        (it.next(), it.next(), it.next(), it.next())
    else {
        return;
    };
    let (Ok(jwk), Ok(header)) = (core::str::from_utf8(jwk), core::str::from_utf8(header)) else {
        return;
    };
    let header_with_jwk = match header.strip_suffix('}') {
        Some(open) if open.trim_end().ends_with('{') => format!("{open}\"jwk\":{jwk}}}"),
        Some(open) => format!("{open},\"jwk\":{jwk}}}"),
        None => header.to_owned(),
    };
    let enc = |b: &[u8]| Base64UrlUnpadded::encode_string(b);
    let proof = format!(
        "{}.{}.{}",
        enc(header_with_jwk.as_bytes()),
        enc(payload),
        enc(sig)
    );
    let req = Request::new("POST", "https://server.example.com/token");
    let verdicts = verifiers().map(|(name, v)| {
        let got = check_proof(&proof, &req, &Policy::new(), v, NOW)
            .map(|c| (c.jkt().to_string(), c.jti().to_owned()))
            .map_err(|e| (e.reason(), e.wire_error()));
        (name, got)
    });
    for (name, got) in &verdicts[1..] {
        assert_eq!(
            got, &verdicts[0].1,
            "proof verdict of {name} differs from rustcrypto: {proof}"
        );
    }
    let Ok(jwks) = Jwks::parse(format!(r#"{{"keys":[{jwk}]}}"#).as_bytes()) else {
        return;
    };
    let token = format!("{}.{}.{}", enc(header.as_bytes()), enc(payload), enc(sig));
    let policy = TokenPolicy::new("https://as.example", "https://rs.example");
    let verdicts = verifiers().map(|(name, v)| {
        let got = validate_token(&token, &jwks, &policy, v, NOW)
            .map(|at| at.jti().to_owned())
            .map_err(|e| e.reason());
        (name, got)
    });
    for (name, got) in &verdicts[1..] {
        assert_eq!(
            got, &verdicts[0].1,
            "token verdict of {name} differs from rustcrypto: {token}"
        );
    }
}
