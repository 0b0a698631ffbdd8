//! Named refusals: each test asserts the exact error variant.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64ct::{Base64UrlUnpadded, Encoding};
use keybound_jwk::keybound_json::{JsonError, Limits, Object};
use keybound_jwk::{B64, Jwk, JwkError, OkpCurve, PointFault, PublicParams, uri};

// RFC 9449 example key (P-256).
const X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
const Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
// RFC 7638 example modulus (2048 bits).
const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const ED25519_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn ec(x: &str, y: &str) -> String {
    format!(r#"{{"kty":"EC","crv":"P-256","x":"{x}","y":"{y}"}}"#)
}

fn rsa(n: &str, e: &str) -> String {
    format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#)
}

fn err(text: &str) -> JwkError {
    Jwk::parse(text.as_bytes()).expect_err("must be refused")
}

// --- wrong types ---------------------------------------------------------------------------

#[test]
fn rejects_kty_that_is_not_a_string() {
    assert_eq!(
        err(r#"{"kty":1}"#),
        JwkError::WrongType {
            member: "kty",
            expected: "string",
            found: "number"
        }
    );
}

#[test]
fn rejects_coordinates_that_are_not_strings() {
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":["{X}"],"y":"{Y}"}}"#);
    assert_eq!(
        err(&t),
        JwkError::WrongType {
            member: "x",
            expected: "string",
            found: "array"
        }
    );
    let t = format!(r#"{{"kty":"EC","crv":{{}},"x":"{X}","y":"{Y}"}}"#);
    assert_eq!(
        err(&t),
        JwkError::WrongType {
            member: "crv",
            expected: "string",
            found: "object"
        }
    );
    assert_eq!(
        err(&rsa(N, "AQAB").replace("\"AQAB\"", "65537")),
        JwkError::WrongType {
            member: "e",
            expected: "string",
            found: "number"
        }
    );
}

#[test]
fn rejects_registered_optional_members_of_the_wrong_type() {
    let with = |extra: &str| format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}",{extra}}}"#);
    assert_eq!(
        err(&with(r#""kid":7"#)),
        JwkError::WrongType {
            member: "kid",
            expected: "string",
            found: "number"
        }
    );
    assert_eq!(
        err(&with(r#""alg":null"#)),
        JwkError::WrongType {
            member: "alg",
            expected: "string",
            found: "null"
        }
    );
    assert_eq!(
        err(&with(r#""use":true"#)),
        JwkError::WrongType {
            member: "use",
            expected: "string",
            found: "boolean"
        }
    );
    assert_eq!(
        err(&with(r#""key_ops":"verify""#)),
        JwkError::WrongType {
            member: "key_ops",
            expected: "array of strings",
            found: "string"
        }
    );
    assert_eq!(
        err(&with(r#""x5c":[1]"#)),
        JwkError::WrongType {
            member: "x5c",
            expected: "array of strings",
            found: "array"
        }
    );
    assert!(Jwk::parse(with(r#""key_ops":["verify"],"x-unknown":{"a":[1]}"#).as_bytes()).is_ok());
}

// --- missing members -----------------------------------------------------------------------

#[test]
fn rejects_missing_members() {
    assert_eq!(err("{}"), JwkError::MissingMember { member: "kty" });
    assert_eq!(
        err(&format!(r#"{{"kty":"EC","x":"{X}","y":"{Y}"}}"#)),
        JwkError::MissingMember { member: "crv" }
    );
    assert_eq!(
        err(r#"{"kty":"EC","crv":"P-256"}"#),
        JwkError::MissingMember { member: "x" }
    );
    assert_eq!(
        err(&format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}"}}"#)),
        JwkError::MissingMember { member: "y" }
    );
    assert_eq!(
        err(r#"{"kty":"RSA","e":"AQAB"}"#),
        JwkError::MissingMember { member: "n" }
    );
    assert_eq!(
        err(&format!(r#"{{"kty":"RSA","n":"{N}"}}"#)),
        JwkError::MissingMember { member: "e" }
    );
    assert_eq!(
        err(r#"{"kty":"OKP","crv":"Ed25519"}"#),
        JwkError::MissingMember { member: "x" }
    );
    assert_eq!(
        err(&format!(r#"{{"kty":"OKP","x":"{ED25519_X}"}}"#)),
        JwkError::MissingMember { member: "crv" }
    );
}

// --- lengths -------------------------------------------------------------------------------

#[test]
fn rejects_short_coordinates() {
    let short = b64(&[1u8; 31]);
    assert_eq!(
        err(&ec(&short, Y)),
        JwkError::CoordinateLength {
            member: "x",
            expected: 32,
            actual: 31
        }
    );
    assert_eq!(
        err(&ec(X, &short)),
        JwkError::CoordinateLength {
            member: "y",
            expected: 32,
            actual: 31
        }
    );
    assert_eq!(
        err(&ec("", Y)),
        JwkError::CoordinateLength {
            member: "x",
            expected: 32,
            actual: 0
        }
    );
}

#[test]
fn rejects_long_coordinates() {
    let long = b64(&[1u8; 33]);
    assert_eq!(
        err(&ec(&long, Y)),
        JwkError::CoordinateLength {
            member: "x",
            expected: 32,
            actual: 33
        }
    );
    // A leading zero octet prepended to a full-size coordinate is still too long.
    let mut padded = vec![0u8];
    padded.extend(Base64UrlUnpadded::decode_vec(Y).unwrap());
    assert_eq!(
        err(&ec(X, &b64(&padded))),
        JwkError::CoordinateLength {
            member: "y",
            expected: 32,
            actual: 33
        }
    );
}

#[test]
fn rejects_p521_coordinates_with_leading_zeros_stripped() {
    let t = format!(
        r#"{{"kty":"EC","crv":"P-521","x":"{}","y":"{}"}}"#,
        b64(&[1; 65]),
        b64(&[1; 66])
    );
    assert_eq!(
        err(&t),
        JwkError::CoordinateLength {
            member: "x",
            expected: 66,
            actual: 65
        }
    );
}

#[test]
fn rejects_okp_keys_of_the_wrong_length() {
    let t = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#, b64(&[9; 31]));
    assert_eq!(
        err(&t),
        JwkError::CoordinateLength {
            member: "x",
            expected: 32,
            actual: 31
        }
    );
    let t = format!(r#"{{"kty":"OKP","crv":"Ed448","x":"{}"}}"#, b64(&[9; 32]));
    assert_eq!(
        err(&t),
        JwkError::CoordinateLength {
            member: "x",
            expected: 57,
            actual: 32
        }
    );
}

// --- kty / crv -----------------------------------------------------------------------------

#[test]
fn rejects_unknown_kty() {
    for kty in ["ec", "Rsa", "FOO", "", "EC "] {
        assert_eq!(
            err(&format!(
                r#"{{"kty":"{kty}","crv":"P-256","x":"{X}","y":"{Y}"}}"#
            )),
            JwkError::UnknownKeyType
        );
    }
}

#[test]
fn rejects_symmetric_keys() {
    assert_eq!(
        err(r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODw"}"#),
        JwkError::SymmetricKey
    );
}

#[test]
fn rejects_crv_that_belongs_to_another_kty() {
    let t = format!(r#"{{"kty":"EC","crv":"Ed25519","x":"{X}","y":"{Y}"}}"#);
    assert_eq!(
        err(&t),
        JwkError::CurveMismatch {
            kty: "EC",
            crv: "Ed25519"
        }
    );
    let t = format!(r#"{{"kty":"OKP","crv":"P-256","x":"{X}"}}"#);
    assert_eq!(
        err(&t),
        JwkError::CurveMismatch {
            kty: "OKP",
            crv: "P-256"
        }
    );
}

#[test]
fn rejects_unregistered_curves() {
    for crv in ["P-257", "secp256k1", "p-256", "P256"] {
        let t = format!(r#"{{"kty":"EC","crv":"{crv}","x":"{X}","y":"{Y}"}}"#);
        assert_eq!(err(&t), JwkError::UnknownCurve { kty: "EC" }, "{crv}");
    }
    let t = format!(r#"{{"kty":"OKP","crv":"Ed25519ph","x":"{ED25519_X}"}}"#);
    assert_eq!(err(&t), JwkError::UnknownCurve { kty: "OKP" });
}

#[test]
fn recognizes_ed448_x25519_x448_and_reports_them_unsupported_for_ed25519() {
    for (crv, curve, len) in [
        ("Ed448", OkpCurve::Ed448, 57),
        ("X25519", OkpCurve::X25519, 32),
        ("X448", OkpCurve::X448, 56),
    ] {
        let t = format!(
            r#"{{"kty":"OKP","crv":"{crv}","x":"{}"}}"#,
            b64(&vec![5u8; len])
        );
        let jwk = Jwk::parse(t.as_bytes()).unwrap();
        assert!(matches!(jwk.params(), PublicParams::Okp { crv, .. } if *crv == curve));
        let _ = jwk.thumbprint();
        #[cfg(feature = "ed25519")]
        assert_eq!(
            jwk.to_ed25519().unwrap_err(),
            JwkError::UnsupportedCurve { crv: curve.name() }
        );
    }
}

#[test]
fn accepts_escaped_kty_and_crv_with_the_same_thumbprint() {
    let t = format!(r#"{{"\u006bty":"\u0045C","crv":"P-\u0032\u0035\u0036","x":"{X}","y":"{Y}"}}"#);
    assert_eq!(
        Jwk::parse(t.as_bytes()).unwrap().thumbprint().to_string(),
        JKT
    );
}

// --- base64url -----------------------------------------------------------------------------

#[test]
fn rejects_padding() {
    let padded = format!("{}=", b64(&[1u8; 32]));
    assert_eq!(err(&ec(&padded, Y)), JwkError::Base64 { member: "x" });
    assert_eq!(err(&rsa(N, "AQAB==")), JwkError::Base64 { member: "e" });
}

#[test]
fn rejects_non_canonical_trailing_bits() {
    // 43 characters carry 258 bits; X ends in 's' (44 = 0b101100): flipping the low bits
    // gives 't' (45), which decodes to the same 32 bytes but is not canonical.
    let bad = format!("{}t", &X[..42]);
    assert_eq!(err(&ec(&bad, Y)), JwkError::Base64 { member: "x" });
    // "AQAB" -> "AQAC" would change the value; "AQE" vs "AQF": 2 bytes, 2 trailing bits.
    assert_eq!(err(&rsa(N, "AQF")), JwkError::Base64 { member: "e" });
    assert!(B64::new("AQF").is_none());
    assert!(B64::new("AQE").is_some());
}

#[test]
fn rejects_standard_alphabet_whitespace_and_bad_lengths() {
    assert_eq!(
        err(&ec(&X.replace('-', "+"), Y)),
        JwkError::Base64 { member: "x" }
    );
    assert_eq!(
        err(&ec(X, &Y.replace('_', "/"))),
        JwkError::Base64 { member: "y" }
    );
    assert_eq!(
        err(&ec(&format!("{} {}", &X[..20], &X[20..]), Y)),
        JwkError::Base64 { member: "x" }
    );
    assert_eq!(err(&rsa(N, "AQABA")), JwkError::Base64 { member: "e" });
}

#[test]
fn rejects_base64url_members_that_are_not_base64url_after_unescaping() {
    // `\/` and `\u002f` unescape to `/`, outside the base64url alphabet (RFC 4648 §5).
    for escaped in [format!("\\/{}", &X[1..]), format!("\\u002f{}", &X[1..])] {
        assert_eq!(err(&ec(&escaped, Y)), JwkError::Base64 { member: "x" });
    }
}

// --- RSA integers --------------------------------------------------------------------------

#[test]
fn rejects_rsa_modulus_with_a_leading_zero_octet() {
    // RFC 7518 §2: a Base64urlUInt "MUST utilize the minimum number of octets needed to
    // represent the value". A leading zero octet is refused, not stripped: two spellings
    // of one key would have two RFC 7638 thumbprints.
    let mut n = vec![0u8];
    n.extend(Base64UrlUnpadded::decode_vec(N).unwrap());
    assert_eq!(
        err(&rsa(&b64(&n), "AQAB")),
        JwkError::NonMinimalInteger { member: "n" }
    );
}

#[test]
fn rejects_rsa_exponent_with_a_leading_zero_octet() {
    assert_eq!(
        err(&rsa(N, "AAEAAQ")),
        JwkError::NonMinimalInteger { member: "e" }
    );
}

#[test]
fn rejects_rsa_exponent_one_even_or_oversized() {
    assert_eq!(err(&rsa(N, "AQ")), JwkError::InvalidRsaExponent); // e = 1
    assert_eq!(err(&rsa(N, "Ag")), JwkError::InvalidRsaExponent); // e = 2
    assert_eq!(err(&rsa(N, "AA")), JwkError::InvalidRsaExponent); // e = 0
    assert_eq!(err(&rsa(N, "")), JwkError::InvalidRsaExponent);
    assert_eq!(err(&rsa(N, &b64(&[1u8; 9]))), JwkError::InvalidRsaExponent);
    assert!(Jwk::parse(rsa(N, "Aw").as_bytes()).is_ok()); // e = 3
    assert!(Jwk::parse(rsa(N, &b64(&[0x81u8; 8])).as_bytes()).is_ok());
}

#[test]
fn rejects_zero_even_or_oversized_rsa_modulus() {
    assert_eq!(err(&rsa("AA", "AQAB")), JwkError::InvalidRsaModulus);
    assert_eq!(err(&rsa("", "AQAB")), JwkError::InvalidRsaModulus);
    let mut even = Base64UrlUnpadded::decode_vec(N).unwrap();
    *even.last_mut().unwrap() &= 0xFE;
    assert_eq!(err(&rsa(&b64(&even), "AQAB")), JwkError::InvalidRsaModulus);
    let mut big = vec![0xFFu8; 1025];
    big[0] = 1;
    assert_eq!(err(&rsa(&b64(&big), "AQAB")), JwkError::InvalidRsaModulus);
    let max = vec![0xFFu8; 1024];
    let jwk_text = rsa(&b64(&max), "AQAB");
    assert_eq!(
        Jwk::parse(jwk_text.as_bytes()).unwrap().rsa_modulus_bits(),
        Some(8192)
    );
}

#[test]
fn reports_rsa_modulus_bits_exactly() {
    let mut n = vec![0xFFu8; 256];
    n[0] = 0x01;
    let t = rsa(&b64(&n), "AQAB");
    assert_eq!(
        Jwk::parse(t.as_bytes()).unwrap().rsa_modulus_bits(),
        Some(2041)
    );
    assert_eq!(
        Jwk::parse(ec(X, Y).as_bytes()).unwrap().rsa_modulus_bits(),
        None
    );
}

// --- JSON-level refusals -------------------------------------------------------------------

#[test]
fn rejects_one_megabyte_strings() {
    let huge = "A".repeat(1 << 20);
    assert!(matches!(
        err(&ec(&huge, Y)),
        JwkError::Json(JsonError::TooLarge { .. })
    ));
    // Under raised JSON limits the member's own cap applies.
    let text = rsa(&huge, "AQAB");
    let obj = Object::parse_with(
        text.as_bytes(),
        &Limits {
            max_len: 2 << 20,
            ..Limits::default()
        },
    )
    .unwrap();
    assert!(matches!(
        Jwk::from_object(obj),
        Err(JwkError::CoordinateLength { member: "n", .. })
    ));
    let text = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"{huge}"}}"#);
    assert!(matches!(
        err(&text),
        JwkError::Json(JsonError::TooLarge { .. })
    ));
}

#[test]
fn rejects_deep_nesting() {
    let text = format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","z":{}{}}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    assert!(matches!(
        err(&text),
        JwkError::Json(JsonError::TooDeep { max: 16, .. })
    ));
}

#[test]
fn rejects_duplicate_members() {
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kty":"EC"}}"#);
    assert!(matches!(
        err(&t),
        JwkError::Json(JsonError::DuplicateMember { .. })
    ));
    // A second x that would change the thumbprint.
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","\u0078":"{Y}"}}"#);
    assert!(matches!(
        err(&t),
        JwkError::Json(JsonError::DuplicateMember { .. })
    ));
}

#[test]
fn rejects_duplicates_of_unknown_members() {
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","ext":1,"ext":1}}"#);
    assert!(matches!(
        err(&t),
        JwkError::Json(JsonError::DuplicateMember { .. })
    ));
}

#[test]
fn rejects_duplicates_inside_nested_objects() {
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","ext":{{"a":1,"a":2}}}}"#);
    assert!(matches!(
        err(&t),
        JwkError::Json(JsonError::DuplicateMember { .. })
    ));
}

#[test]
fn rejects_trailing_data() {
    assert!(matches!(
        err(&format!("{} {{}}", ec(X, Y))),
        JwkError::Json(JsonError::TrailingData { .. })
    ));
}

#[test]
fn rejects_lone_surrogates() {
    let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","kid":"\udead"}}"#);
    assert!(matches!(
        err(&t),
        JwkError::Json(JsonError::LoneSurrogate { .. })
    ));
}

// --- private members -----------------------------------------------------------------------

#[test]
fn refuses_private_members_where_a_public_key_is_required_but_thumbprints_them() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        let value = if member == "oth" {
            r#"[{"r":"AQ","d":"AQ","t":"AQ"}]"#
        } else {
            r#""AQAB""#
        };
        let t = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","{member}":{value}}}"#);
        let jwk = Jwk::parse(t.as_bytes()).unwrap();
        assert!(jwk.is_private(), "{member}");
        assert_eq!(jwk.private_member(), Some(member));
        assert_eq!(jwk.require_public(), Err(JwkError::PrivateKey { member }));
        assert_eq!(jwk.thumbprint().to_string(), JKT, "{member}");
    }
}

#[test]
fn refuses_private_rsa_key_and_names_the_first_private_member() {
    let t = format!(r#"{{"kty":"RSA","n":"{N}","e":"AQAB","qi":"AQ","d":"AQ"}}"#);
    assert_eq!(
        Jwk::parse(t.as_bytes()).unwrap().require_public(),
        Err(JwkError::PrivateKey { member: "qi" })
    );
    let escaped = format!(r#"{{"kty":"RSA","n":"{N}","e":"AQAB","\u0064":"AQ"}}"#);
    assert_eq!(
        Jwk::parse(escaped.as_bytes()).unwrap().require_public(),
        Err(JwkError::PrivateKey { member: "d" })
    );
}

// --- conversions ---------------------------------------------------------------------------

#[test]
fn refuses_point_not_on_the_curve() {
    let mut y = Base64UrlUnpadded::decode_vec(Y).unwrap();
    y[31] ^= 1;
    let t = ec(X, &b64(&y));
    let off_curve = JwkError::InvalidPoint {
        crv: "P-256",
        member: "y",
        fault: PointFault::NotOnCurve,
    };
    let jwk = Jwk::parse(t.as_bytes()).unwrap();
    assert_eq!(jwk.check_key(), Err(off_curve));
    #[cfg(feature = "p256")]
    assert_eq!(jwk.to_p256().unwrap_err(), off_curve);
}

#[cfg(all(
    feature = "p256",
    feature = "p384",
    feature = "rsa",
    feature = "ed25519"
))]
#[test]
fn conversions_name_the_key_type_they_need() {
    let ec_key = ec(X, Y);
    let ec_jwk = Jwk::parse(ec_key.as_bytes()).unwrap();
    assert_eq!(
        ec_jwk.to_p384().unwrap_err(),
        JwkError::UnsupportedCurve { crv: "P-256" }
    );
    assert_eq!(
        ec_jwk.to_rsa().unwrap_err(),
        JwkError::WrongKeyType {
            expected: "RSA",
            found: "EC P-256"
        }
    );
    assert_eq!(
        ec_jwk.to_ed25519().unwrap_err(),
        JwkError::WrongKeyType {
            expected: "OKP Ed25519",
            found: "EC P-256"
        }
    );
    let rsa_key = rsa(N, "AQAB");
    let rsa_jwk = Jwk::parse(rsa_key.as_bytes()).unwrap();
    assert_eq!(
        rsa_jwk.to_p256().unwrap_err(),
        JwkError::WrongKeyType {
            expected: "EC P-256",
            found: "RSA"
        }
    );
    assert!(rsa_jwk.to_rsa().is_ok());
}

#[cfg(feature = "p384")]
#[test]
fn converts_p384_generator_point() {
    let gx = "aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7";
    let gy = "3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f";
    let hex = |s: &str| {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect::<Vec<_>>()
    };
    let t = format!(
        r#"{{"kty":"EC","crv":"P-384","x":"{}","y":"{}"}}"#,
        b64(&hex(gx)),
        b64(&hex(gy))
    );
    assert!(Jwk::parse(t.as_bytes()).unwrap().to_p384().is_ok());
}

#[cfg(feature = "rsa")]
#[test]
fn to_rsa_applies_the_rsa_crate_size_floor() {
    let mut n = vec![0xC3u8; 64]; // 512 bits, odd
    n[63] |= 1;
    let t = rsa(&b64(&n), "AQAB");
    let jwk = Jwk::parse(t.as_bytes()).unwrap();
    assert_eq!(jwk.rsa_modulus_bits(), Some(512));
    assert_eq!(jwk.to_rsa().unwrap_err(), JwkError::InvalidKey);
}

#[test]
fn refuses_small_order_ed25519_key() {
    // The identity point (y = 1) has order 1: R = identity, S = 0 verifies every message.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let t = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        b64(&identity)
    );
    let weak = JwkError::InvalidPoint {
        crv: "Ed25519",
        member: "x",
        fault: PointFault::SmallOrder { order: 1 },
    };
    let jwk = Jwk::parse(t.as_bytes()).unwrap();
    assert_eq!(jwk.check_key(), Err(weak));
    assert_eq!(jwk.check_key_without_decompression(), Err(weak));
    #[cfg(feature = "ed25519")]
    assert_eq!(jwk.to_ed25519().unwrap_err(), weak);
}

// --- B64 and URIs --------------------------------------------------------------------------

#[test]
fn b64_decodes_into_caller_buffers() {
    let v = B64::new(X).unwrap();
    assert_eq!(v.decoded_len(), 32);
    let mut small = [0u8; 31];
    assert_eq!(
        v.decode_into(&mut small).unwrap_err(),
        JwkError::BufferTooSmall { needed: 32 }
    );
    let mut buf = [0u8; 40];
    assert_eq!(
        v.decode_into(&mut buf).unwrap(),
        Base64UrlUnpadded::decode_vec(X).unwrap()
    );
    #[cfg(feature = "alloc")]
    assert_eq!(v.to_vec(), Base64UrlUnpadded::decode_vec(X).unwrap());
    assert_eq!(B64::new("").unwrap().decoded_len(), 0);
    assert_eq!(B64::new("AQ").unwrap().decoded_len(), 1);
    assert_eq!(B64::new("AQE").unwrap().decoded_len(), 2);
}

#[test]
fn thumbprint_uri_refusals() {
    let ok = format!("urn:ietf:params:oauth:jwk-thumbprint:sha-256:{JKT}");
    assert!(uri::parse(&ok).is_ok());
    assert!(
        uri::parse(&format!(
            "URN:IETF:params:oauth:jwk-thumbprint:sha-256:{JKT}"
        ))
        .is_ok()
    );
    assert_eq!(
        uri::parse(&format!(
            "urn:ietf:params:oauth:jwk-thumbprint:sha-384:{JKT}"
        )),
        Err(uri::UriError::UnsupportedHash)
    );
    assert_eq!(
        uri::parse(&format!(
            "urn:ietf:params:oauth:jwk-thumbprnt:sha-256:{JKT}"
        )),
        Err(uri::UriError::NotThumbprintUri)
    );
    assert_eq!(uri::parse(JKT), Err(uri::UriError::NotThumbprintUri));
    assert_eq!(uri::parse("urn:é"), Err(uri::UriError::NotThumbprintUri));
    assert!(matches!(
        uri::parse(&format!("{ok}=")),
        Err(uri::UriError::Thumbprint(_))
    ));
}

#[test]
fn error_messages_carry_context() {
    assert_eq!(
        err(&ec(&b64(&[1u8; 31]), Y)).to_string(),
        "JWK member `x` decodes to 31 bytes, 32 required"
    );
    assert_eq!(
        JwkError::PrivateKey { member: "d" }.to_string(),
        "JWK carries the private member `d` where a public key is required"
    );
    let e = err("{} x");
    assert!(core::error::Error::source(&e).is_some());
}
