//! Named cases for the response-header parsing: `WWW-Authenticate` (RFC 9110 §11),
//! `DPoP-Nonce` (RFC 9449 §8.1) and the `use_dpop_nonce` error body.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_client::header::{
    ChallengeError, MAX_CHALLENGES, MAX_FIELD_LEN, MAX_NONCE_LEN, MAX_PARAMS, NonceHeaderError,
    is_use_dpop_nonce_body, is_use_dpop_nonce_challenge, parse_challenges, parse_dpop_nonce,
};

fn one(field: &str) -> keybound_client::header::Challenge<'_> {
    let mut v = parse_challenges(field.as_bytes()).unwrap();
    assert_eq!(v.len(), 1, "{field}");
    v.remove(0)
}

// ------------------------------------------------------------ WWW-Authenticate: accepted

#[test]
fn accepts_keybound_rs_challenge() {
    let ch = one(
        r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 EdDSA""#,
    );
    assert_eq!(ch.scheme(), "DPoP");
    assert_eq!(ch.param_str("error"), Some("use_dpop_nonce"));
    assert_eq!(ch.param_str("algs"), Some("ES256 EdDSA"));
    assert_eq!(ch.params().count(), 3);
}

#[test]
fn accepts_case_insensitive_scheme_and_param_names() {
    let ch = one("dPoP ERROR=\"use_dpop_nonce\"");
    assert!(ch.is_scheme("DPoP"));
    assert_eq!(ch.param_str("error"), Some("use_dpop_nonce"));
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"dpop Error=use_dpop_nonce"]),
        Ok(true)
    );
}

#[test]
fn accepts_token_form_value() {
    let ch = one("DPoP error=use_dpop_nonce");
    assert_eq!(ch.param("error"), Some(&b"use_dpop_nonce"[..]));
}

#[test]
fn accepts_bws_around_equals() {
    let ch = one("DPoP error = \"use_dpop_nonce\" ,algs\t=\t\"ES256\"");
    assert_eq!(ch.param_str("error"), Some("use_dpop_nonce"));
    assert_eq!(ch.param_str("algs"), Some("ES256"));
}

#[test]
fn accepts_several_challenges_in_one_field() {
    let v = parse_challenges(
        br#"Bearer realm="example", error="invalid_token", DPoP algs="ES256", Basic realm="x""#,
    )
    .unwrap();
    let schemes: Vec<_> = v.iter().map(|c| c.scheme()).collect();
    assert_eq!(schemes, ["Bearer", "DPoP", "Basic"]);
    assert_eq!(v[0].param_str("error"), Some("invalid_token"));
    assert_eq!(v[1].param_str("algs"), Some("ES256"));
    assert_eq!(v[2].param_str("realm"), Some("x"));
}

#[test]
fn accepts_challenge_in_second_field() {
    let fields: [&[u8]; 2] = [b"Bearer realm=\"api\"", b"DPoP error=\"use_dpop_nonce\""];
    assert_eq!(is_use_dpop_nonce_challenge(&fields), Ok(true));
}

#[test]
fn accepts_bare_schemes_and_empty_list_elements() {
    let v = parse_challenges(b" , Bearer,, DPoP ,").unwrap();
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].params().count(), 0);
    assert_eq!(v[1].scheme(), "DPoP");
}

#[test]
fn accepts_token68() {
    let v = parse_challenges(b"Negotiate YIIBhg+/==, Basic realm=\"r\"").unwrap();
    assert_eq!(v[0].token68(), Some("YIIBhg+/=="));
    assert_eq!(v[0].params().count(), 0);
    assert_eq!(v[1].param_str("realm"), Some("r"));
}

#[test]
fn accepts_quoted_pairs_and_commas_in_quoted_strings() {
    let ch = one(r#"DPoP error_description="a \"quoted\", \\ text", error="use_dpop_nonce""#);
    assert_eq!(
        ch.param_str("error_description"),
        Some(r#"a "quoted", \ text"#)
    );
    assert_eq!(ch.param_str("error"), Some("use_dpop_nonce"));
}

#[test]
fn accepts_obs_text_in_quoted_string() {
    let v =
        parse_challenges(b"DPoP error_description=\"caf\xe9\", error=\"use_dpop_nonce\"").unwrap();
    assert_eq!(v[0].param("error_description"), Some(&b"caf\xe9"[..]));
    assert_eq!(v[0].param_str("error_description"), None);
}

#[test]
fn accepts_empty_field() {
    assert_eq!(parse_challenges(b"").unwrap().len(), 0);
    assert_eq!(is_use_dpop_nonce_challenge(&[]), Ok(false));
}

#[test]
fn round_trips_through_canonical_form() {
    let input = br#"Bearer realm="a\"b", dpop ERROR=use_dpop_nonce, algs="ES256", Negotiate abc=="#;
    let v = parse_challenges(input).unwrap();
    let mut out = Vec::new();
    for (i, c) in v.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        c.write_to(&mut out);
    }
    assert_eq!(
        out,
        br#"Bearer realm="a\"b", dpop ERROR="use_dpop_nonce", algs="ES256", Negotiate abc=="#
    );
    assert_eq!(parse_challenges(&out).unwrap(), v);
}

// ------------------------------------------------------------ WWW-Authenticate: not use_dpop_nonce

#[test]
fn other_error_is_not_use_dpop_nonce() {
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"DPoP error=\"invalid_dpop_proof\""]),
        Ok(false)
    );
}

#[test]
fn use_dpop_nonce_under_bearer_scheme_is_not_dpop() {
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"Bearer error=\"use_dpop_nonce\""]),
        Ok(false)
    );
}

#[test]
fn error_value_is_compared_exactly() {
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"DPoP error=\"USE_DPOP_NONCE\""]),
        Ok(false)
    );
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"DPoP error=\"use_dpop_nonce \""]),
        Ok(false)
    );
}

#[test]
fn use_dpop_nonce_inside_another_param_is_not_matched() {
    assert_eq!(
        is_use_dpop_nonce_challenge(&[b"DPoP error_description=\"error=use_dpop_nonce\""]),
        Ok(false)
    );
}

#[test]
fn malformed_field_is_skipped_when_another_matches() {
    let fields: [&[u8]; 2] = [b"DPoP error=\"unterminated", b"DPoP error=use_dpop_nonce"];
    assert_eq!(is_use_dpop_nonce_challenge(&fields), Ok(true));
    assert_eq!(
        is_use_dpop_nonce_challenge(&fields[..1]),
        Err(ChallengeError::UnterminatedQuote { offset: 11 })
    );
}

// ------------------------------------------------------------ WWW-Authenticate: rejected

#[test]
fn rejects_unterminated_quote() {
    assert_eq!(
        parse_challenges(b"DPoP error=\"use_dpop_nonce"),
        Err(ChallengeError::UnterminatedQuote { offset: 11 })
    );
    assert_eq!(
        parse_challenges(b"DPoP error=\"abc\\"),
        Err(ChallengeError::UnterminatedQuote { offset: 11 })
    );
}

#[test]
fn rejects_control_character_in_quoted_string() {
    assert_eq!(
        parse_challenges(b"DPoP error=\"a\x01b\""),
        Err(ChallengeError::InvalidQuotedChar { offset: 13 })
    );
    assert_eq!(
        parse_challenges(b"DPoP error=\"a\\\x7fb\""),
        Err(ChallengeError::InvalidQuotedChar { offset: 14 })
    );
}

#[test]
fn rejects_duplicate_param_case_insensitively() {
    assert_eq!(
        parse_challenges(b"DPoP error=a, ERROR=use_dpop_nonce"),
        Err(ChallengeError::DuplicateParam { offset: 14 })
    );
}

#[test]
fn rejects_param_before_any_challenge() {
    assert_eq!(
        parse_challenges(b"error=use_dpop_nonce"),
        Err(ChallengeError::StrayParam { offset: 0 })
    );
}

#[test]
fn rejects_param_after_token68() {
    assert_eq!(
        parse_challenges(b"Negotiate abc==, error=x"),
        Err(ChallengeError::StrayParam { offset: 17 })
    );
}

#[test]
fn rejects_missing_value() {
    // Right after the scheme, `error=` is a token68 (RFC 9110 §11.2), so `algs` is stray.
    assert_eq!(
        parse_challenges(b"DPoP error=, algs=x"),
        Err(ChallengeError::StrayParam { offset: 13 })
    );
    assert_eq!(
        parse_challenges(b"DPoP algs=x, error="),
        Err(ChallengeError::ExpectedValue { offset: 19 })
    );
}

#[test]
fn rejects_garbage_after_value() {
    assert_eq!(
        parse_challenges(b"DPoP error=\"a\"b"),
        Err(ChallengeError::ExpectedComma { offset: 14 })
    );
    assert_eq!(
        parse_challenges(b"DPoP\"x\""),
        Err(ChallengeError::ExpectedComma { offset: 4 })
    );
}

#[test]
fn rejects_non_token_scheme() {
    assert_eq!(
        parse_challenges(b"\"DPoP\" error=x"),
        Err(ChallengeError::ExpectedScheme { offset: 0 })
    );
    assert_eq!(
        parse_challenges(b"DPoP error=x, @"),
        Err(ChallengeError::ExpectedScheme { offset: 14 })
    );
}

#[test]
fn rejects_non_param_after_scheme() {
    assert_eq!(
        parse_challenges(b"DPoP @x"),
        Err(ChallengeError::ExpectedParam { offset: 5 })
    );
}

#[test]
fn rejects_field_over_cap() {
    let long = vec![b'a'; MAX_FIELD_LEN + 1];
    assert_eq!(
        parse_challenges(&long),
        Err(ChallengeError::TooLong {
            len: MAX_FIELD_LEN + 1,
            max: MAX_FIELD_LEN
        })
    );
}

#[test]
fn rejects_too_many_challenges() {
    let field = vec!["A"; MAX_CHALLENGES + 1].join(", ");
    assert_eq!(
        parse_challenges(field.as_bytes()),
        Err(ChallengeError::TooManyChallenges {
            max: MAX_CHALLENGES
        })
    );
}

#[test]
fn rejects_too_many_params() {
    let params: Vec<String> = (0..=MAX_PARAMS).map(|i| format!("p{i}=v")).collect();
    let field = format!("DPoP {}", params.join(", "));
    assert_eq!(
        parse_challenges(field.as_bytes()),
        Err(ChallengeError::TooManyParams { max: MAX_PARAMS })
    );
}

// ------------------------------------------------------------ DPoP-Nonce

#[test]
fn accepts_single_nqchar_nonce() {
    assert_eq!(
        parse_dpop_nonce(&[b"eyJ7S_zG.eyJH0-Z.HX4w-7v"]),
        Ok(Some("eyJ7S_zG.eyJH0-Z.HX4w-7v"))
    );
    // Every NQCHAR, including ',' (a nonce is one value, not a list).
    assert_eq!(parse_dpop_nonce(&[b"!#[]~,"]), Ok(Some("!#[]~,")));
}

#[test]
fn accepts_no_nonce_header() {
    assert_eq!(parse_dpop_nonce(&[]), Ok(None));
}

#[test]
fn trims_surrounding_whitespace_of_nonce() {
    assert_eq!(parse_dpop_nonce(&[b" \tabc\t "]), Ok(Some("abc")));
}

#[test]
fn rejects_two_nonce_values() {
    assert_eq!(
        parse_dpop_nonce(&[b"a", b"b"]),
        Err(NonceHeaderError::Multiple { count: 2 })
    );
}

#[test]
fn rejects_empty_nonce() {
    assert_eq!(parse_dpop_nonce(&[b""]), Err(NonceHeaderError::Empty));
    assert_eq!(parse_dpop_nonce(&[b"  "]), Err(NonceHeaderError::Empty));
}

#[test]
fn rejects_non_nqchar_nonce() {
    assert_eq!(
        parse_dpop_nonce(&[b"has space"]),
        Err(NonceHeaderError::InvalidChar { offset: 3 })
    );
    assert_eq!(
        parse_dpop_nonce(&[b"a\"b"]),
        Err(NonceHeaderError::InvalidChar { offset: 1 })
    );
    assert_eq!(
        parse_dpop_nonce(&[b"a\\b"]),
        Err(NonceHeaderError::InvalidChar { offset: 1 })
    );
    assert_eq!(
        parse_dpop_nonce(&[b"caf\xe9"]),
        Err(NonceHeaderError::InvalidChar { offset: 3 })
    );
    assert_eq!(
        parse_dpop_nonce(&[b"a\x7f"]),
        Err(NonceHeaderError::InvalidChar { offset: 1 })
    );
}

#[test]
fn rejects_nonce_over_cap() {
    let long = vec![b'n'; MAX_NONCE_LEN + 1];
    assert_eq!(
        parse_dpop_nonce(&[&long]),
        Err(NonceHeaderError::TooLong {
            len: MAX_NONCE_LEN + 1,
            max: MAX_NONCE_LEN
        })
    );
}

// ------------------------------------------------------------ error body

#[test]
fn accepts_use_dpop_nonce_body() {
    assert!(is_use_dpop_nonce_body(
        br#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#
    ));
    assert!(is_use_dpop_nonce_body(
        br#"{"error":"use_dpop_\u006eonce"}"#
    ));
}

#[test]
fn rejects_other_error_body() {
    assert!(!is_use_dpop_nonce_body(
        br#"{"error":"invalid_dpop_proof"}"#
    ));
    assert!(!is_use_dpop_nonce_body(br#"{"error":["use_dpop_nonce"]}"#));
    assert!(!is_use_dpop_nonce_body(b"use_dpop_nonce"));
    assert!(!is_use_dpop_nonce_body(b""));
}

#[test]
fn rejects_body_with_duplicate_error_member() {
    assert!(!is_use_dpop_nonce_body(
        br#"{"error":"invalid_request","error":"use_dpop_nonce"}"#
    ));
}

#[test]
fn rejects_body_with_trailing_data() {
    assert!(!is_use_dpop_nonce_body(br#"{"error":"use_dpop_nonce"} x"#));
}
