//! Property tests: the RFC 7638 thumbprint ignores member order, whitespace, escapes in names
//! and in values, and extra members; parsing never panics.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use base64ct::{Base64UrlUnpadded, Encoding};
use keybound_jwk::{B64, Jwk, is_canonical_b64url};
use proptest::prelude::*;

/// (required members, expected thumbprint): RFC 9449, RFC 7638 and RFC 8037 keys.
fn keys() -> Vec<(Vec<(&'static str, &'static str)>, &'static str)> {
    vec![
        (
            vec![
                ("kty", "EC"),
                ("crv", "P-256"),
                ("x", "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs"),
                ("y", "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"),
            ],
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
        ),
        (
            vec![
                ("kty", "RSA"),
                (
                    "n",
                    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
                ),
                ("e", "AQAB"),
            ],
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
        ),
        (
            vec![
                ("kty", "OKP"),
                ("crv", "Ed25519"),
                ("x", "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"),
            ],
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        ),
    ]
}

const EXTRA: [(&str, &str); 6] = [
    ("kid", r#""key-1""#),
    ("alg", r#""ES256""#),
    ("use", r#""sig""#),
    ("x-ext", r#"{"nested":[1,2,{"a":null}]}"#),
    ("key_ops", r#"["verify"]"#),
    ("d", r#""private-part-is-not-hashed""#),
];

fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", " ", "\n", "\t", "\r\n", "  \n\t "])
}

/// Writes a member name, escaping its first character as `\u00XX` when asked.
fn name(n: &str, escape: bool) -> String {
    if escape {
        let mut chars = n.chars();
        let first = chars.next().unwrap();
        format!("\"\\u{:04x}{}\"", first as u32, chars.as_str())
    } else {
        format!("\"{n}\"")
    }
}

/// Writes a member value, each character plain or as `\u00xx` / `\u00XX` by `styles` (cycled).
fn value(v: &str, styles: &[u8]) -> String {
    let body: String = v
        .chars()
        .zip(styles.iter().cycle())
        .map(|(c, style)| match style % 4 {
            1 => format!("\\u{:04x}", c as u32),
            2 => format!("\\u{:04X}", c as u32),
            _ => c.to_string(),
        })
        .collect();
    format!("\"{body}\"")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn thumbprint_is_invariant_under_order_whitespace_and_extra_members(
        which in 0usize..3,
        extras in prop::sample::subsequence(EXTRA.to_vec(), 0..=EXTRA.len()),
        order in any::<prop::sample::Index>(),
        seps in prop::collection::vec(ws(), 64),
        escapes in prop::collection::vec(any::<bool>(), 16),
        value_styles in prop::collection::vec(any::<u8>(), 1..48),
    ) {
        let (required, expected) = &keys()[which];
        let mut members: Vec<(String, String)> = required
            .iter()
            .map(|(k, v)| ((*k).to_owned(), value(v, &value_styles)))
            .chain(extras.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())))
            .collect();
        // A random permutation, from one random index (Lehmer-style).
        let mut seed = order.index(usize::MAX);
        for i in (1..members.len()).rev() {
            members.swap(i, seed % (i + 1));
            seed /= i + 1;
        }
        let mut s = seps.iter().cycle();
        let mut text = format!("{}{{", s.next().unwrap());
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&format!("{}{}{}:{}{}{}", s.next().unwrap(), name(k, escapes[i % 16]), s.next().unwrap(), s.next().unwrap(), v, s.next().unwrap()));
        }
        text.push('}');
        text.push_str(s.next().unwrap());
        let jwk = Jwk::parse(text.as_bytes()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
        prop_assert_eq!(jwk.thumbprint().to_string(), *expected);
        let plain: Vec<String> = required.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
        let plain = format!("{{{}}}", plain.join(","));
        prop_assert!(jwk == Jwk::parse(plain.as_bytes()).unwrap(), "{}", text);
        let mut canonical = String::new();
        jwk.write_thumbprint_input(&mut canonical).unwrap();
        prop_assert!(!canonical.contains('\\'), "{}", canonical);
        prop_assert_eq!(jwk.is_private(), extras.iter().any(|(k, _)| *k == "d"));
    }

    #[test]
    fn parse_never_panics_on_bytes(input in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(jwk) = Jwk::parse(&input) {
            let _ = (jwk.thumbprint(), jwk.rsa_modulus_bits(), jwk.require_public(), jwk.check_key());
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_keys(which in 0usize..3, edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let (required, _) = &keys()[which];
        let members: Vec<String> = required.iter().map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
        let mut text = format!("{{{}}}", members.join(",")).into_bytes();
        for (at, byte) in edits {
            let i = at.index(text.len());
            match byte % 3 {
                0 => text[i] = byte,
                1 => { text.remove(i); }
                _ => text.insert(i, byte),
            }
        }
        if let Ok(jwk) = Jwk::parse(&text) {
            let _ = (jwk.thumbprint(), jwk.rsa_modulus_bits());
            // The cheap layer's refusals are the full check's too.
            if let Err(e) = jwk.check_key_without_decompression() {
                prop_assert_eq!(jwk.check_key(), Err(e));
            }
            #[cfg(feature = "p256")]
            let _ = jwk.to_p256();
            #[cfg(feature = "rsa")]
            let _ = jwk.to_rsa();
            #[cfg(feature = "ed25519")]
            let _ = jwk.to_ed25519();
        }
    }

    #[test]
    fn fast_base64url_check_agrees_with_base64ct(s in "[A-Za-z0-9_\\-+/= .]{0,12}") {
        let ours = is_canonical_b64url(&s);
        let theirs = Base64UrlUnpadded::decode_vec(&s);
        prop_assert_eq!(ours, theirs.is_ok(), "{:?}", s);
        if let Ok(bytes) = theirs {
            let b = B64::new(&s).unwrap();
            prop_assert_eq!(b.decoded_len(), bytes.len());
            let mut buf = [0u8; 16];
            prop_assert_eq!(b.decode_into(&mut buf).unwrap(), &bytes[..]);
            prop_assert_eq!(Base64UrlUnpadded::encode_string(&bytes), s);
        }
    }
}
