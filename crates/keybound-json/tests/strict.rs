//! Named refusals of the strict RFC 8259 reader, each asserting the exact error.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_json::{JsonError, Limits, Object};

fn err(input: &[u8]) -> JsonError {
    Object::parse(input).expect_err("must be refused")
}

#[test]
fn rejects_trailing_data() {
    assert_eq!(err(b"{} {}"), JsonError::TrailingData { offset: 3 });
    assert_eq!(err(b"{}x"), JsonError::TrailingData { offset: 2 });
    assert_eq!(err(b"{}\0"), JsonError::TrailingData { offset: 2 });
}

#[test]
fn accepts_surrounding_whitespace_of_the_four_kinds() {
    assert!(
        Object::parse(b" \t\r\n{ \t\r\n} \t\r\n")
            .unwrap()
            .is_empty()
    );
}

#[test]
fn rejects_non_json_whitespace_and_bom() {
    assert_eq!(err(b"\x0c{}"), JsonError::NotAnObject { offset: 0 });
    assert_eq!(
        err("\u{feff}{}".as_bytes()),
        JsonError::NotAnObject { offset: 0 }
    );
    assert_eq!(
        err("{\u{a0}}".as_bytes()),
        JsonError::Syntax {
            offset: 1,
            expected: "a member name"
        }
    );
}

#[test]
fn rejects_top_level_values_that_are_not_objects() {
    assert_eq!(err(b"[]"), JsonError::NotAnObject { offset: 0 });
    assert_eq!(err(b"  \"a\""), JsonError::NotAnObject { offset: 2 });
    assert_eq!(err(b"null"), JsonError::NotAnObject { offset: 0 });
    assert_eq!(err(b""), JsonError::UnexpectedEnd { offset: 0 });
    assert_eq!(err(b"   "), JsonError::UnexpectedEnd { offset: 3 });
}

#[test]
fn rejects_truncated_input() {
    for cut in [
        &b"{"[..],
        b"{\"a\"",
        b"{\"a\":",
        b"{\"a\":1",
        b"{\"a\":\"x",
        b"{\"a\":[1,",
        b"{\"a\":\"\\u00",
    ] {
        assert!(
            matches!(err(cut), JsonError::UnexpectedEnd { .. }),
            "{:?}",
            core::str::from_utf8(cut)
        );
    }
    assert_eq!(
        err(b"{\"a\":tru"),
        JsonError::Syntax {
            offset: 5,
            expected: "true, false or null"
        }
    );
}

#[test]
fn rejects_duplicate_member_names() {
    assert_eq!(
        err(br#"{"a":1,"a":2}"#),
        JsonError::DuplicateMember { offset: 7 }
    );
}

#[test]
fn rejects_duplicate_member_names_after_unescaping() {
    assert_eq!(
        err(br#"{"kty":1,"\u006bty":2}"#),
        JsonError::DuplicateMember { offset: 9 }
    );
    assert_eq!(
        err(br#"{"a\/b":1,"a/b":2}"#),
        JsonError::DuplicateMember { offset: 10 }
    );
    assert_eq!(
        err(r#"{"\ud83d\ude00":1,"😀":2}"#.as_bytes()),
        JsonError::DuplicateMember { offset: 18 }
    );
}

#[test]
fn rejects_duplicates_of_unknown_members() {
    assert_eq!(
        err(br#"{"x-custom":1,"kty":"EC","x-custom":1}"#),
        JsonError::DuplicateMember { offset: 25 }
    );
}

#[test]
fn rejects_duplicates_inside_nested_objects() {
    assert_eq!(
        err(br#"{"a":{"b":1,"b":1}}"#),
        JsonError::DuplicateMember { offset: 12 }
    );
    assert_eq!(
        err(br#"{"a":[{"b":1},{"c":1,"c":2}]}"#),
        JsonError::DuplicateMember { offset: 21 }
    );
}

#[test]
fn accepts_same_name_in_sibling_and_nested_objects() {
    let o = Object::parse(br#"{"a":{"a":{"a":1}},"b":{"a":2}}"#).unwrap();
    assert_eq!(o.len(), 2);
}

#[test]
fn detects_duplicates_past_the_name_cache() {
    // 100 members (over the 64-entry cache) with a duplicate of an early and of a late name.
    let limits = Limits {
        max_members: 200,
        ..Limits::default()
    };
    let mut names: Vec<String> = (0..100).map(|i| format!("\"m{i}\":{i}")).collect();
    let ok = format!("{{{}}}", names.join(","));
    assert_eq!(
        Object::parse_with(ok.as_bytes(), &limits).unwrap().len(),
        100
    );
    for dup in ["m3", "m70", "m99"] {
        names.push(format!("\"{dup}\":0"));
        let text = format!("{{{}}}", names.join(","));
        let at = text.rfind(&format!("\"{dup}\"")).unwrap();
        assert_eq!(
            Object::parse_with(text.as_bytes(), &limits).unwrap_err(),
            JsonError::DuplicateMember { offset: at }
        );
        names.pop();
    }
}

#[test]
fn detects_duplicates_past_the_cache_with_nested_objects_in_between() {
    let limits = Limits {
        max_members: 200,
        ..Limits::default()
    };
    let inner: Vec<String> = (0..40).map(|i| format!("\"i{i}\":0")).collect();
    let inner = format!("{{{}}}", inner.join(","));
    let mut members: Vec<String> = (0..50).map(|i| format!("\"o{i}\":{inner}")).collect();
    members.push("\"o49\":1".into());
    let text = format!("{{{}}}", members.join(","));
    assert!(matches!(
        Object::parse_with(text.as_bytes(), &limits),
        Err(JsonError::DuplicateMember { .. })
    ));
}

#[test]
fn rejects_deep_nesting_at_the_limit() {
    let depth = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n - 1), "]".repeat(n - 1));
    assert!(Object::parse(depth(16).as_bytes()).is_ok());
    assert_eq!(
        Object::parse(depth(17).as_bytes()).unwrap_err(),
        JsonError::TooDeep {
            offset: 20,
            max: 16
        }
    );
}

#[test]
fn rejects_very_deep_nesting_without_exhausting_the_stack() {
    let text = format!("{{\"a\":{}", "[".repeat(60_000));
    assert!(matches!(
        err(text.as_bytes()),
        JsonError::TooDeep { max: 16, .. }
    ));
    let limits = Limits {
        max_depth: usize::MAX,
        max_len: usize::MAX,
        ..Limits::default()
    };
    let text = format!("{{\"a\":{}", "{\"a\":".repeat(100_000));
    assert!(matches!(
        Object::parse_with(text.as_bytes(), &limits),
        Err(JsonError::TooDeep { max: 128, .. })
    ));
}

#[test]
fn rejects_too_many_members() {
    let members: Vec<String> = (0..65).map(|i| format!("\"m{i}\":0")).collect();
    let text = format!("{{{}}}", members.join(","));
    let at = text.find("\"m64\"").unwrap();
    assert_eq!(
        err(text.as_bytes()),
        JsonError::TooManyMembers {
            offset: at,
            max: 64
        }
    );
}

#[test]
fn rejects_one_megabyte_string() {
    let text = format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20));
    assert_eq!(
        err(text.as_bytes()),
        JsonError::TooLarge {
            len: text.len(),
            max: 64 * 1024
        }
    );
}

#[test]
fn accepts_large_string_under_raised_limit() {
    let text = format!("{{\"a\":\"{}\"}}", "x".repeat(1 << 20));
    let limits = Limits {
        max_len: 2 << 20,
        ..Limits::default()
    };
    let o = Object::parse_with(text.as_bytes(), &limits).unwrap();
    assert_eq!(
        o.get("a").unwrap().as_str().unwrap().unescaped_len(),
        1 << 20
    );
}

#[test]
fn rejects_lone_high_surrogate() {
    assert_eq!(
        err(br#"{"a":"\ud800"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\ud800x"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\ud800\n"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
}

#[test]
fn rejects_lone_low_surrogate() {
    assert_eq!(
        err(br#"{"a":"\udc00"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"x\uDFFF"}"#),
        JsonError::LoneSurrogate { offset: 7 }
    );
}

#[test]
fn rejects_high_surrogate_followed_by_another_high() {
    assert_eq!(
        err(br#"{"a":"\ud800\ud800"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\ud800\u0041"}"#),
        JsonError::LoneSurrogate { offset: 6 }
    );
}

#[test]
fn accepts_surrogate_pairs() {
    let o = Object::parse(br#"{"a":"\uD83D\uDE00"}"#).unwrap();
    assert!(o.get("a").unwrap().as_str().unwrap().eq_str("😀"));
}

#[test]
fn rejects_invalid_escapes() {
    assert_eq!(
        err(br#"{"a":"\x41"}"#),
        JsonError::InvalidEscape { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\'"}"#),
        JsonError::InvalidEscape { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\u00g1"}"#),
        JsonError::InvalidEscape { offset: 6 }
    );
    assert_eq!(
        err(br#"{"a":"\U0041"}"#),
        JsonError::InvalidEscape { offset: 6 }
    );
}

#[test]
fn rejects_unescaped_control_characters() {
    assert_eq!(
        err(b"{\"a\":\"x\ny\"}"),
        JsonError::ControlCharacter { offset: 7 }
    );
    assert_eq!(
        err(b"{\"a\":\"\x00\"}"),
        JsonError::ControlCharacter { offset: 6 }
    );
    assert_eq!(
        err(b"{\"a\x1f\":1}"),
        JsonError::ControlCharacter { offset: 3 }
    );
    // DEL and C1 controls are allowed unescaped by RFC 8259 §7.
    assert!(Object::parse("{\"a\":\"\u{7f}\u{85}\"}".as_bytes()).is_ok());
}

#[test]
fn rejects_invalid_utf8() {
    assert_eq!(
        err(b"{\"a\":\"\xff\"}"),
        JsonError::InvalidUtf8 { offset: 6 }
    );
    // Overlong encoding of '/' and an encoded surrogate (CESU-8).
    assert_eq!(
        err(b"{\"a\":\"\xc0\xaf\"}"),
        JsonError::InvalidUtf8 { offset: 6 }
    );
    assert_eq!(
        err(b"{\"a\":\"\xed\xa0\x80\"}"),
        JsonError::InvalidUtf8 { offset: 6 }
    );
}

#[test]
fn rejects_numbers_outside_the_grammar() {
    for (text, at) in [
        (&br#"{"a":01}"#[..], 5),
        (br#"{"a":-01}"#, 5),
        (br#"{"a":+1}"#, 5),
        (br#"{"a":.5}"#, 5),
        (br#"{"a":1.}"#, 5),
        (br#"{"a":1.e3}"#, 5),
        (br#"{"a":1e}"#, 5),
        (br#"{"a":1e+}"#, 5),
        (br#"{"a":-}"#, 5),
        (br#"{"a":-a}"#, 5),
    ] {
        let got = err(text);
        let expected = if text[at] == b'+' || text[at] == b'.' {
            JsonError::Syntax {
                offset: at,
                expected: "a value",
            }
        } else {
            JsonError::InvalidNumber { offset: at }
        };
        assert_eq!(got, expected, "{}", core::str::from_utf8(text).unwrap());
    }
}

#[test]
fn rejects_nan_and_infinity() {
    for text in [
        &br#"{"a":NaN}"#[..],
        br#"{"a":Infinity}"#,
        br#"{"a":-Infinity}"#,
    ] {
        assert!(matches!(
            err(text),
            JsonError::Syntax { offset: 5, .. } | JsonError::InvalidNumber { offset: 5 }
        ));
    }
}

#[test]
fn rejects_non_standard_syntax() {
    assert_eq!(
        err(br#"{"a":1,}"#),
        JsonError::Syntax {
            offset: 7,
            expected: "a member name"
        }
    );
    assert_eq!(
        err(br#"{"a":[1,]}"#),
        JsonError::Syntax {
            offset: 8,
            expected: "a value"
        }
    );
    assert_eq!(
        err(br#"{'a':1}"#),
        JsonError::Syntax {
            offset: 1,
            expected: "a member name"
        }
    );
    assert_eq!(
        err(br#"{a:1}"#),
        JsonError::Syntax {
            offset: 1,
            expected: "a member name"
        }
    );
    assert_eq!(
        err(br#"{"a":1 /* c */}"#),
        JsonError::Syntax {
            offset: 7,
            expected: "',' or '}'"
        }
    );
    assert_eq!(
        err(br#"{"a" 1}"#),
        JsonError::Syntax {
            offset: 5,
            expected: "':'"
        }
    );
    assert_eq!(
        err(br#"{"a":1 "b":2}"#),
        JsonError::Syntax {
            offset: 7,
            expected: "',' or '}'"
        }
    );
    assert_eq!(
        err(br#"{"a":True}"#),
        JsonError::Syntax {
            offset: 5,
            expected: "a value"
        }
    );
}

#[test]
fn reads_numbers_as_integers_only_for_integer_syntax() {
    let o = Object::parse(
        br#"{"i":1562262616,"neg":-5,"z":-0,"f":1.0,"e":1e3,"big":18446744073709551615,"huge":99999999999999999999}"#,
    )
    .unwrap();
    let n = |k: &str| o.get(k).unwrap().as_number().unwrap();
    assert_eq!(n("i").as_i64(), Some(1_562_262_616));
    assert_eq!(n("neg").as_i64(), Some(-5));
    assert_eq!(n("neg").as_u64(), None);
    assert_eq!(n("z").as_u64(), Some(0));
    assert_eq!(n("f").as_i64(), None);
    assert!(!n("e").is_integer());
    assert_eq!(n("big").as_i64(), None);
    assert_eq!(n("big").as_u64(), Some(u64::MAX));
    assert_eq!(n("huge").as_u64(), None);
    assert_eq!(n("huge").raw(), "99999999999999999999");
}

#[test]
fn unescapes_into_caller_buffers() {
    let o = Object::parse(br#"{"s":"a\"b\\c\/d\b\f\n\r\t\u00e9\u20ac\ud834\udd1e"}"#).unwrap();
    let s = o.get("s").unwrap().as_str().unwrap();
    let expected = "a\"b\\c/d\u{8}\u{c}\n\r\té€𝄞";
    assert_eq!(s.unescaped_len(), expected.len());
    let mut buf = [0u8; 64];
    assert_eq!(s.unescape_into(&mut buf).unwrap(), expected);
    let mut small = [0u8; 5];
    assert_eq!(
        s.unescape_into(&mut small).unwrap_err(),
        JsonError::BufferTooSmall {
            needed: expected.len()
        }
    );
    assert_eq!(s.to_string(), expected);
    assert_eq!(s.as_plain(), None);
    #[cfg(feature = "alloc")]
    assert_eq!(s.to_cow(), expected);
}

#[test]
fn gets_members_by_unescaped_name() {
    let o = Object::parse(br#"{"x5t#S256":"v","k\u0069d":"w"}"#).unwrap();
    assert!(o.get("x5t#S256").unwrap().as_str().unwrap().eq_str("v"));
    assert!(o.get("kid").unwrap().as_str().unwrap() == "w");
    assert!(o.get("k\\u0069d").is_none());
    assert!(o.get("missing").is_none());
}

#[test]
fn kind_names_follow_rfc8259() {
    let o = Object::parse(br#"{"a":null,"b":false,"c":0,"d":"","e":[],"f":{}}"#).unwrap();
    let kinds: Vec<&str> = o.members().map(|(_, v)| v.kind_name()).collect();
    assert_eq!(
        kinds,
        ["null", "boolean", "number", "string", "array", "object"]
    );
}

#[test]
fn error_messages_carry_context() {
    assert_eq!(
        err(b"{} x").to_string(),
        "trailing data after the JSON object at byte 3"
    );
    assert_eq!(
        err(br#"{"a":1,"a":2}"#).to_string(),
        "duplicate JSON member name at byte 7"
    );
    let e: &dyn core::error::Error = &JsonError::LoneSurrogate { offset: 6 };
    assert!(e.to_string().contains("surrogate"));
}
