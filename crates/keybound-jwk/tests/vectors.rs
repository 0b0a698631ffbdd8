//! Known answers from RFC 7638, RFC 8037, RFC 9449, RFC 9278 and Wycheproof (`tests/data/`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_jwk::{
    EcCurve, Jwk, JwkError, JwkThumbprint, OkpCurve, PointFault, PublicParams, uri,
};
use serde_json::Value as J;

fn vector(name: &str) -> J {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn bytes(v: &J) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn canonical(jwk: &Jwk<'_>) -> String {
    let mut s = String::new();
    jwk.write_thumbprint_input(&mut s).unwrap();
    s
}

#[test]
fn rfc7638_section_3_1_rsa_thumbprint() {
    let v = vector("rfc7638_jwk_thumbprint.json");
    let text = bytes(&v["input_jwk"]);
    let jwk = Jwk::parse(&text).unwrap();
    assert_eq!(canonical(&jwk), v["canonical_json"].as_str().unwrap());
    assert_eq!(
        jwk.thumbprint().to_string(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
    assert_eq!(jwk.rsa_modulus_bits(), Some(2048));
    assert!(!jwk.is_private());
    assert!(matches!(jwk.params(), PublicParams::Rsa { .. }));
    assert_eq!(
        jwk.object().get("kid").unwrap().as_str().unwrap().raw(),
        "2011-04-29"
    );
}

#[test]
fn rfc7638_thumbprint_with_other_digests() {
    let v = vector("rfc7638_jwk_thumbprint.json");
    let text = bytes(&v["input_jwk"]);
    let jwk = Jwk::parse(&text).unwrap();
    let s256 = jwk.thumbprint_with::<sha2::Sha256>();
    assert_eq!(s256.as_slice(), jwk.thumbprint().as_bytes());
    let s512 = jwk.thumbprint_with::<sha2::Sha512>();
    assert_eq!(s512.len(), 64);
}

#[test]
fn rfc8037_appendix_a3_ed25519_thumbprint_of_public_and_private_jwk() {
    let v = vector("rfc8037_ed25519.json");
    let public = bytes(&v["A.2_public_jwk"]);
    let private = bytes(&v["A.1_private_jwk"]);
    let public = Jwk::parse(&public).unwrap();
    let private = Jwk::parse(&private).unwrap();
    let expected = v["A.3_thumbprint"]["expected_thumbprint_b64url"]
        .as_str()
        .unwrap();
    assert_eq!(expected, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    assert_eq!(
        canonical(&public),
        v["A.3_thumbprint"]["canonical_json"].as_str().unwrap()
    );
    assert_eq!(public.thumbprint().to_string(), expected);
    assert_eq!(private.thumbprint().to_string(), expected);
    assert_eq!(public.require_public(), Ok(()));
    assert_eq!(
        private.require_public(),
        Err(JwkError::PrivateKey { member: "d" })
    );
    assert!(matches!(
        public.params(),
        PublicParams::Okp {
            crv: OkpCurve::Ed25519,
            ..
        }
    ));
    #[cfg(feature = "ed25519")]
    assert!(public.to_ed25519().is_ok());
}

#[test]
fn rfc9449_dpop_key_jkt() {
    let v = vector("rfc9449_dpop.json");
    let text = bytes(&v["dpop_public_jwk"]);
    let jwk = Jwk::parse(&text).unwrap();
    assert_eq!(
        jwk.thumbprint().to_string(),
        "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
    );
    assert_eq!(
        jwk.thumbprint(),
        JwkThumbprint::from_b64(v["dpop_jwk_thumbprint_jkt"].as_str().unwrap()).unwrap()
    );
    assert!(matches!(
        jwk.params(),
        PublicParams::Ec {
            crv: EcCurve::P256,
            ..
        }
    ));
    #[cfg(feature = "p256")]
    assert!(jwk.to_p256().is_ok());
}

#[test]
fn rfc9278_thumbprint_uri() {
    let v = vector("rfc9278_thumbprint_uri.json");
    let expected = v["expected_uri"].as_str().unwrap();
    let input = bytes(&vector("rfc7638_jwk_thumbprint.json")["input_jwk"]);
    let tp = Jwk::parse(&input).unwrap().thumbprint();
    let mut s = String::new();
    uri::write(&tp, &mut s).unwrap();
    assert_eq!(s, expected);
    #[cfg(feature = "alloc")]
    assert_eq!(uri::to_string(&tp), expected);
    assert_eq!(uri::parse(expected), Ok(tp));
}

/// Wycheproof `json_web_key_test.json`: every JWK of every group, public and private.
///
/// The suite tests JWS verification with key sets; a JWK parser answers the part about
/// the keys themselves. Divergences, each deliberate:
/// - `rejects1024bitRsaKey` (tc 8): the key parses (`rsa_modulus_bits` = 1024); the
///   2048-bit minimum is policy, enforced by the DPoP layer, not by the JWK model.
/// - `mismatchedAlgAndCurve` (tc 19, 20), `rejectsWrongUse` (tc 6), `invalid_use` (tc 21):
///   the keys are well-formed; `alg`/`use` against the JWS header is checked by the caller.
/// - `rejectsKeyWithRocaVulnerability` (tc 7): ROCA fingerprinting is not implemented;
///   the key parses.
/// - `MixedKeySet`, `DuplicateKid` (tc 1, 4): key-set rules; there is no key-set type here.
///
/// The rest agree: `oct` keys are refused, `e = 1` is refused, coordinates of the wrong
/// size for the curve are refused, an RSA `kty` with EC members lacks `n`, and a point
/// off the curve is refused by `check_key` (and so when converted).
#[test]
fn wycheproof_json_web_key_public_key_parsing() {
    let v = vector("wycheproof/json_web_key_test.json");
    let mut checked = 0;
    for group in v["testGroups"].as_array().unwrap() {
        let comment = group["comment"].as_str().unwrap();
        let public: Vec<&J> = group["public"]["keys"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let private: Vec<&J> = group["private"]["keys"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        for (i, key) in public.iter().chain(private.iter()).enumerate() {
            let has_d = key.get("d").is_some();
            let _from_private_set = i >= public.len();
            let text = bytes(key);
            let got = Jwk::parse(&text);
            let kty = key["kty"].as_str().unwrap();
            match (comment, kty) {
                (_, "oct") => assert_eq!(got.unwrap_err(), JwkError::SymmetricKey, "{comment}"),
                ("exponentOne", _) => assert_eq!(got.unwrap_err(), JwkError::InvalidRsaExponent),
                ("wrong_curve", _) => assert_eq!(
                    got.unwrap_err(),
                    JwkError::CoordinateLength {
                        member: "x",
                        expected: 48,
                        actual: 32
                    }
                ),
                ("wrong_kty", _) => {
                    assert_eq!(got.unwrap_err(), JwkError::MissingMember { member: "n" })
                }
                ("invalid_point", _) => {
                    let jwk = got.unwrap();
                    let off_curve = JwkError::InvalidPoint {
                        crv: "P-256",
                        member: "y",
                        fault: PointFault::NotOnCurve,
                    };
                    assert_eq!(jwk.check_key(), Err(off_curve));
                    #[cfg(feature = "p256")]
                    assert_eq!(jwk.to_p256().unwrap_err(), off_curve);
                }
                _ => {
                    let jwk = got.unwrap_or_else(|e| panic!("{comment}: {e}"));
                    assert_eq!(jwk.is_private(), has_d, "{comment}");
                    if has_d {
                        assert!(matches!(
                            jwk.require_public(),
                            Err(JwkError::PrivateKey { .. })
                        ));
                    }
                    if comment == "keysize_too_small" {
                        assert_eq!(jwk.rsa_modulus_bits(), Some(1024));
                    }
                    #[cfg(feature = "rsa")]
                    if kty == "RSA" {
                        assert!(jwk.to_rsa().is_ok(), "{comment}");
                    }
                    assert_eq!(jwk.check_key(), Ok(()), "{comment}");
                    #[cfg(feature = "p256")]
                    if kty == "EC" {
                        assert!(jwk.to_p256().is_ok(), "{comment}");
                    }
                }
            }
            checked += 1;
        }
        // The public part of a private key has the public key's thumbprint.
        for (p, s) in public.iter().zip(private.iter()) {
            let (pt, st) = (bytes(p), bytes(s));
            if let (Ok(p), Ok(s)) = (Jwk::parse(&pt), Jwk::parse(&st)) {
                assert_eq!(p.thumbprint(), s.thumbprint(), "{comment}");
            }
        }
    }
    assert_eq!(checked, 39, "every key of the suite is checked");
}

/// RFC 7638 §3.2/§3.3 canonical JSON for every curve and key type: the required members in
/// lexicographic order, no whitespace, and the thumbprint is SHA-256 of exactly that text.
#[test]
fn canonical_json_of_every_key_type_follows_rfc7638() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use sha2::{Digest, Sha256};
    let b = |len: usize| Base64UrlUnpadded::encode_string(&vec![3u8; len]);
    let mut cases = Vec::new();
    for (crv, len) in [("P-256", 32), ("P-384", 48), ("P-521", 66)] {
        let (x, y) = (b(len), b(len));
        cases.push((
            format!(r#"{{"y":"{y}","x":"{x}","kty":"EC","crv":"{crv}","kid":"k"}}"#),
            format!(r#"{{"crv":"{crv}","kty":"EC","x":"{x}","y":"{y}"}}"#),
        ));
    }
    for (crv, len) in [("Ed25519", 32), ("Ed448", 57), ("X25519", 32), ("X448", 56)] {
        let x = b(len);
        cases.push((
            format!(r#"{{"x":"{x}","crv":"{crv}","kty":"OKP","use":"sig"}}"#),
            format!(r#"{{"crv":"{crv}","kty":"OKP","x":"{x}"}}"#),
        ));
    }
    cases.push((
        r#"{"n":"AQAAAAAAAAAAAAAAAAAAAQ","kty":"RSA","e":"AQAB"}"#.to_owned(),
        r#"{"e":"AQAB","kty":"RSA","n":"AQAAAAAAAAAAAAAAAAAAAQ"}"#.to_owned(),
    ));
    for (input, expected) in cases {
        let jwk = Jwk::parse(input.as_bytes()).unwrap();
        let mut canonical = String::new();
        jwk.write_thumbprint_input(&mut canonical).unwrap();
        assert_eq!(canonical, expected);
        assert_eq!(
            jwk.thumbprint().as_bytes()[..],
            Sha256::digest(expected.as_bytes())[..],
            "{expected}"
        );
    }
}
