//! JSON escapes in member values (RFC 8259 §7): a value written with `\u` escapes is the same
//! key as its plain spelling, with the same RFC 7638 thumbprint (§3.3 hashes the unescaped
//! values), and the unescaped value must meet every rule the plain one must.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64ct::{Base64UrlUnpadded, Encoding};
use keybound_jwk::{B64, Jwk, JwkError, PublicParams};

// RFC 9449 example key (P-256) and its thumbprint.
const X: &str = "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs";
const Y: &str = "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA";
const JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
// RFC 7638 §3.1 example.
const N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const RSA_JKT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
// RFC 8037 A.2 / A.3.
const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
const ED_JKT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

/// Every character as `\u00xx` (lower-case hex).
fn escape_all(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

/// The character at `i` written as `esc`.
fn escape_at(s: &str, i: usize, esc: &str) -> String {
    format!("{}{esc}{}", &s[..i], &s[i + 1..])
}

fn ec(kty: &str, crv: &str, x: &str, y: &str) -> String {
    format!(r#"{{"kty":"{kty}","crv":"{crv}","x":"{x}","y":"{y}"}}"#)
}

fn rsa(n: &str, e: &str) -> String {
    format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}"}}"#)
}

fn okp(crv: &str, x: &str) -> String {
    format!(r#"{{"kty":"OKP","crv":"{crv}","x":"{x}"}}"#)
}

fn parse(text: &str) -> Jwk<'_> {
    Jwk::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn err(text: &str) -> JwkError {
    Jwk::parse(text.as_bytes()).expect_err("must be refused")
}

fn canonical(jwk: &Jwk<'_>) -> String {
    let mut s = String::new();
    jwk.write_thumbprint_input(&mut s).unwrap();
    s
}

/// `\uXXXX` escapes of the character at `i`, checked to stand for that character.
fn same_char_escape(s: &str, i: usize, esc: &str) -> String {
    let c = u32::from_str_radix(&esc[2..], 16).unwrap();
    assert_eq!(
        u32::from(s.as_bytes()[i]),
        c,
        "{esc} does not stand for {s}[{i}]"
    );
    escape_at(s, i, esc)
}

/// Same key as `plain`: equal `Jwk`, thumbprint, canonical JSON, decoded members.
fn assert_same_key(escaped: &str, plain: &str, jkt: &str) {
    let (e, p) = (parse(escaped), parse(plain));
    assert_eq!(e.thumbprint().to_string(), jkt, "{escaped}");
    assert_eq!(e, p, "{escaped}");
    assert_eq!(canonical(&e), canonical(&p));
    assert_eq!(e.rsa_modulus_bits(), p.rsa_modulus_bits());
    assert_eq!(e.check_key(), p.check_key());
}

#[test]
fn accepts_escaped_kty_with_the_same_thumbprint() {
    let plain = ec("EC", "P-256", X, Y);
    for kty in [r"\u0045C", r"E\u0043", r"\u0045\u0043"] {
        assert_same_key(&ec(kty, "P-256", X, Y), &plain, JKT);
    }
    assert_same_key(
        &rsa(N, "AQAB").replace("\"RSA\"", r#""\u0052SA""#),
        &rsa(N, "AQAB"),
        RSA_JKT,
    );
    assert_same_key(
        &okp("Ed25519", ED_X).replace("\"OKP\"", r#""OK\u0050""#),
        &okp("Ed25519", ED_X),
        ED_JKT,
    );
}

#[test]
fn accepts_escaped_crv_with_the_same_thumbprint() {
    let plain = ec("EC", "P-256", X, Y);
    for crv in [r"P-\u0032\u0035\u0036", r"\u0050\u002d256", r"P\u002D256"] {
        assert_same_key(&ec("EC", crv, X, Y), &plain, JKT);
    }
    assert_same_key(
        &okp(r"Ed\u0032\u00355\u0031\u0039", ED_X),
        &okp("Ed25519", ED_X),
        ED_JKT,
    );
}

#[test]
fn accepts_escaped_x_and_y_with_the_same_thumbprint() {
    let plain = ec("EC", "P-256", X, Y);
    // One character, lower- and upper-case hex; `-` and `_` escaped; everything escaped.
    let cases = [
        ec("EC", "P-256", &same_char_escape(X, 0, r"\u006c"), Y),
        ec("EC", "P-256", &same_char_escape(X, 0, r"\u006C"), Y),
        ec("EC", "P-256", &same_char_escape(X, 7, r"\u002d"), Y),
        ec("EC", "P-256", X, &same_char_escape(Y, 6, r"\u005f")),
        ec(
            "EC",
            "P-256",
            X,
            &same_char_escape(Y, Y.len() - 1, r"\u0041"),
        ),
        ec("EC", "P-256", &escape_all(X), &escape_all(Y)),
    ];
    for case in &cases {
        assert_same_key(case, &plain, JKT);
    }
    assert_same_key(
        &okp("Ed25519", &same_char_escape(ED_X, 20, r"\u004f")),
        &okp("Ed25519", ED_X),
        ED_JKT,
    );
    assert_same_key(
        &okp("Ed25519", &escape_all(ED_X)),
        &okp("Ed25519", ED_X),
        ED_JKT,
    );
}

#[test]
fn accepts_escaped_n_and_e_with_the_same_thumbprint() {
    let plain = rsa(N, "AQAB");
    for (n, e) in [
        (N.to_owned(), r"\u0041QAB".to_owned()),
        (N.to_owned(), escape_all("AQAB")),
        (same_char_escape(N, 0, r"\u0030"), "AQAB".to_owned()),
        (
            same_char_escape(N, N.len() - 1, r"\u0077"),
            "AQAB".to_owned(),
        ),
        // 342 characters, each escaped: 2052 bytes of JSON hashed in 64-byte chunks.
        (escape_all(N), escape_all("AQAB")),
    ] {
        assert_same_key(&rsa(&n, &e), &plain, RSA_JKT);
    }
}

#[test]
fn rfc7638_vector_holds_for_the_escaped_spelling() {
    let escaped = rsa(&escape_all(N), r"\u0041\u0051\u0041\u0042");
    let jwk = parse(&escaped);
    assert_eq!(jwk.thumbprint().to_string(), RSA_JKT);
    assert_eq!(
        canonical(&jwk),
        format!(r#"{{"e":"AQAB","kty":"RSA","n":"{N}"}}"#)
    );
}

#[test]
fn escaped_members_decode_to_the_same_bytes() {
    let (escaped, plain) = (
        ec(
            "EC",
            "P-256",
            &escape_all(X),
            &same_char_escape(Y, 3, r"\u0034"),
        ),
        ec("EC", "P-256", X, Y),
    );
    let (e, p) = (parse(&escaped), parse(&plain));
    let (PublicParams::Ec { x: ex, y: ey, .. }, PublicParams::Ec { x: px, y: py, .. }) =
        (e.params(), p.params())
    else {
        panic!("EC expected");
    };
    assert_eq!(ex.as_plain(), None);
    assert_eq!(px.as_plain(), Some(X));
    assert_eq!(ex.to_string(), X);
    assert_eq!(ey.to_string(), Y);
    assert_eq!(ex.chars().collect::<String>(), X);
    assert_eq!(ex.decoded_len(), 32);
    let decoded = |b: &B64<'_>| {
        let mut buf = [0u8; 32];
        b.decode_into(&mut buf).unwrap();
        buf
    };
    assert_eq!(decoded(ex), decoded(px));
    assert_eq!(decoded(ey), decoded(py));
    let mut small = [0u8; 31];
    assert_eq!(
        ex.decode_into(&mut small).unwrap_err(),
        JwkError::BufferTooSmall { needed: 32 }
    );
    assert_eq!(ex, px);
    assert_eq!(format!("{ex:?}"), format!("B64({X})"));
    #[cfg(feature = "p256")]
    assert_eq!(e.to_p256().unwrap(), p.to_p256().unwrap());
    #[cfg(feature = "rsa")]
    {
        let (escaped, plain) = (rsa(&escape_all(N), r"\u0041QAB"), rsa(N, "AQAB"));
        assert_eq!(
            parse(&escaped).to_rsa().unwrap(),
            parse(&plain).to_rsa().unwrap()
        );
    }
    #[cfg(feature = "ed25519")]
    assert_eq!(
        parse(&okp("Ed25519", &escape_all(ED_X)))
            .to_ed25519()
            .unwrap(),
        parse(&okp("Ed25519", ED_X)).to_ed25519().unwrap()
    );
}

#[test]
fn rejects_escapes_that_unescape_outside_the_base64url_alphabet() {
    // `/`, `+` (the standard alphabet), `=` (padding), whitespace, NUL, non-ASCII.
    for esc in [
        r"\/",
        r"\u002f",
        r"\u002b",
        r"\u003d",
        r"\n",
        r"\t",
        r"\u0000",
        r"\u00e9",
        r"\ud83d\ude00",
    ] {
        let x = escape_at(X, 5, esc);
        assert_eq!(
            err(&ec("EC", "P-256", &x, Y)),
            JwkError::Base64 { member: "x" },
            "{esc}"
        );
        let e = escape_at("AQAB", 1, esc);
        assert_eq!(err(&rsa(N, &e)), JwkError::Base64 { member: "e" }, "{esc}");
    }
    // Padding written as an escape at the end.
    assert_eq!(
        err(&rsa(N, r"AQ\u003d\u003d")),
        JwkError::Base64 { member: "e" }
    );
}

#[test]
fn rejects_escaped_base64url_with_non_canonical_trailing_bits() {
    // X ends in `s`; `t` decodes to the same bytes but is not canonical (RFC 7515 §2).
    let x = format!("{}\\u0074", &X[..42]);
    assert_eq!(
        err(&ec("EC", "P-256", &x, Y)),
        JwkError::Base64 { member: "x" }
    );
    // "AQF" is 2 bytes with non-zero trailing bits; "AQE" is fine.
    assert_eq!(err(&rsa(N, r"AQ\u0046")), JwkError::Base64 { member: "e" });
    assert_same_key(
        &rsa(N, r"AQ\u0045"),
        &rsa(N, "AQE"),
        &parse(&rsa(N, "AQE")).thumbprint().to_string(),
    );
}

#[test]
fn rejects_escaped_coordinates_of_the_wrong_length() {
    for (len, actual) in [(31, 31), (33, 33)] {
        let x = escape_all(&Base64UrlUnpadded::encode_string(&vec![7u8; len]));
        assert_eq!(
            err(&ec("EC", "P-256", &x, Y)),
            JwkError::CoordinateLength {
                member: "x",
                expected: 32,
                actual
            }
        );
    }
}

#[test]
fn rejects_escaped_integers_that_break_the_base64urluint_rules() {
    // A leading zero octet ("AAEAAQ" = 00 01 00 01) stays non-minimal when escaped.
    assert_eq!(
        err(&rsa(N, r"\u0041AEAAQ")),
        JwkError::NonMinimalInteger { member: "e" }
    );
    // An even exponent (AQAC = 01 00 02), escaped at the end.
    assert_eq!(err(&rsa(N, r"AQA\u0043")), JwkError::InvalidRsaExponent);
    // An even modulus: the last character of N, `w` (…0x83), made `A` (…0x80).
    assert_eq!(
        err(&rsa(&escape_at(N, N.len() - 1, r"\u0041"), "AQAB")),
        JwkError::InvalidRsaModulus
    );
}

#[test]
fn b64_from_json_applies_the_same_rules_as_b64_new() {
    use keybound_jwk::keybound_json::Object;
    for (raw, plain) in [
        (r"\u0041QAB", Some("AQAB")),
        (r"AQ\u0045", Some("AQE")),
        (r"AQ\u0046", None),
        (r"\u002f", None),
        (r"\u0041", None),
        ("", Some("")),
    ] {
        let text = format!(r#"{{"v":"{raw}"}}"#);
        let obj = Object::parse(text.as_bytes()).unwrap();
        let s = obj.get("v").unwrap().as_str().unwrap();
        let b = B64::from_json(s);
        assert_eq!(b.map(|b| b.to_string()), plain.map(str::to_owned), "{raw}");
        assert_eq!(b, plain.and_then(B64::new), "{raw}");
    }
}
