//! RFC 9068 §4 validation: every check with its exact error and reason, through every verifier.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    clippy::std_instead_of_core
)]
#![cfg(all(
    feature = "p256",
    feature = "p384",
    feature = "rs256",
    feature = "ed25519"
))]

mod common;

use common::*;
use hmac::{KeyInit, Mac};
use keybound_jwt::jose::{
    AlgSet, Algorithm, JoseError, KeyMismatch, Part, RustCryptoVerifier, SignatureVerifier,
};
use keybound_jwt::{Jwks, TokenClaim, TokenError, validate_token};

fn check(token: &str) -> Result<keybound_jwt::AccessToken, TokenError> {
    validate_token(token, jwks(), &policy(), &RustCryptoVerifier, NOW)
}

fn rejects(got: Result<keybound_jwt::AccessToken, TokenError>, expected: TokenError, reason: &str) {
    let err = got.expect_err("token must be rejected");
    assert_eq!(err, expected);
    assert_eq!(err.reason(), reason, "{err}");
    assert_eq!((err.error_code(), err.status()), ("invalid_token", 401));
}

fn each_verifier(f: impl Fn(&dyn SignatureVerifier)) {
    f(&RustCryptoVerifier);
    #[cfg(feature = "ring")]
    f(&keybound_jwt::jose::RingVerifier);
    #[cfg(feature = "aws-lc-rs")]
    f(&keybound_jwt::jose::AwsLcVerifier);
}

#[test]
fn accepts_tokens_of_every_algorithm_through_every_verifier() {
    each_verifier(|v| {
        for (alg, kid) in ALGS {
            let token = minted(alg, kid);
            let at = validate_token(&token, jwks(), &policy(), v, NOW).unwrap();
            assert_eq!(at.alg(), alg);
            assert_eq!(at.kid(), Some(kid));
            assert_eq!(
                (at.issuer(), at.subject(), at.client_id(), at.jti()),
                (ISS, "alice", "client-1", "jti-1")
            );
            assert_eq!(at.audience(), [AUD.to_owned()]);
            assert_eq!(at.exp().floor(), (NOW + 300) as i64);
            assert!(at.cnf().is_none());
        }
    });
}

#[test]
fn returns_scope_cnf_and_unknown_claims() {
    let jkt = key(Algorithm::Es256, 7).thumbprint();
    let payload = claims_with(
        r#""scope":"read write""#,
        &format!(r#""scope":"read  write","cnf":{{"jkt":"{jkt}"}},"acr":"2","roles":["a"]"#),
    );
    let at = check(&signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256","kid":"es256"}"#,
        &payload,
    ))
    .unwrap();
    assert_eq!(at.scope(), ["read".to_owned(), "write".to_owned()]);
    assert!(at.has_scope("write") && !at.has_scope("admin"));
    assert_eq!(at.cnf().and_then(|c| c.jkt()), Some(&jkt));
    let claims = at.claims().unwrap();
    assert!(claims.get("acr").unwrap().as_str().unwrap().eq_str("2"));
    assert_eq!(at.claims_json(), payload);
}

// ---- structure ----

#[test]
fn rejects_structure_faults_as_malformed() {
    rejects(
        check("a.b"),
        TokenError::Jose(JoseError::Segments),
        "malformed",
    );
    rejects(
        check("a.b.c.d"),
        TokenError::Jose(JoseError::Segments),
        "malformed",
    );
    rejects(
        check("e30=.e30.sig"),
        TokenError::Jose(JoseError::Base64 { part: Part::Header }),
        "malformed",
    );
    let big = "a".repeat(keybound_jwt::MAX_TOKEN_LEN + 1);
    rejects(
        check(&big),
        TokenError::Jose(JoseError::TooLarge {
            len: keybound_jwt::MAX_TOKEN_LEN + 1,
            max: keybound_jwt::MAX_TOKEN_LEN,
        }),
        "malformed",
    );
    // Duplicate claim (after unescaping).
    let p = claims_with(r#""sub":"alice""#, r#""sub":"alice","s\u0075b":"mallory""#);
    let err = check(&signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256","kid":"es256"}"#,
        &p,
    ))
    .unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::Jose(JoseError::Json {
                part: Part::Payload,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), "malformed");
}

// ---- header ----

#[test]
fn rejects_missing_or_wrong_typ_and_accepts_the_media_type_spellings() {
    let with_typ = |typ: &str| {
        signed(
            Algorithm::Es256,
            &format!(r#"{{{typ}"alg":"ES256","kid":"es256"}}"#),
            &claims_json(),
        )
    };
    rejects(
        check(&with_typ("")),
        TokenError::Jose(JoseError::MissingTyp),
        "typ",
    );
    for bad in [r#""typ":"JWT","#, r#""typ":"dpop+jwt","#, r#""typ":1,"#] {
        rejects(
            check(&with_typ(bad)),
            TokenError::Jose(JoseError::InvalidTyp),
            "typ",
        );
    }
    for good in [
        r#""typ":"at+jwt","#,
        r#""typ":"AT+JWT","#,
        r#""typ":"application/at+jwt","#,
    ] {
        check(&with_typ(good)).unwrap();
    }
}

#[test]
fn rejects_alg_none_hs256_with_the_public_key_and_algs_outside_the_policy() {
    let p = b64(claims_json().as_bytes());
    let none = format!(
        "{}.{p}.",
        b64(br#"{"typ":"at+jwt","alg":"none","kid":"es256"}"#)
    );
    rejects(
        check(&none),
        TokenError::Jose(JoseError::UnsupportedAlg),
        "alg",
    );
    // HS256 "signed" with the issuer's public key as the MAC key (key confusion).
    let header = b64(br#"{"typ":"at+jwt","alg":"HS256","kid":"es256"}"#);
    let input = format!("{header}.{p}");
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(jwks().get("es256").unwrap().json().as_bytes())
            .unwrap();
    mac.update(input.as_bytes());
    let forged = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
    rejects(
        check(&forged),
        TokenError::Jose(JoseError::UnsupportedAlg),
        "alg",
    );
    rejects(
        check(&signed(
            Algorithm::Es256,
            r#"{"typ":"at+jwt","kid":"es256"}"#,
            &claims_json(),
        )),
        TokenError::Jose(JoseError::MissingAlg),
        "alg",
    );
    let fapi = policy().with_algs(AlgSet::FAPI2);
    let rs = minted(Algorithm::Rs256, "rs256");
    let err = validate_token(&rs, jwks(), &fapi, &RustCryptoVerifier, NOW).unwrap_err();
    assert_eq!(
        err,
        TokenError::Jose(JoseError::AlgNotAllowed {
            alg: Algorithm::Rs256
        })
    );
    assert_eq!(err.reason(), "alg");
}

#[test]
fn rejects_crit_and_non_string_kid() {
    rejects(
        check(&signed(
            Algorithm::Es256,
            r#"{"typ":"at+jwt","alg":"ES256","kid":"es256","crit":["exp"],"exp":1}"#,
            &claims_json(),
        )),
        TokenError::Jose(JoseError::UnsupportedCrit),
        "malformed",
    );
    rejects(
        check(&signed(
            Algorithm::Es256,
            r#"{"typ":"at+jwt","alg":"ES256","kid":7}"#,
            &claims_json(),
        )),
        TokenError::InvalidKid,
        "kid",
    );
}

// ---- key and signature ----

#[test]
fn rejects_unknown_kid_and_a_key_of_another_jwks() {
    rejects(
        check(&minted(Algorithm::Es256, "nope")),
        TokenError::UnknownKid,
        "kid",
    );
    // Another issuer's key under a known kid: the signature does not verify.
    let other = key(Algorithm::Es256, 2)
        .sign_compact(
            br#"{"typ":"at+jwt","alg":"ES256","kid":"es256"}"#,
            claims_json().as_bytes(),
            &mut TestRng::new(3),
        )
        .unwrap();
    rejects(
        check(&other),
        TokenError::Jose(JoseError::BadSignature),
        "signature",
    );
}

#[test]
fn rejects_a_flipped_signature_byte_and_a_der_signature_on_every_verifier() {
    let token = good();
    let (rest, sig) = token.rsplit_once('.').unwrap();
    let mut raw = <base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(sig).unwrap();
    raw[5] ^= 0x40;
    let flipped = format!("{rest}.{}", b64(&raw));
    let der = format!("{rest}.{}", b64(&[0x30; 70]));
    each_verifier(|v| {
        let err = validate_token(&flipped, jwks(), &policy(), v, NOW).unwrap_err();
        assert_eq!(err, TokenError::Jose(JoseError::BadSignature));
        let err = validate_token(&der, jwks(), &policy(), v, NOW).unwrap_err();
        assert_eq!(
            err,
            TokenError::Jose(JoseError::SignatureLength {
                expected: 64,
                actual: 70
            })
        );
        assert_eq!(err.reason(), "signature");
    });
}

#[test]
fn rejects_a_kid_naming_a_key_of_another_type() {
    // An ES256 token whose kid names the RSA key.
    let t = signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256","kid":"rs256"}"#,
        &claims_json(),
    );
    rejects(
        check(&t),
        TokenError::Jose(JoseError::KeyAlgMismatch {
            alg: Algorithm::Es256,
            mismatch: KeyMismatch::KeyType { found: "RSA" },
        }),
        "kid",
    );
}

#[test]
fn selects_the_only_fitting_key_without_kid_and_refuses_ambiguity() {
    let t = signed(
        Algorithm::Es384,
        r#"{"typ":"at+jwt","alg":"ES384"}"#,
        &claims_json(),
    );
    assert_eq!(check(&t).unwrap().kid(), None);
    // Two P-256 keys: no kid cannot choose.
    let two = Jwks::parse(
        format!(
            r#"{{"keys":[{},{}]}}"#,
            public_jwk(key(Algorithm::Es256, 1), "a", ""),
            public_jwk(key(Algorithm::Es256, 2), "b", "")
        )
        .as_bytes(),
    )
    .unwrap();
    let t = signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256"}"#,
        &claims_json(),
    );
    let err = validate_token(&t, &two, &policy(), &RustCryptoVerifier, NOW).unwrap_err();
    assert_eq!(
        err,
        TokenError::AmbiguousKey {
            alg: Algorithm::Es256
        }
    );
    assert_eq!(err.reason(), "kid");
    let only_rsa = Jwks::parse(
        format!(
            r#"{{"keys":[{}]}}"#,
            public_jwk(key(Algorithm::Ps256, 1), "r", "")
        )
        .as_bytes(),
    )
    .unwrap();
    let err = validate_token(&t, &only_rsa, &policy(), &RustCryptoVerifier, NOW).unwrap_err();
    assert_eq!(
        err,
        TokenError::NoKeyForAlg {
            alg: Algorithm::Es256
        }
    );
}

// ---- claims ----

fn with_claims(payload: &str) -> Result<keybound_jwt::AccessToken, TokenError> {
    check(&signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256","kid":"es256"}"#,
        payload,
    ))
}

#[test]
fn rejects_another_issuer() {
    rejects(
        with_claims(&claims_with(
            r#""iss":"https://as.example.com""#,
            r#""iss":"https://evil.example.com""#,
        )),
        TokenError::IssuerMismatch,
        "iss",
    );
    // Compared exactly: no trailing-slash or case folding.
    rejects(
        with_claims(&claims_with(
            r#""iss":"https://as.example.com""#,
            r#""iss":"https://as.example.com/""#,
        )),
        TokenError::IssuerMismatch,
        "iss",
    );
}

#[test]
fn rejects_another_audience_and_accepts_a_list_containing_ours() {
    rejects(
        with_claims(&claims_with(
            r#""aud":"https://rs.example.com""#,
            r#""aud":"https://other.example.com""#,
        )),
        TokenError::AudienceMismatch,
        "aud",
    );
    let at = with_claims(&claims_with(
        r#""aud":"https://rs.example.com""#,
        r#""aud":["https://other.example.com","https://rs.example.com"]"#,
    ))
    .unwrap();
    assert_eq!(at.audience().len(), 2);
    for bad in [
        r#""aud":[]"#,
        r#""aud":7"#,
        r#""aud":["https://rs.example.com",7]"#,
    ] {
        rejects(
            with_claims(&claims_with(r#""aud":"https://rs.example.com""#, bad)),
            TokenError::InvalidClaim {
                claim: TokenClaim::Aud,
            },
            "aud",
        );
    }
}

#[test]
fn rejects_expired_tokens_at_the_exact_edge_with_leeway() {
    let exp = |e: &str| claims_with(&format!(r#""exp":{}"#, NOW + 300), &format!(r#""exp":{e}"#));
    // Leeway 30 s: valid while now - 30 < exp.
    with_claims(&exp(&format!("{}", NOW - 29))).unwrap();
    rejects(
        with_claims(&exp(&format!("{}", NOW - 30))),
        TokenError::Expired {
            exp: (NOW - 30) as i64,
            now: NOW,
            leeway: 30,
        },
        "exp",
    );
    with_claims(&exp(&format!("{}.5", NOW - 30))).unwrap();
    rejects(
        with_claims(&claims_with(&format!(r#","exp":{}"#, NOW + 300), "")),
        TokenError::MissingClaim {
            claim: TokenClaim::Exp,
        },
        "exp",
    );
    rejects(
        with_claims(&exp(r#""soon""#)),
        TokenError::InvalidClaim {
            claim: TokenClaim::Exp,
        },
        "exp",
    );
}

#[test]
fn rejects_nbf_and_iat_ahead_beyond_the_leeway() {
    let nbf = |n: u64| claims_with(r#""jti":"jti-1""#, &format!(r#""jti":"jti-1","nbf":{n}"#));
    with_claims(&nbf(NOW + 30)).unwrap();
    rejects(
        with_claims(&nbf(NOW + 31)),
        TokenError::NotYetValid {
            nbf: (NOW + 31) as i64,
            now: NOW,
            leeway: 30,
        },
        "nbf",
    );
    let iat = |i: &str| claims_with(&format!(r#""iat":{NOW}"#), &format!(r#""iat":{i}"#));
    with_claims(&iat(&format!("{}", NOW + 30))).unwrap();
    rejects(
        with_claims(&iat(&format!("{}.25", NOW + 30))),
        TokenError::IssuedInFuture {
            iat: (NOW + 31) as i64,
            now: NOW,
            leeway: 30,
        },
        "iat",
    );
}

#[test]
fn rejects_missing_or_ill_typed_required_claims() {
    let cases = [
        (r#""iss":"https://as.example.com","#, TokenClaim::Iss),
        (r#""sub":"alice","#, TokenClaim::Sub),
        (r#""aud":"https://rs.example.com","#, TokenClaim::Aud),
        (r#""client_id":"client-1","#, TokenClaim::ClientId),
        (&format!(r#""iat":{NOW},"#), TokenClaim::Iat),
        (r#","jti":"jti-1""#, TokenClaim::Jti),
    ];
    for (member, claim) in cases {
        rejects(
            with_claims(&claims_with(member, "")),
            TokenError::MissingClaim { claim },
            claim.name(),
        );
    }
    for (from, to, claim) in [
        (r#""sub":"alice""#, r#""sub":"""#, TokenClaim::Sub),
        (r#""sub":"alice""#, r#""sub":1"#, TokenClaim::Sub),
        (
            r#""client_id":"client-1""#,
            r#""client_id":null"#,
            TokenClaim::ClientId,
        ),
        (r#""jti":"jti-1""#, r#""jti":["x"]"#, TokenClaim::Jti),
        (
            r#""scope":"read write""#,
            r#""scope":["read"]"#,
            TokenClaim::Scope,
        ),
        (
            r#""iss":"https://as.example.com""#,
            r#""iss":1"#,
            TokenClaim::Iss,
        ),
    ] {
        rejects(
            with_claims(&claims_with(from, to)),
            TokenError::InvalidClaim { claim },
            claim.name(),
        );
    }
}

#[test]
fn rejects_malformed_cnf() {
    rejects(
        with_claims(&claims_with(
            r#""jti":"jti-1""#,
            r#""jti":"jti-1","cnf":"x""#,
        )),
        TokenError::InvalidClaim {
            claim: TokenClaim::Cnf,
        },
        "cnf",
    );
    let err = with_claims(&claims_with(
        r#""jti":"jti-1""#,
        r#""jti":"jti-1","cnf":{"jkt":"short"}"#,
    ))
    .unwrap_err();
    assert!(matches!(err, TokenError::Cnf(_)), "{err:?}");
    assert_eq!(err.reason(), "cnf");
    // Unknown confirmation methods are recorded for the binding checks, not refused here.
    let at = with_claims(&claims_with(
        r#""jti":"jti-1""#,
        r#""jti":"jti-1","cnf":{"x5t#S512":"abc"}"#,
    ))
    .unwrap();
    let cnf = at.cnf().unwrap();
    assert!(!cnf.is_bound() && cnf.other_methods().unrecognized);
}
