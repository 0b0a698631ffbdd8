//! `cnf` claim parsing and binding checks, from RFC 7800 / 8705 / 9449 examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_cnf::keybound_json::{JsonError, Object};
use keybound_cnf::{
    BindingError, CertThumbprint, CnfError, Confirmation, JwkThumbprint, ThumbprintError,
    UnknownMembers,
};

const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const OTHER_JKT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

fn vector(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cnf_of(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&v["cnf"]).unwrap()
}

#[test]
fn reads_rfc9449_figure_9_and_11_jkt() {
    let v = vector("rfc9449_dpop.json");
    for claims in [
        &v["cnf_jkt_access_token_fig8"]["decoded_payload_fig9"],
        &v["introspection_response_fig11"],
    ] {
        let cnf = Confirmation::parse(&cnf_of(claims)).unwrap();
        let jkt = JwkThumbprint::from_b64(v["dpop_jwk_thumbprint_jkt"].as_str().unwrap()).unwrap();
        assert_eq!(cnf.jkt(), Some(&jkt));
        assert_eq!(cnf.check_jkt(&jkt), Ok(()));
        assert_eq!(
            cnf.check_jkt(&JwkThumbprint::from_b64(OTHER_JKT).unwrap()),
            Err(BindingError::Mismatch)
        );
        assert_eq!(cnf.check_x5t_s256(None), Err(BindingError::WrongKind));
    }
}

#[test]
fn reads_cnf_from_a_parsed_claims_set() {
    let claims = br#"{"sub":"someone@example.com","cnf":{"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}"#;
    let obj = Object::parse(claims).unwrap();
    let cnf = Confirmation::from_object(obj.get("cnf").unwrap().as_object().unwrap()).unwrap();
    assert_eq!(cnf.jkt().unwrap().to_string(), JKT);
}

#[test]
fn refuses_rfc8705_example_because_it_is_not_canonical_base64url() {
    // RFC 8705 §3.1's `bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2` ends in '2' (0b110110):
    // its two trailing bits are not zero, so no SHA-256 value encodes to it. The RFC publishes
    // no certificate behind it; a real encoder never produces it. Strict decoding refuses it.
    let v = vector("rfc8705_cnf_x5t_s256.json");
    for claims in [
        &v["jwt_payload_example_sec3_1"],
        &v["introspection_example_sec3_2"],
    ] {
        assert_eq!(
            Confirmation::parse(&cnf_of(claims)),
            Err(CnfError::Thumbprint {
                member: "x5t#S256",
                error: ThumbprintError::Base64
            })
        );
    }
    // The canonical spelling of the same 32 bytes ('2' -> '0': trailing bits cleared) is accepted.
    let fixed = br#"{"x5t#S256":"bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg0"}"#;
    assert!(Confirmation::parse(fixed).unwrap().x5t_s256().is_some());
}

#[test]
fn checks_certificate_binding() {
    let tp = CertThumbprint::from_bytes([7; 32]);
    let cnf = Confirmation::from_x5t_s256(tp);
    assert_eq!(cnf.check_x5t_s256(Some(&tp)), Ok(()));
    assert_eq!(
        cnf.check_x5t_s256(Some(&CertThumbprint::from_bytes([8; 32]))),
        Err(BindingError::Mismatch)
    );
    assert_eq!(cnf.check_x5t_s256(None), Err(BindingError::NoCertificate));
    assert_eq!(
        cnf.check_jkt(&JwkThumbprint::from_bytes([7; 32])),
        Err(BindingError::WrongKind)
    );
}

#[test]
fn unbound_claim_is_reported_as_not_bound() {
    let cnf = Confirmation::parse(b"{}").unwrap();
    assert!(!cnf.is_bound() && cnf.is_empty());
    assert_eq!(
        cnf.check_jkt(&JwkThumbprint::from_bytes([0; 32])),
        Err(BindingError::NotBound)
    );
    assert_eq!(cnf.check_x5t_s256(None), Err(BindingError::NotBound));
}

#[test]
fn both_methods_may_be_present_and_are_checked_independently() {
    let text = format!(r#"{{"jkt":"{JKT}","x5t#S256":"{OTHER_JKT}"}}"#);
    let cnf = Confirmation::parse(text.as_bytes()).unwrap();
    assert_eq!(
        cnf.check_jkt(&JwkThumbprint::from_b64(JKT).unwrap()),
        Ok(())
    );
    assert_eq!(
        cnf.check_x5t_s256(Some(&CertThumbprint::from_b64(OTHER_JKT).unwrap())),
        Ok(())
    );
}

#[test]
fn records_rfc7800_methods_it_does_not_check() {
    let v = vector("rfc7800_cnf.json");
    let jwk = Confirmation::parse(&cnf_of(&v["cnf_jwk_sec3_2"])).unwrap();
    assert!(jwk.other_methods().jwk && !jwk.is_bound());
    let kid = Confirmation::parse(&cnf_of(&v["cnf_kid_sec3_4"])).unwrap();
    assert!(kid.other_methods().kid);
    let jku = Confirmation::parse(&cnf_of(&v["cnf_jku_sec3_5"])).unwrap();
    assert!(jku.other_methods().jku && jku.other_methods().kid);
    assert_eq!(
        jku.check_jkt(&JwkThumbprint::from_b64(JKT).unwrap()),
        Err(BindingError::UnsupportedMethod)
    );
}

/// `cnf` members keybound does not check, each alone in the claim (RFC 7800 §3.1).
const UNCHECKED_ONLY: [&str; 8] = [
    r#"{"osc":"https://op.example.com/osc"}"#,
    r#"{"x5t":"dGhpcyBpcyBhIFNIQS0xIHRodW1icHJpbnQ"}"#,
    r#"{"x5t#S512":"c29tZSBTSEEtNTEyIHRodW1icHJpbnQ"}"#,
    r#"{"x-unknown":{"any":["value"]}}"#,
    r#"{"jwk":{"kty":"EC","crv":"P-256"}}"#,
    r#"{"jwe":"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"}"#,
    r#"{"kid":"k1"}"#,
    r#"{"jku":"https://client.example.com/jwks"}"#,
];

#[test]
fn rejects_binding_checks_on_a_claim_with_only_unchecked_methods() {
    for text in UNCHECKED_ONLY {
        let cnf = Confirmation::parse(text.as_bytes()).unwrap();
        assert!(cnf.is_uncheckable(), "{text}");
        assert!(cnf.has_unchecked_methods(), "{text}");
        assert!(!cnf.is_empty() && !cnf.is_bound(), "{text}");
        assert_eq!(
            cnf.check_jkt(&JwkThumbprint::from_b64(JKT).unwrap()),
            Err(BindingError::UnsupportedMethod),
            "{text}"
        );
        assert_eq!(
            cnf.check_x5t_s256(Some(&CertThumbprint::from_bytes([7; 32]))),
            Err(BindingError::UnsupportedMethod),
            "{text}"
        );
        assert_eq!(
            cnf.check_x5t_s256(None),
            Err(BindingError::UnsupportedMethod),
            "{text}"
        );
    }
}

#[test]
fn accepts_checkable_method_beside_an_unknown_one_and_only_empty_claim_is_unbound() {
    for extra in [
        r#""osc":"https://op.example.com/osc""#,
        r#""x5t#S512":"c29tZSBTSEEtNTEyIHRodW1icHJpbnQ""#,
    ] {
        let text = format!(r#"{{"jkt":"{JKT}",{extra}}}"#);
        let cnf = Confirmation::parse(text.as_bytes()).unwrap();
        assert!(cnf.is_bound() && cnf.has_unchecked_methods(), "{text}");
        assert!(!cnf.is_uncheckable() && !cnf.is_empty(), "{text}");
        assert_eq!(
            cnf.check_jkt(&JwkThumbprint::from_b64(JKT).unwrap()),
            Ok(())
        );
        assert_eq!(
            cnf.check_jkt(&JwkThumbprint::from_b64(OTHER_JKT).unwrap()),
            Err(BindingError::Mismatch)
        );
    }
    for empty in [Confirmation::new(), Confirmation::parse(b"{}").unwrap()] {
        assert!(empty.is_empty() && !empty.is_uncheckable() && !empty.has_unchecked_methods());
    }
}

#[test]
fn ignores_unknown_members_by_default_and_rejects_them_on_request() {
    let text = format!(r#"{{"jkt":"{JKT}","x-ext":[1,2]}}"#);
    let cnf = Confirmation::parse(text.as_bytes()).unwrap();
    assert!(cnf.other_methods().unrecognized);
    assert_eq!(
        Confirmation::parse_with(text.as_bytes(), UnknownMembers::Reject),
        Err(CnfError::UnknownMember)
    );
    // Registered RFC 7800 members are not "unknown".
    let kid = format!(r#"{{"jkt":"{JKT}","kid":"k1"}}"#);
    assert!(Confirmation::parse_with(kid.as_bytes(), UnknownMembers::Reject).is_ok());
}

#[test]
fn rejects_more_than_one_key_method() {
    let text = br#"{"jwk":{"kty":"EC"},"jku":"https://example.com/jwks"}"#;
    assert_eq!(Confirmation::parse(text), Err(CnfError::ConflictingMethods));
}

#[test]
fn rejects_wrong_member_types() {
    assert_eq!(
        Confirmation::parse(br#"{"jkt":42}"#),
        Err(CnfError::WrongType {
            member: "jkt",
            expected: "string",
            found: "number"
        })
    );
    assert_eq!(
        Confirmation::parse(br#"{"x5t#S256":null}"#),
        Err(CnfError::WrongType {
            member: "x5t#S256",
            expected: "string",
            found: "null"
        })
    );
    assert_eq!(
        Confirmation::parse(br#"{"jwk":"x"}"#),
        Err(CnfError::WrongType {
            member: "jwk",
            expected: "object",
            found: "string"
        })
    );
}

#[test]
fn rejects_malformed_thumbprints() {
    assert_eq!(
        Confirmation::parse(br#"{"jkt":"abc"}"#),
        Err(CnfError::Thumbprint {
            member: "jkt",
            error: ThumbprintError::Length { actual: 3 }
        })
    );
    let padded = format!(r#"{{"jkt":"{JKT}="}}"#);
    assert_eq!(
        Confirmation::parse(padded.as_bytes()),
        Err(CnfError::Thumbprint {
            member: "jkt",
            error: ThumbprintError::Length { actual: 44 }
        })
    );
}

/// Every character as `\u00xx`.
fn escape_all(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

#[test]
fn accepts_escaped_jkt_and_x5t_s256_as_their_unescaped_values() {
    // RFC 8259 §7: `\u0030` is `0`, `\/` is `/`; the value is the unescaped string.
    let plain = format!(r#"{{"jkt":"{JKT}","x5t#S256":"{OTHER_JKT}"}}"#);
    let plain = Confirmation::parse(plain.as_bytes()).unwrap();
    for (jkt, x5t) in [
        (format!("\\u0030{}", &JKT[1..]), OTHER_JKT.to_owned()),
        (format!("{}\\u0049", &JKT[..42]), escape_all(OTHER_JKT)),
        (
            escape_all(JKT),
            format!("Nzb\\u004CsXh8{}", &OTHER_JKT[8..]),
        ),
    ] {
        let text = format!(r#"{{"jkt":"{jkt}","x5t#S256":"{x5t}"}}"#);
        let cnf = Confirmation::parse(text.as_bytes()).unwrap();
        assert_eq!(cnf.jkt(), plain.jkt(), "{text}");
        assert_eq!(cnf.x5t_s256(), plain.x5t_s256(), "{text}");
        assert_eq!(cnf.check_jkt(plain.jkt().unwrap()), Ok(()));
        assert_eq!(cnf.check_x5t_s256(plain.x5t_s256()), Ok(()));
    }
}

#[test]
fn rejects_escaped_thumbprints_that_are_not_base64url_after_unescaping() {
    let thumbprint_err = |member, error| Err(CnfError::Thumbprint { member, error });
    for (raw, error) in [
        // `/` and `+`: the standard alphabet, not base64url.
        (format!("\\/{}", &JKT[1..]), ThumbprintError::Base64),
        (format!("\\u002b{}", &JKT[1..]), ThumbprintError::Base64),
        // Padding and non-canonical trailing bits (`I` → `J`), written as escapes.
        (format!("{}\\u004a", &JKT[..42]), ThumbprintError::Base64),
        (
            format!("{JKT}\\u003d"),
            ThumbprintError::Length { actual: 44 },
        ),
        // Too short and too long once unescaped; a non-ASCII character counts its UTF-8 bytes.
        (
            escape_all(&JKT[..42]),
            ThumbprintError::Length { actual: 42 },
        ),
        (
            format!("{}\\u0041", escape_all(JKT)),
            ThumbprintError::Length { actual: 44 },
        ),
        (
            format!("{}\\u00e9", &JKT[..42]),
            ThumbprintError::Length { actual: 44 },
        ),
    ] {
        for member in ["jkt", "x5t#S256"] {
            let text = format!(r#"{{"{member}":"{raw}"}}"#);
            assert_eq!(
                Confirmation::parse(text.as_bytes()),
                thumbprint_err(member, error),
                "{text}"
            );
        }
    }
}

#[test]
fn rejects_duplicate_jkt_members() {
    let text = format!(r#"{{"jkt":"{JKT}","jkt":"{OTHER_JKT}"}}"#);
    assert_eq!(
        Confirmation::parse(text.as_bytes()),
        Err(CnfError::Json(JsonError::DuplicateMember { offset: 53 }))
    );
    let escaped = format!(r#"{{"jkt":"{JKT}","\u006akt":"{OTHER_JKT}"}}"#);
    assert!(matches!(
        Confirmation::parse(escaped.as_bytes()),
        Err(CnfError::Json(JsonError::DuplicateMember { .. }))
    ));
}

#[cfg(feature = "alloc")]
#[test]
fn writes_json_that_parses_back() {
    let cnf = Confirmation::from_jkt(JwkThumbprint::from_b64(JKT).unwrap())
        .with_x5t_s256(CertThumbprint::from_b64(OTHER_JKT).unwrap());
    let text = cnf.to_json_string();
    assert_eq!(
        text,
        format!(r#"{{"jkt":"{JKT}","x5t#S256":"{OTHER_JKT}"}}"#)
    );
    assert_eq!(Confirmation::parse(text.as_bytes()).unwrap(), cnf);
    assert_eq!(Confirmation::new().to_json_string(), "{}");
}

#[test]
fn error_messages_name_the_member() {
    let e = Confirmation::parse(br#"{"jkt":"abc"}"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cnf member `jkt`: SHA-256 thumbprint must be 43 base64url characters, got 3"
    );
    assert!(core::error::Error::source(&e).is_some());
    assert!(BindingError::NoCertificate.to_string().contains("x5t#S256"));
}

#[cfg(feature = "serde")]
#[test]
fn thumbprints_serialize_as_base64url_strings() {
    let tp = JwkThumbprint::from_b64(JKT).unwrap();
    let s = serde_json::to_string(&tp).unwrap();
    assert_eq!(s, format!("\"{JKT}\""));
    assert_eq!(serde_json::from_str::<JwkThumbprint>(&s).unwrap(), tp);
    assert!(serde_json::from_str::<CertThumbprint>("\"abc\"").is_err());
}
