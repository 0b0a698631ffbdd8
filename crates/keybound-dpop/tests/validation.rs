//! Every check of RFC 9449 §4.3, each negative case asserting its exact error and `reason`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs,
    unused_must_use,
    clippy::std_instead_of_core
)]
#![cfg(all(
    feature = "p256",
    feature = "p384",
    feature = "rs256",
    feature = "ed25519"
))]

mod common;

use std::sync::OnceLock;

use common::{FullStore, SetStore, TestRng, b64};
use keybound_dpop::nonce::{NonceError, NonceSource};
use keybound_dpop::replay::ReplayError;
use keybound_dpop::*;

const NOW: u64 = 1_700_000_000;
const HTM: &str = "POST";
const HTU: &str = "https://server.example.com/token";

fn es256() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Algorithm::Es256, &mut TestRng::new(1)).unwrap())
}

fn es256_other() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Algorithm::Es256, &mut TestRng::new(2)).unwrap())
}

fn rs256() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Algorithm::Rs256, &mut TestRng::new(3)).unwrap())
}

fn ed25519() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| SigningKey::generate(Algorithm::EdDsa, &mut TestRng::new(4)).unwrap())
}

fn payload(iat: u64) -> String {
    payload_json(&ProofParams::new(HTM, HTU, iat), "jti-0001").unwrap()
}

/// Signs arbitrary header/payload JSON with `key`.
fn signed(key: &SigningKey, header: &str, payload: &str) -> String {
    key.sign_compact(header.as_bytes(), payload.as_bytes(), &mut TestRng::new(9))
        .unwrap()
}

fn good() -> String {
    signed(es256(), &es256().header_json(), &payload(NOW))
}

fn check(proof: &str) -> Result<CheckedProof, DpopError> {
    check_with(proof, &Request::new(HTM, HTU), &Policy::new())
}

fn check_with(
    proof: &str,
    req: &Request<'_>,
    policy: &Policy<'_>,
) -> Result<CheckedProof, DpopError> {
    check_proof(proof, req, policy, &RustCryptoVerifier, NOW)
}

#[track_caller]
fn rejects(result: Result<CheckedProof, DpopError>, expected: DpopError, reason: &str) {
    let err = result.expect_err("proof must be rejected");
    assert_eq!(err, expected);
    assert_eq!(err.reason().as_str(), reason);
}

/// The default header with `from` replaced by `to`.
fn header_with(from: &str, to: &str) -> String {
    let h = es256().header_json();
    assert!(h.contains(from), "{h} lacks {from}");
    h.replacen(from, to, 1)
}

#[test]
fn accepts_a_valid_es256_proof_and_reports_key_jti_iat() {
    let v = check(&good())
        .unwrap()
        .commit(&SetStore::default())
        .unwrap();
    assert_eq!(v.jkt, es256().thumbprint());
    assert_eq!(v.jti, "jti-0001");
    assert_eq!(v.iat, NOW as i64);
    assert_eq!(v.alg, Algorithm::Es256);
}

// ---- step 1: header count, structure ----

#[test]
fn rejects_two_dpop_header_values() {
    let p = good();
    let two = [p.as_str(), p.as_str()];
    assert_eq!(
        single_header_value(two.iter().copied()),
        Err(DpopError::MultipleProofs)
    );
    let joined = format!("{p}, {p}");
    assert_eq!(
        single_header_value([joined.as_str()]),
        Err(DpopError::MultipleProofs)
    );
    assert_eq!(
        single_header_value::<_, str>([]),
        Err(DpopError::MissingProof)
    );
    assert_eq!(single_header_value([p.as_bytes()]), Ok(p.as_str()));
    assert_eq!(DpopError::MultipleProofs.reason(), Reason::Malformed);
}

#[test]
fn rejects_wrong_segment_count_and_oversized_proof() {
    rejects(check("a.b"), DpopError::Segments, "malformed");
    rejects(
        check(&format!("{}.x", good())),
        DpopError::Segments,
        "malformed",
    );
    let big = "A".repeat(MAX_PROOF_LEN + 1);
    rejects(
        check(&big),
        DpopError::ProofTooLarge {
            len: MAX_PROOF_LEN + 1,
            max: MAX_PROOF_LEN,
        },
        "malformed",
    );
}

#[test]
fn rejects_base64_padding_and_non_canonical_segments() {
    let p = good();
    let mut parts: Vec<String> = p.split('.').map(str::to_owned).collect();
    // Make the header length ≡ 2 or 3 mod 4 so padding is meaningful.
    let padded = format!("{}==.{}.{}", parts[0], parts[1], parts[2]);
    let err = check(&padded).unwrap_err();
    assert!(
        matches!(err, DpopError::Base64 { part: Part::Header }),
        "{err:?}"
    );
    assert_eq!(err.reason(), Reason::Malformed);
    parts[2].push('=');
    rejects(
        check(&parts.join(".")),
        DpopError::Base64 {
            part: Part::Signature,
        },
        "malformed",
    );
    let std_alphabet = p.replace('-', "+").replace('_', "/");
    if std_alphabet != p {
        assert_eq!(
            check(&std_alphabet).unwrap_err().reason(),
            Reason::Malformed
        );
    }
}

#[test]
fn rejects_duplicate_json_members() {
    let h = header_with(
        r#""typ":"dpop+jwt","#,
        r#""typ":"dpop+jwt","typ":"dpop+jwt","#,
    );
    let err = check(&signed(es256(), &h, &payload(NOW))).unwrap_err();
    assert!(
        matches!(
            err,
            DpopError::Json {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.reason(), Reason::Malformed);
    let p = payload(NOW).replacen(r#""htm":"POST","#, r#""htm":"POST","htm":"GET","#, 1);
    let err = check(&signed(es256(), &es256().header_json(), &p)).unwrap_err();
    assert!(
        matches!(
            err,
            DpopError::Json {
                part: Part::Payload,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn rejects_json_that_is_not_an_object() {
    let err = check(&signed(es256(), "[]", &payload(NOW))).unwrap_err();
    assert!(
        matches!(
            err,
            DpopError::Json {
                part: Part::Header,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---- step 2: header ----

#[test]
fn rejects_missing_or_wrong_typ() {
    let h = header_with(r#""typ":"dpop+jwt","#, "");
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::MissingTyp,
        "typ",
    );
    let h = header_with(r#""typ":"dpop+jwt""#, r#""typ":"jwt""#);
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::InvalidTyp,
        "typ",
    );
    for other in [
        "application/jwt",
        "text/dpop+jwt",
        "application/dpop+jwt;charset=utf-8",
        "dpop+jwt ",
        "at+jwt",
    ] {
        let h = header_with(r#""typ":"dpop+jwt""#, &format!(r#""typ":"{other}""#));
        rejects(
            check(&signed(es256(), &h, &payload(NOW))),
            DpopError::InvalidTyp,
            "typ",
        );
    }
    let h = header_with(r#""typ":"dpop+jwt""#, r#""typ":1"#);
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::InvalidTyp,
        "typ",
    );
}

#[test]
fn accepts_typ_as_a_media_type_case_insensitive_with_optional_application_prefix() {
    // RFC 7515 §4.1.9, as jose and oauth4webapi compare it.
    for typ in [
        "DPOP+JWT",
        "DPoP+jwt",
        "application/dpop+jwt",
        "Application/DPoP+JWT",
        r"dpop\u002bjwt",
    ] {
        let h = header_with(r#""typ":"dpop+jwt""#, &format!(r#""typ":"{typ}""#));
        check(&signed(es256(), &h, &payload(NOW))).unwrap();
    }
}

#[test]
fn rejects_alg_none_and_hs256_and_missing_alg() {
    for alg in ["none", "HS256", "es256", "ES512"] {
        let h = header_with(r#""alg":"ES256""#, &format!(r#""alg":"{alg}""#));
        rejects(
            check(&signed(es256(), &h, &payload(NOW))),
            DpopError::UnsupportedAlg,
            "alg",
        );
    }
    // An unsigned proof (alg none or HS256, empty signature segment) never gets past the
    // header: the empty segment is valid base64url of nothing, so the fault is `alg`.
    for alg in ["none", "HS256"] {
        let h = header_with(r#""alg":"ES256""#, &format!(r#""alg":"{alg}""#));
        let unsigned = format!("{}.{}.", b64(h.as_bytes()), b64(payload(NOW).as_bytes()));
        rejects(check(&unsigned), DpopError::UnsupportedAlg, "alg");
    }
    // With an allowed alg, the empty signature fails the signature step.
    let unsigned = format!(
        "{}.{}.",
        b64(es256().header_json().as_bytes()),
        b64(payload(NOW).as_bytes())
    );
    rejects(
        check(&unsigned),
        DpopError::SignatureLength {
            expected: 64,
            actual: 0,
        },
        "signature",
    );
    let h = header_with(r#""alg":"ES256","#, "");
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::MissingAlg,
        "alg",
    );
}

#[test]
fn rejects_rs256_under_a_policy_that_forbids_it() {
    let p = signed(rs256(), &rs256().header_json(), &payload(NOW));
    check(&p).unwrap();
    rejects(
        check_with(&p, &Request::new(HTM, HTU), &Policy::fapi2()),
        DpopError::AlgNotAllowed {
            alg: Algorithm::Rs256,
        },
        "alg",
    );
    let only_es = Policy::new().with_algs(AlgSet::EMPTY.with(Algorithm::Es256));
    rejects(
        check_with(&p, &Request::new(HTM, HTU), &only_es),
        DpopError::AlgNotAllowed {
            alg: Algorithm::Rs256,
        },
        "alg",
    );
}

#[test]
fn rejects_missing_jwk() {
    let h = r#"{"typ":"dpop+jwt","alg":"ES256"}"#;
    rejects(
        check(&signed(es256(), h, &payload(NOW))),
        DpopError::MissingJwk,
        "jwk",
    );
    let h = r#"{"typ":"dpop+jwt","alg":"ES256","jwk":"x"}"#;
    rejects(
        check(&signed(es256(), h, &payload(NOW))),
        DpopError::MissingJwk,
        "jwk",
    );
}

#[test]
fn rejects_private_jwk() {
    let private = es256().private_jwk();
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
        private.as_str()
    );
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::PrivateJwk,
        "jwk",
    );
}

#[test]
fn rejects_alg_key_mismatch() {
    // EdDSA key under ES256.
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
        ed25519().public_jwk()
    );
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::KeyAlgMismatch {
            alg: Algorithm::Es256,
            mismatch: KeyMismatch::KeyType {
                found: "OKP Ed25519",
            },
        },
        "jwk",
    );
    // P-256 key under ES384.
    let h = header_with(r#""alg":"ES256""#, r#""alg":"ES384""#);
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::KeyAlgMismatch {
            alg: Algorithm::Es384,
            mismatch: KeyMismatch::KeyType { found: "EC P-256" },
        },
        "jwk",
    );
    // EC key under PS256.
    let h = header_with(r#""alg":"ES256""#, r#""alg":"PS256""#);
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::KeyAlgMismatch {
            alg: Algorithm::Ps256,
            mismatch: KeyMismatch::KeyType { found: "EC P-256" },
        },
        "jwk",
    );
}

#[test]
fn rejects_jwk_whose_own_alg_use_or_key_ops_refuse_the_proof_alg_and_names_the_member() {
    // RFC 7517 §4.2–§4.4; the detail names the member, never "key is P-256, needs P-256".
    let jwk = es256().public_jwk();
    let with = |extra: &str| {
        let jwk = jwk.replacen('}', &format!(",{extra}}}"), 1);
        format!(r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{jwk}}}"#)
    };
    let cases = [
        (r#""alg":"ES384""#, KeyMismatch::AlgMember, "alg member"),
        (r#""alg":"HS256""#, KeyMismatch::AlgMember, "alg member"),
        (r#""use":"enc""#, KeyMismatch::UseMember, "use member"),
        (
            r#""key_ops":["sign"]"#,
            KeyMismatch::KeyOpsMember,
            "key_ops member",
        ),
    ];
    for (extra, mismatch, words) in cases {
        let err = check(&signed(es256(), &with(extra), &payload(NOW))).unwrap_err();
        assert_eq!(
            err,
            DpopError::KeyAlgMismatch {
                alg: Algorithm::Es256,
                mismatch
            },
            "{extra}"
        );
        assert_eq!(err.reason(), Reason::Jwk);
        let text = err.to_string();
        assert!(text.contains(words), "{extra}: {text}");
        assert!(!text.contains("needs EC P-256"), "{extra}: {text}");
    }
    // The allowing spellings pass.
    for extra in [
        r#""alg":"ES256""#,
        r#""use":"sig""#,
        r#""key_ops":["verify"]"#,
    ] {
        check(&signed(es256(), &with(extra), &payload(NOW))).unwrap();
    }
    // A key of the wrong type says which type it is and which the alg needs.
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","jwk":{}}}"#,
        ed25519().public_jwk()
    );
    let text = check(&signed(es256(), &h, &payload(NOW)))
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("key is OKP Ed25519, alg ES256 needs EC P-256"),
        "{text}"
    );
}

/// A proof "signed" by the Ed25519 identity key with R = identity, S = 0: on a backend that
/// does not refuse small-order keys it verifies for every message, so anyone could mint
/// proofs for that `jkt` (issue 12 item 1).
fn forged_identity_key_proof() -> String {
    let mut x = [0u8; 32];
    x[0] = 1;
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}}}"#,
        b64(&x)
    );
    let mut sig = [0u8; 64];
    sig[0] = 1;
    format!(
        "{}.{}.{}",
        b64(h.as_bytes()),
        b64(payload(NOW).as_bytes()),
        b64(&sig)
    )
}

#[test]
fn rejects_the_forged_small_order_ed25519_proof_on_every_backend() {
    let forged = forged_identity_key_proof();
    let req = Request::new(HTM, HTU);
    let mut verdicts = vec![check_proof(
        &forged,
        &req,
        &Policy::new(),
        &RustCryptoVerifier,
        NOW,
    )];
    #[cfg(feature = "ring")]
    verdicts.push(check_proof(
        &forged,
        &req,
        &Policy::fapi2(),
        &RingVerifier,
        NOW,
    ));
    #[cfg(feature = "aws-lc-rs")]
    verdicts.push(check_proof(
        &forged,
        &req,
        &Policy::new(),
        &AwsLcVerifier,
        NOW,
    ));
    for got in verdicts {
        let err = got.unwrap_err();
        assert_eq!(err, DpopError::UnusableKey, "{err:?}");
        assert_eq!(
            (err.reason().as_str(), err.wire_error()),
            ("jwk", "invalid_dpop_proof")
        );
    }
}

#[test]
fn rejects_rsa_key_under_2048_bits_and_exponent_one() {
    let mut n = vec![0xffu8; 128];
    n[127] = 0x01;
    let jwk = format!(r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#, b64(&n));
    let h = format!(r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{jwk}}}"#);
    rejects(
        check(&signed(rs256(), &h, &payload(NOW))),
        DpopError::RsaKeyTooSmall {
            bits: 1024,
            min: 2048,
        },
        "jwk",
    );
    let n = [0xffu8; 256];
    let jwk = format!(r#"{{"kty":"RSA","n":"{}","e":"AQ"}}"#, b64(&n));
    let h = format!(r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{jwk}}}"#);
    let err = check(&signed(rs256(), &h, &payload(NOW))).unwrap_err();
    assert!(matches!(err, DpopError::InvalidJwk(_)), "{err:?}");
    assert_eq!(err.reason(), Reason::Jwk);
}

#[test]
fn rejects_unknown_crit() {
    let h = header_with(
        r#""typ":"dpop+jwt","#,
        r#""typ":"dpop+jwt","crit":["exp"],"exp":1,"#,
    );
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::UnsupportedCrit,
        "malformed",
    );
}

// ---- step 3: signature ----

#[test]
fn rejects_bad_signature() {
    let p = good();
    let (rest, sig) = p.rsplit_once('.').unwrap();
    let mut raw = common_b64_decode(sig);
    raw[10] ^= 1;
    rejects(
        check(&format!("{rest}.{}", b64(&raw))),
        DpopError::BadSignature,
        "signature",
    );
}

#[test]
fn rejects_signature_by_another_key() {
    let p = signed(es256_other(), &es256().header_json(), &payload(NOW));
    rejects(check(&p), DpopError::BadSignature, "signature");
}

#[test]
fn rejects_der_encoded_ecdsa_signature() {
    let p = good();
    let (rest, sig) = p.rsplit_once('.').unwrap();
    let raw = common_b64_decode(sig);
    let der = der_from_rs(&raw[..32], &raw[32..]);
    rejects(
        check(&format!("{rest}.{}", b64(&der))),
        DpopError::SignatureLength {
            expected: 64,
            actual: der.len(),
        },
        "signature",
    );
}

#[test]
fn accepts_high_s_es256_signature() {
    let p = good();
    let (rest, sig) = p.rsplit_once('.').unwrap();
    let raw = common_b64_decode(sig);
    // P-256 group order n; s' = n - s is the other valid signature (high-S if s was low).
    let n = common::hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let s_neg = sub_be(&n, &raw[32..]);
    let mut flipped = raw[..32].to_vec();
    flipped.extend_from_slice(&s_neg);
    assert_ne!(flipped, raw);
    check(&format!("{rest}.{}", b64(&flipped))).unwrap();
}

// ---- step 4: claims ----

#[test]
fn rejects_each_missing_claim_by_its_name() {
    for (claim, name) in [
        (Claim::Jti, "jti"),
        (Claim::Htm, "htm"),
        (Claim::Htu, "htu"),
        (Claim::Iat, "iat"),
    ] {
        let full: serde_json::Value = serde_json::from_str(&payload(NOW)).unwrap();
        let mut obj = full.as_object().unwrap().clone();
        obj.remove(name);
        let p = serde_json::to_string(&obj).unwrap();
        rejects(
            check(&signed(es256(), &es256().header_json(), &p)),
            DpopError::MissingClaim { claim },
            name,
        );
    }
}

#[test]
fn rejects_ill_typed_claims() {
    let cases = [
        (
            r#""jti":"jti-0001""#,
            r#""jti":"""#,
            DpopError::InvalidClaim { claim: Claim::Jti },
        ),
        (
            r#""jti":"jti-0001""#,
            r#""jti":7"#,
            DpopError::InvalidClaim { claim: Claim::Jti },
        ),
        (
            r#""htm":"POST""#,
            r#""htm":null"#,
            DpopError::InvalidClaim { claim: Claim::Htm },
        ),
        (
            r#""htu":"https://server.example.com/token""#,
            r#""htu":[]"#,
            DpopError::InvalidClaim { claim: Claim::Htu },
        ),
        (
            &format!(r#""iat":{NOW}"#),
            &format!(r#""iat":"{NOW}""#),
            DpopError::InvalidClaim { claim: Claim::Iat },
        ),
        (
            &format!(r#""iat":{NOW}"#),
            r#""iat":1e400"#,
            DpopError::InvalidClaim { claim: Claim::Iat },
        ),
    ];
    for (from, to, expected) in cases {
        let p = payload(NOW).replacen(from, to, 1);
        let reason = expected.reason().as_str();
        rejects(
            check(&signed(es256(), &es256().header_json(), &p)),
            expected,
            reason,
        );
    }
    let long = "a".repeat(MAX_JTI_LEN + 1);
    let p = payload(NOW).replacen("jti-0001", &long, 1);
    rejects(
        check(&signed(es256(), &es256().header_json(), &p)),
        DpopError::JtiTooLong {
            len: MAX_JTI_LEN + 1,
            max: MAX_JTI_LEN,
        },
        "jti",
    );
}

#[test]
fn accepts_extra_headers_and_claims() {
    let h = header_with(
        r#""typ":"dpop+jwt","#,
        r#""typ":"dpop+jwt","kid":"k1","x-custom":{"a":[1,2]},"#,
    );
    let p = payload(NOW).replacen('{', r#"{"exp":1,"client_id":"c","nested":{"x":null},"#, 1);
    check(&signed(es256(), &h, &p)).unwrap();
}

#[test]
fn accepts_escaped_strings_in_claims() {
    let p = payload(NOW).replacen(
        "https://server.example.com/token",
        r"https:\/\/server.example.com\/token",
        1,
    );
    check(&signed(es256(), &es256().header_json(), &p)).unwrap();
}

// ---- step 5, 6: htm, htu ----

#[test]
fn rejects_wrong_htm() {
    let req = Request::new("GET", HTU);
    rejects(
        check_with(&good(), &req, &Policy::new()),
        DpopError::HtmMismatch,
        "htm",
    );
    let req = Request::new("post", HTU);
    rejects(
        check_with(&good(), &req, &Policy::new()),
        DpopError::HtmMismatch,
        "htm",
    );
}

fn proof_for_htu(htu: &str) -> String {
    let p = payload_json(&ProofParams::new(HTM, "https://x/", NOW), "jti-0001")
        .unwrap()
        .replacen("https://x/", htu, 1);
    signed(es256(), &es256().header_json(), &p)
}

#[test]
fn rejects_wrong_htu_scheme_host_port_path() {
    for wrong in [
        "http://server.example.com/token",
        "https://other.example.com/token",
        "https://server.example.com:8443/token",
        "https://server.example.com/token2",
        "https://server.example.com/",
    ] {
        rejects(check(&proof_for_htu(wrong)), DpopError::HtuMismatch, "htu");
    }
    let err = check(&proof_for_htu("not a uri")).unwrap_err();
    assert_eq!(err.reason(), Reason::Htu, "{err:?}");
}

#[test]
fn rejects_invalid_htu_even_when_byte_equal_to_the_request_uri() {
    // The host may build its URI from request data; an invalid URI is refused on both sides.
    for invalid in [
        "https://user@server.example.com/token",
        "https://server.example.com/%zztoken",
        "https://server.example.com:99999/token",
    ] {
        let req = Request::new(HTM, invalid);
        let err = check_with(&proof_for_htu(invalid), &req, &Policy::new()).unwrap_err();
        // The host's own URI is checked first and named as such.
        assert!(
            matches!(err, DpopError::InvalidRequestUri(_)),
            "{invalid}: {err:?}"
        );
        let good_req = Request::new(HTM, HTU);
        let err = check_with(&proof_for_htu(invalid), &good_req, &Policy::new()).unwrap_err();
        assert!(
            matches!(err, DpopError::InvalidHtu(_)),
            "{invalid}: {err:?}"
        );
        assert_eq!(err.reason(), Reason::Htu, "{invalid}");
    }
}

#[test]
fn accepts_htu_variants_that_normalize_equal() {
    for variant in [
        "https://server.example.com/token?x=1",
        "https://server.example.com/token#frag",
        "HTTPS://Server.Example.COM/token",
        "https://server.example.com:443/token",
        "https://server.example.com/a/../token",
        "https://server.example.com/./token",
        "https://server.example.com/%74oken",
    ] {
        check(&proof_for_htu(variant)).unwrap_or_else(|e| panic!("{variant}: {e:?}"));
    }
    // Query and fragment on the server side too.
    let req = Request::new(HTM, "https://server.example.com/token?code=abc#x");
    check_with(&good(), &req, &Policy::new()).unwrap();
    // An alias.
    let aliases = ["https://mtls.server.example.com/token"];
    let req = Request::new(HTM, "https://elsewhere.example.com/token").with_aliases(&aliases);
    rejects(
        check_with(&good(), &req, &Policy::new()),
        DpopError::HtuMismatch,
        "htu",
    );
    let p = proof_for_htu("https://mtls.server.example.com/token");
    check_with(&p, &req, &Policy::new()).unwrap();
}

// ---- step 7: iat ----

#[test]
fn fractional_iat_is_a_numeric_date_and_never_widens_the_window() {
    // RFC 7519 §2: a NumericDate may be non-integer; the window edges are exact.
    let policy = Policy::new().with_leeway(10).with_max_age(300);
    let req = Request::new(HTM, HTU);
    let at = |iat: &str| {
        let p = payload(NOW).replacen(&format!(r#""iat":{NOW}"#), &format!(r#""iat":{iat}"#), 1);
        signed(es256(), &es256().header_json(), &p)
    };
    let verified = check_with(&at(&format!("{NOW}.5")), &req, &policy).unwrap();
    assert_eq!(verified.iat(), NOW as i64);
    // Half a second past the future edge fails; the edge itself passes.
    check_with(&at(&format!("{}", NOW + 10)), &req, &policy).unwrap();
    rejects(
        check_with(&at(&format!("{}.5", NOW + 10)), &req, &policy),
        DpopError::IatInFuture {
            iat: (NOW + 11) as i64,
            now: NOW,
            leeway: 10,
        },
        "iat",
    );
    // Half a second before the oldest edge fails; the edge itself passes.
    check_with(&at(&format!("{}", NOW - 300)), &req, &policy).unwrap();
    check_with(&at(&format!("{}.0", NOW - 300)), &req, &policy).unwrap();
    rejects(
        check_with(&at(&format!("{}.5", NOW - 301)), &req, &policy),
        DpopError::IatTooOld {
            iat: (NOW - 301) as i64,
            now: NOW,
            max_age: 300,
        },
        "iat",
    );
    // Exponent form is a number like any other.
    check_with(&at("1.7e9"), &req, &policy).unwrap();
}

#[test]
fn rejects_iat_an_hour_off_and_accepts_ten_seconds() {
    let policy = Policy::new().with_leeway(10);
    let req = Request::new(HTM, HTU);
    let at = |iat: u64| signed(es256(), &es256().header_json(), &payload(iat));
    rejects(
        check_with(&at(NOW + 3600), &req, &policy),
        DpopError::IatInFuture {
            iat: (NOW + 3600) as i64,
            now: NOW,
            leeway: 10,
        },
        "iat",
    );
    rejects(
        check_with(&at(NOW - 3600), &req, &policy),
        DpopError::IatTooOld {
            iat: (NOW - 3600) as i64,
            now: NOW,
            max_age: 300,
        },
        "iat",
    );
    check_with(&at(NOW + 10), &req, &policy).unwrap();
    check_with(&at(NOW - 10), &req, &policy).unwrap();
    rejects(
        check_with(&at(NOW + 11), &req, &policy),
        DpopError::IatInFuture {
            iat: (NOW + 11) as i64,
            now: NOW,
            leeway: 10,
        },
        "iat",
    );
    // FAPI 2.0: 60 s old passes, 61 s fails.
    check_with(&at(NOW - 60), &req, &Policy::fapi2()).unwrap();
    assert_eq!(
        check_with(&at(NOW - 61), &req, &Policy::fapi2())
            .unwrap_err()
            .reason(),
        Reason::Iat
    );
    let p = payload(NOW).replacen(&format!(r#""iat":{NOW}"#), r#""iat":-5"#, 1);
    assert_eq!(
        check(&signed(es256(), &es256().header_json(), &p))
            .unwrap_err()
            .reason(),
        Reason::Iat
    );
}

// ---- step 8: nonce ----

struct TestNonces;

impl NonceSource for TestNonces {
    fn check(&self, nonce: &str, _now: u64) -> Result<(), NonceError> {
        match nonce {
            "fresh-nonce" => Ok(()),
            "stale-nonce" => Err(NonceError::Expired),
            _ => Err(NonceError::Invalid),
        }
    }
    fn issue_into<'b>(&self, _now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
        let n = b"fresh-nonce";
        buf[..n.len()].copy_from_slice(n);
        Ok(std::str::from_utf8(&buf[..n.len()]).unwrap())
    }
}

fn proof_with_nonce(nonce: Option<&str>) -> String {
    let mut params = ProofParams::new(HTM, HTU, NOW);
    if let Some(n) = nonce {
        params = params.with_nonce(n);
    }
    signed(
        es256(),
        &es256().header_json(),
        &payload_json(&params, "jti-0001").unwrap(),
    )
}

#[test]
fn rejects_missing_wrong_and_stale_nonce_with_use_dpop_nonce() {
    let policy = Policy::new().with_nonce(&TestNonces);
    let req = Request::new(HTM, HTU);
    let err = check_with(&proof_with_nonce(None), &req, &policy).unwrap_err();
    assert_eq!(err, DpopError::MissingNonce);
    assert_eq!(
        (err.reason().as_str(), err.wire_error()),
        ("nonce", "use_dpop_nonce")
    );
    assert!(err.needs_nonce());
    let err = check_with(&proof_with_nonce(Some("wrong")), &req, &policy).unwrap_err();
    assert_eq!(err, DpopError::InvalidNonce(NonceError::Invalid));
    assert_eq!(err.wire_error(), "use_dpop_nonce");
    let err = check_with(&proof_with_nonce(Some("stale-nonce")), &req, &policy).unwrap_err();
    assert_eq!(err, DpopError::InvalidNonce(NonceError::Expired));
    assert_eq!(err.reason(), Reason::Nonce);
    check_with(&proof_with_nonce(Some("fresh-nonce")), &req, &policy).unwrap();
    // Without a nonce requirement a nonce claim is ignored.
    check(&proof_with_nonce(Some("whatever"))).unwrap();
}

#[test]
fn malformed_nonce_claim_is_use_dpop_nonce_only_when_a_nonce_is_required() {
    // RFC 9449 §8, §9: `use_dpop_nonce` (with a fresh nonce) only from a server that requires
    // nonces; otherwise a non-string or empty nonce claim is an invalid proof.
    let policy = Policy::new().with_nonce(&TestNonces);
    let req = Request::new(HTM, HTU);
    for bad in [
        r#""nonce":7"#,
        r#""nonce":"""#,
        r#""nonce":null"#,
        r#""nonce":["n"]"#,
    ] {
        let p = payload(NOW).replacen('}', &format!(",{bad}}}"), 1);
        let proof = signed(es256(), &es256().header_json(), &p);
        let err = check(&proof).unwrap_err();
        assert_eq!(
            err,
            DpopError::InvalidClaim {
                claim: Claim::Nonce
            },
            "{bad}"
        );
        assert_eq!(
            (err.reason().as_str(), err.wire_error(), err.needs_nonce()),
            ("nonce", "invalid_dpop_proof", false),
            "{bad}"
        );
        let err = check_with(&proof, &req, &policy).unwrap_err();
        assert_eq!(err, DpopError::InvalidNonce(NonceError::Invalid), "{bad}");
        assert_eq!(
            (err.reason().as_str(), err.wire_error(), err.needs_nonce()),
            ("nonce", "use_dpop_nonce", true),
            "{bad}"
        );
    }
}

// ---- step 9: ath ----

#[test]
fn rejects_wrong_or_missing_ath() {
    let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
    let req = Request::new(HTM, HTU).with_access_token(token);
    rejects(
        check_with(&good(), &req, &Policy::new()),
        DpopError::MissingAth,
        "ath",
    );
    let params = ProofParams::new(HTM, HTU, NOW).with_access_token("another-token");
    let p = signed(
        es256(),
        &es256().header_json(),
        &payload_json(&params, "j").unwrap(),
    );
    rejects(
        check_with(&p, &req, &Policy::new()),
        DpopError::AthMismatch,
        "ath",
    );
    let params = ProofParams::new(HTM, HTU, NOW).with_access_token(token);
    let p = signed(
        es256(),
        &es256().header_json(),
        &payload_json(&params, "j").unwrap(),
    );
    check_with(&p, &req, &Policy::new()).unwrap();
}

// ---- step 10: key binding ----

#[test]
fn rejects_jkt_mismatch() {
    let req = Request::new(HTM, HTU).with_jkt(es256_other().thumbprint());
    rejects(
        check_with(&good(), &req, &Policy::new()),
        DpopError::KeyBindingMismatch,
        "key_binding",
    );
    let req = Request::new(HTM, HTU).with_jkt(es256().thumbprint());
    check_with(&good(), &req, &Policy::new()).unwrap();
}

// ---- step 11: replay ----

#[test]
fn rejects_replay_and_fails_closed_when_store_is_full() {
    let store = SetStore::default();
    let p = good();
    check(&p).unwrap().commit(&store).unwrap();
    let err = check(&p).unwrap().commit(&store).unwrap_err();
    assert_eq!(err, DpopError::Replayed);
    assert_eq!(err.reason().as_str(), "replay");
    let err = validate_proof(
        &p,
        &Request::new(HTM, HTU),
        &Policy::new(),
        &RustCryptoVerifier,
        &store,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err, DpopError::Replayed);
    let err = check(&p).unwrap().commit(&FullStore).unwrap_err();
    assert_eq!(err, DpopError::ReplayStore(ReplayError::Full));
    assert_eq!(err.reason(), Reason::Replay);
    assert!(err.is_server_fault());
}

/// Polls a future that never waits (the sync stores' async form) to completion.
#[cfg(feature = "std")]
fn ready_now<F: core::future::Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(out) => out,
        core::task::Poll::Pending => panic!("a sync store's async answer must be ready at once"),
    }
}

#[cfg(feature = "std")]
#[test]
fn async_commit_gives_the_sync_verdicts_through_a_sync_store() {
    use keybound_dpop::replay::MemoryReplayStore;
    let store = MemoryReplayStore::with_key(16, [3; 16]);
    let p = good();
    let first = ready_now(check(&p).unwrap().commit_async(&store)).unwrap();
    assert_eq!(first.jkt, es256().thumbprint());
    let err = ready_now(check(&p).unwrap().commit_async(&store)).unwrap_err();
    assert_eq!(err, DpopError::Replayed);
    let err = ready_now(check(&p).unwrap().commit_scoped_async(&FullStore, b"s")).unwrap_err();
    assert_eq!(err, DpopError::ReplayStore(ReplayError::Full));
    assert!(err.is_server_fault());
}

#[cfg(feature = "std")]
#[test]
fn inline_commit_answers_for_sync_stores_with_the_sync_verdicts() {
    use keybound_dpop::replay::MemoryReplayStore;
    let store = MemoryReplayStore::with_key(16, [4; 16]);
    let p = good();
    let first = check(&p).unwrap().commit_inline(&store).ok().unwrap();
    assert_eq!(first.unwrap().jkt, es256().thumbprint());
    let again = check(&p).unwrap().commit_inline(&store).ok().unwrap();
    assert_eq!(again.unwrap_err(), DpopError::Replayed);
    let full = check(&p).unwrap().commit_inline(&FullStore).ok().unwrap();
    assert_eq!(full.unwrap_err(), DpopError::ReplayStore(ReplayError::Full));
}

/// A store that only answers asynchronously (like a networked one) and records what it saw.
#[cfg(feature = "std")]
#[derive(Default)]
struct AsyncOnlyStore(std::sync::Mutex<Vec<String>>);

#[cfg(feature = "std")]
impl keybound_dpop::replay::AsyncReplayStore for AsyncOnlyStore {
    fn check_and_insert_async(
        &self,
        key: keybound_dpop::replay::ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl core::future::Future<Output = Result<(), ReplayError>> + Send {
        let mut seen = self.0.lock().unwrap();
        let answer = if seen.iter().any(|j| j == key.jti) {
            Err(ReplayError::Replayed)
        } else {
            seen.push(key.jti.to_owned());
            Ok(())
        };
        core::future::ready(answer)
    }
}

#[cfg(feature = "std")]
#[test]
fn inline_commit_hands_the_proof_back_untouched_when_the_store_needs_io() {
    let store = AsyncOnlyStore::default();
    let p = good();
    let checked = check(&p).unwrap();
    let jti = checked.jti().to_owned();
    let back = checked.commit_inline(&store).unwrap_err();
    assert_eq!(back.jti(), jti);
    assert!(
        store.0.lock().unwrap().is_empty(),
        "nothing may be recorded"
    );
    let verified = ready_now(back.commit_async(&store)).unwrap();
    assert_eq!(verified.jti, jti);
    let err = ready_now(check(&p).unwrap().commit_async(&store)).unwrap_err();
    assert_eq!(err, DpopError::Replayed);
}

#[test]
fn replay_entry_outlives_the_acceptance_window() {
    let c = check(&good()).unwrap();
    assert!(c.replay_expires_at() >= NOW + 300 + 10);
}

// ---- order of checks ----

#[test]
fn checks_run_in_rfc_order() {
    // Forbidden alg and private key: alg is reported first (step 2 order).
    let private = rs256().private_jwk();
    let h = format!(
        r#"{{"typ":"dpop+jwt","alg":"RS256","jwk":{}}}"#,
        private.as_str()
    );
    let p = signed(rs256(), &h, &payload(NOW));
    let err = check_with(&p, &Request::new(HTM, HTU), &Policy::fapi2()).unwrap_err();
    assert_eq!(err.reason(), Reason::Alg);
    // Bad signature and missing claim: signature first.
    let p = signed(es256_other(), &es256().header_json(), r#"{"htm":"POST"}"#);
    assert_eq!(check(&p).unwrap_err(), DpopError::BadSignature);
    // Wrong htm and stale iat: htm first.
    let p = signed(es256(), &es256().header_json(), &payload(NOW - 3600));
    let err = check_with(&p, &Request::new("GET", HTU), &Policy::new()).unwrap_err();
    assert_eq!(err, DpopError::HtmMismatch);
}

// ---- wire mapping ----

#[test]
fn reasons_and_wire_errors_are_the_cli_strings() {
    let all = [
        (DpopError::Segments, "malformed"),
        (DpopError::InvalidTyp, "typ"),
        (DpopError::UnsupportedAlg, "alg"),
        (DpopError::PrivateJwk, "jwk"),
        (DpopError::BadSignature, "signature"),
        (DpopError::MissingClaim { claim: Claim::Jti }, "jti"),
        (DpopError::HtmMismatch, "htm"),
        (DpopError::HtuMismatch, "htu"),
        (
            DpopError::IatTooOld {
                iat: 0,
                now: 0,
                max_age: 0,
            },
            "iat",
        ),
        (DpopError::AthMismatch, "ath"),
        (DpopError::MissingNonce, "nonce"),
        (DpopError::Replayed, "replay"),
        (DpopError::KeyBindingMismatch, "key_binding"),
    ];
    for (err, reason) in all {
        assert_eq!(err.reason().as_str(), reason);
        let wire = if reason == "nonce" {
            "use_dpop_nonce"
        } else {
            "invalid_dpop_proof"
        };
        assert_eq!(err.wire_error(), wire);
        assert!(!err.to_string().is_empty());
    }
    assert_eq!(Endpoint::Token.status(), 400);
    assert_eq!(Endpoint::Par.status(), 400);
    assert_eq!(Endpoint::Resource.status(), 401);
}

#[test]
fn www_authenticate_and_error_body() {
    let algs = AlgSet::EMPTY.with(Algorithm::Es256).with(Algorithm::Ps256);
    let mut s = String::new();
    write_www_authenticate(&mut s, None, None, algs).unwrap();
    assert_eq!(s, r#"DPoP algs="ES256 PS256""#); // RFC 9449 Figure 15
    let mut s = String::new();
    write_www_authenticate(
        &mut s,
        Some("invalid_token"),
        Some("Invalid DPoP key binding"),
        AlgSet::EMPTY.with(Algorithm::Es256),
    )
    .unwrap();
    assert_eq!(
        s,
        r#"DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256""#
    ); // Figure 16
    let w = www_authenticate(&DpopError::MissingNonce, algs);
    assert!(
        w.starts_with(r#"DPoP error="use_dpop_nonce", error_description=""#),
        "{w}"
    );
    let mut body = String::new();
    write_error_body(
        &mut body,
        &DpopError::IatTooOld {
            iat: 1,
            now: 2,
            max_age: 3,
        },
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "invalid_dpop_proof");
    assert_eq!(
        dpop_nonce_header_value("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")
    );
    assert_eq!(dpop_nonce_header_value("has\"quote"), None);
    assert_eq!(dpop_nonce_header_value(""), None);
}

#[test]
fn signing_alg_values_come_from_the_verifier_table() {
    let algs = signing_alg_values_supported(AlgSet::ALL, &RustCryptoVerifier);
    assert_eq!(algs, AlgSet::ALL);
    let mut s = String::new();
    write_signing_alg_values_json(
        signing_alg_values_supported(AlgSet::FAPI2, &RustCryptoVerifier),
        &mut s,
    )
    .unwrap();
    assert_eq!(s, r#"["ES256","PS256","EdDSA","Ed25519"]"#);
}

// ---- helpers ----

fn common_b64_decode(s: &str) -> Vec<u8> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    Base64UrlUnpadded::decode_vec(s).unwrap()
}

fn der_int(x: &[u8]) -> Vec<u8> {
    let mut v: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
    if v.first().is_some_and(|b| b & 0x80 != 0) {
        v.insert(0, 0);
    }
    let mut out = vec![0x02, v.len() as u8];
    out.extend(v);
    out
}

fn der_from_rs(r: &[u8], s: &[u8]) -> Vec<u8> {
    let mut body = der_int(r);
    body.extend(der_int(s));
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn sub_be(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; a.len()];
    let mut borrow = 0i16;
    for i in (0..a.len()).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = if d < 0 {
            d += 256;
            1
        } else {
            0
        };
        out[i] = d as u8;
    }
    out
}

#[test]
fn a_4096_bit_rsa_proof_with_ath_and_nonce_fits_the_size_cap() {
    let mut n = vec![0xc5u8; 512];
    n[511] |= 1;
    let jwk = format!(r#"{{"kty":"RSA","n":"{}","e":"AQAB"}}"#, b64(&n));
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"PS256","jwk":{jwk},"kid":"a-long-key-identifier-0123456789"}}"#
    );
    let nonce = "N".repeat(200);
    let params = ProofParams::new(HTM, HTU, NOW)
        .with_access_token("token")
        .with_nonce(&nonce);
    let payload = payload_json(&params, &"j".repeat(64)).unwrap();
    let proof = format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(&[7u8; 512])
    );
    assert!(proof.len() < MAX_PROOF_LEN, "{}", proof.len());
    // Gets past every size cap and fails only at the (fake) signature.
    rejects(check(&proof), DpopError::BadSignature, "signature");
}

#[test]
fn member_names_are_compared_after_unescaping() {
    let h = header_with(r#""typ":"dpop+jwt""#, r#""t\u0079p":"dpop+jwt""#);
    let p = payload(NOW).replacen(r#""htm":"#, r#""\u0068tm":"#, 1);
    let v = check(&signed(es256(), &h, &p))
        .unwrap()
        .into_verified_without_replay_check();
    assert_eq!(v.alg, Algorithm::Es256);
    // An escaped duplicate is still a duplicate.
    let h = header_with(
        r#""typ":"dpop+jwt","#,
        r#""typ":"dpop+jwt","t\u0079p":"dpop+jwt","#,
    );
    assert_eq!(
        check(&signed(es256(), &h, &payload(NOW)))
            .unwrap_err()
            .reason(),
        Reason::Malformed
    );
}

#[test]
fn escaped_alg_names_are_resolved() {
    let h = header_with(r#""alg":"ES256""#, r#""alg":"ES\u0032\u00356""#);
    check(&signed(es256(), &h, &payload(NOW))).unwrap();
    let h = header_with(r#""alg":"ES256""#, r#""alg":"\u006eone""#);
    rejects(
        check(&signed(es256(), &h, &payload(NOW))),
        DpopError::UnsupportedAlg,
        "alg",
    );
}

/// Step 6 through the *ring* backend: the same verdicts as RustCrypto for a good, a tampered, a
/// high-S, a DER-encoded and a foreign-key ES256 signature, and for EdDSA and RS256 proofs.
#[cfg(feature = "ring")]
#[test]
fn signature_verdicts_agree_through_ring_verifier() {
    signature_verdicts_agree_with_rustcrypto(&RingVerifier);
}

/// Step 6 through the aws-lc-rs backend: the same cases and verdicts as for *ring*.
#[cfg(feature = "aws-lc-rs")]
#[test]
fn signature_verdicts_agree_through_aws_lc_verifier() {
    signature_verdicts_agree_with_rustcrypto(&AwsLcVerifier);
}

#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
fn signature_verdicts_agree_with_rustcrypto(backend: &dyn SignatureVerifier) {
    let req = Request::new(HTM, HTU);
    let p = good();
    let (rest, sig) = p.rsplit_once('.').unwrap();
    let raw = common_b64_decode(sig);
    let mut tampered = raw.clone();
    tampered[10] ^= 1;
    let n = common::hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let mut high_s = raw[..32].to_vec();
    high_s.extend_from_slice(&sub_be(&n, &raw[32..]));
    let der = der_from_rs(&raw[..32], &raw[32..]);
    let cases = [
        (p.clone(), None),
        (
            format!("{rest}.{}", b64(&tampered)),
            Some(DpopError::BadSignature),
        ),
        (format!("{rest}.{}", b64(&high_s)), None),
        (
            format!("{rest}.{}", b64(&der)),
            Some(DpopError::SignatureLength {
                expected: 64,
                actual: der.len(),
            }),
        ),
        (
            signed(es256_other(), &es256().header_json(), &payload(NOW)),
            Some(DpopError::BadSignature),
        ),
        (
            signed(ed25519(), &ed25519().header_json(), &payload(NOW)),
            None,
        ),
        (signed(rs256(), &rs256().header_json(), &payload(NOW)), None),
    ];
    for (proof, expected) in &cases {
        let verdict = |v: &dyn SignatureVerifier| {
            check_proof(proof, &req, &Policy::new(), v, NOW)
                .map(CheckedProof::into_verified_without_replay_check)
        };
        let (rust, other) = (verdict(&RustCryptoVerifier), verdict(backend));
        assert_eq!(other, rust, "{proof}");
        assert_eq!(other.err(), *expected, "{proof}");
    }
}
