#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_json::{JsonError, Limits, Object, Value};

#[test]
fn reads_members_in_document_order() {
    let o = Object::parse(br#" {"b": [1, {"x": null}], "a": "h\u00e9", "c": true, "d": -1.5e3} "#)
        .unwrap();
    assert_eq!(o.len(), 4);
    let names: Vec<String> = o.members().map(|(k, _)| k.to_string()).collect();
    assert_eq!(names, ["b", "a", "c", "d"]);
    assert!(o.get("a").unwrap().as_str().unwrap().eq_str("hé"));
    assert_eq!(o.get("c").unwrap().as_bool(), Some(true));
    let arr = o.get("b").unwrap().as_array().unwrap();
    assert_eq!(arr.len(), 2);
    let inner: Vec<Value<'_>> = arr.iter().collect();
    assert_eq!(inner[0].as_i64(), Some(1));
    assert!(inner[1].as_object().unwrap().get("x").unwrap().is_null());
    assert_eq!(o.get("d").unwrap().as_i64(), None);
    assert_eq!(o.as_bytes().first(), Some(&b'{'));
}

#[test]
fn rejects_duplicate_member_after_unescaping() {
    assert!(matches!(
        Object::parse(br#"{"a":1,"\u0061":2}"#),
        Err(JsonError::DuplicateMember { offset: 7 })
    ));
}

#[test]
fn rejects_trailing_data() {
    assert!(matches!(
        Object::parse(b"{} x"),
        Err(JsonError::TrailingData { offset: 3 })
    ));
}

#[test]
fn rejects_too_deep() {
    let l = Limits {
        max_depth: 2,
        ..Limits::default()
    };
    assert!(Object::parse_with(b"{\"a\":[1]}", &l).is_ok());
    assert!(matches!(
        Object::parse_with(b"{\"a\":[[1]]}", &l),
        Err(JsonError::TooDeep { .. })
    ));
}
