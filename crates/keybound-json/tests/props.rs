//! Property tests: no panics on any input, `write_str` round trips, agreement with serde_json.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_json::{JsonError, Limits, Object, Value, write_str};
use proptest::prelude::*;

/// Walks every value reachable from the object, exercising all readers.
fn walk(v: Value<'_>) -> usize {
    match v {
        Value::Object(o) => {
            let mut n = 0;
            for (k, v) in o.members() {
                let _ = k.unescaped_len();
                let _ = k.chars().count();
                n += 1 + walk(v);
            }
            assert_eq!(o.members().count(), o.len());
            n
        }
        Value::Array(a) => {
            assert_eq!(a.iter().count(), a.len());
            a.iter().map(walk).sum::<usize>() + 1
        }
        Value::String(s) => {
            let mut buf = vec![0u8; s.unescaped_len()];
            assert_eq!(s.unescape_into(&mut buf).unwrap().len(), buf.len());
            1
        }
        Value::Number(n) => {
            let _ = (n.as_i64(), n.as_u64(), n.is_integer());
            1
        }
        _ => 1,
    }
}

fn json_soup() -> impl Strategy<Value = String> {
    proptest::string::string_regex(r#"\{[{}\[\]:,"\\ a-c0-9.eE+\-tfnrul/\\u]{0,48}"#).unwrap()
}

fn serde_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value as J;
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        any::<i64>().prop_map(J::from),
        any::<u64>().prop_map(J::from),
        (-1e300f64..1e300).prop_map(J::from),
        any::<String>().prop_map(J::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(J::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..8)
                .prop_map(|m| J::Object(m.into_iter().collect())),
        ]
    })
}

fn same(ours: Value<'_>, theirs: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (ours, theirs) {
        (Value::Null, J::Null) => true,
        (Value::Bool(a), J::Bool(b)) => a == *b,
        (Value::Number(a), J::Number(b)) => match (b.as_i64(), b.as_u64()) {
            (Some(i), _) => a.as_i64() == Some(i),
            (None, Some(u)) => a.as_u64() == Some(u),
            _ => a.raw().parse::<f64>().ok() == b.as_f64(),
        },
        (Value::String(a), J::String(b)) => a.eq_str(b),
        (Value::Array(a), J::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y))
        }
        (Value::Object(a), J::Object(b)) => {
            a.len() == b.len()
                && a.members()
                    .all(|(k, v)| b.get(&k.to_string()).is_some_and(|w| same(v, w)))
        }
        _ => false,
    }
}

/// What a picked value is: its kind, its text as written and, for containers, its length.
fn fingerprint(v: Option<Value<'_>>) -> Option<(&'static str, String, usize, bool)> {
    v.map(|v| {
        let (raw, len, plain) = match v {
            Value::String(s) => (
                s.raw().to_owned(),
                s.unescaped_len(),
                s.as_plain().is_some(),
            ),
            Value::Number(n) => (n.raw().to_owned(), 0, true),
            Value::Object(o) => (o.as_str().to_owned(), o.len(), true),
            Value::Array(a) => (a.as_str().to_owned(), a.len(), true),
            Value::Bool(b) => (b.to_string(), 0, true),
            _ => (String::new(), 0, true),
        };
        (v.kind_name(), raw, len, plain)
    })
}

/// `parse_picking` takes values during validation; they must be exactly what a later
/// `pick` over the members reads, and the object and errors those of `parse_with`.
fn picking_agrees(input: &[u8], names: [&str; 4]) {
    let limits = Limits {
        max_len: usize::MAX,
        max_members: usize::MAX,
        ..Limits::default()
    };
    let plain = Object::parse_with(input, &limits);
    let picked = Object::parse_picking(input, &limits, names);
    match (plain, picked) {
        (Ok(a), Ok((b, values))) => {
            assert_eq!(a.as_str(), b.as_str());
            assert_eq!(a.len(), b.len());
            let later = a.pick(names);
            for (x, y) in values.into_iter().zip(later) {
                assert_eq!(
                    fingerprint(x),
                    fingerprint(y),
                    "{:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!(
            "parse_with {:?} but parse_picking {:?}",
            a.map(|o| o.len()),
            b.map(|(o, _)| o.len())
        ),
    }
}

#[test]
fn picking_finds_escaped_names_top_level_only() {
    let text = br#"{"n\u0061me":"v1","x":{"name":"nested"},"arr":[1,{"y":2}],"num":-1.5e3,"t":true,"z":null}"#;
    let (obj, [name, x, arr, num, t, z, y]) = Object::parse_picking(
        text,
        &Limits::DEFAULT,
        ["name", "x", "arr", "num", "t", "z", "y"],
    )
    .unwrap();
    assert_eq!(obj.len(), 6);
    assert!(name.unwrap().as_str().unwrap().eq_str("v1"));
    assert_eq!(x.unwrap().as_object().unwrap().len(), 1);
    assert_eq!(arr.unwrap().as_array().unwrap().len(), 2);
    assert_eq!(num.unwrap().as_number().unwrap().raw(), "-1.5e3");
    assert_eq!(t.unwrap().as_bool(), Some(true));
    assert!(z.unwrap().is_null());
    assert!(y.is_none(), "nested members are not picked");
    picking_agrees(text, ["name", "x", "arr", "y"]);
    // Errors are those of parse_with, duplicates included.
    assert_eq!(
        Object::parse_picking(br#"{"a":1,"\u0061":2}"#, &Limits::DEFAULT, ["a"]).unwrap_err(),
        JsonError::DuplicateMember { offset: 7 }
    );
    picking_agrees(br#"{"a":1,"\u0061":2}"#, ["a", "b", "c", "d"]);
    picking_agrees(br#"{"a":[1,2,}"#, ["a", "b", "c", "d"]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn picking_agrees_on_json_soup(input in json_soup()) {
        picking_agrees(input.as_bytes(), ["a", "b", "ab", "c"]);
    }

    #[test]
    fn picking_agrees_on_serde_json_output(v in prop::collection::btree_map(any::<String>(), serde_value(), 0..8)) {
        let first = v.keys().next().cloned().unwrap_or_default();
        let last = v.keys().last().cloned().unwrap_or_default();
        let v = serde_json::Value::Object(v.into_iter().collect());
        for text in [serde_json::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
            picking_agrees(text.as_bytes(), [&first, "a", &last, ""]);
        }
    }

    #[test]
    fn parse_never_panics_on_bytes(input in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(o) = Object::parse(&input) {
            walk(Value::Object(o));
        }
    }

    #[test]
    fn parse_never_panics_on_json_soup(input in json_soup()) {
        let ours = Object::parse(input.as_bytes());
        if let Ok(o) = ours {
            walk(Value::Object(o));
        }
        // Whatever serde_json accepts as an object, we accept too, unless one of our stricter
        // rules (duplicates, caps) applies.
        if let Ok(serde_json::Value::Object(_)) = serde_json::from_str::<serde_json::Value>(&input) {
            match ours {
                Ok(_) | Err(JsonError::DuplicateMember { .. } | JsonError::TooDeep { .. }) => {}
                Err(e) => prop_assert!(false, "serde_json accepts {input:?}, we refuse: {e}"),
            }
        }
        // Whatever we accept, serde_json accepts.
        if ours.is_ok() {
            prop_assert!(serde_json::from_str::<serde_json::Value>(&input).is_ok(), "{input:?}");
        }
    }

    #[test]
    fn write_str_round_trips_through_the_reader(s in any::<String>()) {
        let mut text = String::from("{\"k\":");
        write_str(&mut text, &s).unwrap();
        text.push('}');
        let o = Object::parse(text.as_bytes()).unwrap();
        let v = o.get("k").unwrap().as_str().unwrap();
        prop_assert!(v.eq_str(&s));
        prop_assert_eq!(v.unescaped_len(), s.len());
        #[cfg(feature = "alloc")]
        prop_assert_eq!(v.to_cow(), s.as_str());
        // And serde_json reads what we write.
        let theirs: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(theirs["k"].as_str(), Some(s.as_str()));
    }

    #[test]
    fn agrees_with_serde_json_on_its_output(v in prop::collection::btree_map(any::<String>(), serde_value(), 0..8)) {
        let v = serde_json::Value::Object(v.into_iter().collect());
        let limits = Limits { max_len: usize::MAX, max_members: usize::MAX, ..Limits::default() };
        for text in [serde_json::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
            let o = Object::parse_with(text.as_bytes(), &limits).unwrap();
            prop_assert!(same(Value::Object(o), &v), "{text}");
        }
    }
}
