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

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

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
