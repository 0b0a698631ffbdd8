//! Fuzz checks for the json layer.

use keybound_json::{Limits, Object, Value, write_str};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("json_object", json_object)];

/// Re-serializes a value compactly: names and strings unescaped then escaped by `write_str`,
/// numbers as written.
fn reserialize(v: Value<'_>, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n.raw()),
        Value::String(s) => write_str(out, &s.to_cow()).unwrap(),
        Value::Array(a) => {
            out.push('[');
            for (i, e) in a.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                reserialize(e, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            out.push('{');
            for (i, (k, v)) in o.members().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, &k.to_cow()).unwrap();
                out.push(':');
                reserialize(v, out);
            }
            out.push('}');
        }
        _ => panic!("unexpected value kind {}", v.kind_name()),
    }
}

/// Structural equality of two values (strings compared unescaped).
fn same(a: Value<'_>, b: Value<'_>) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x.raw() == y.raw(),
        (Value::String(x), Value::String(y)) => x.to_cow() == y.to_cow(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.members()
                    .zip(y.members())
                    .all(|((kx, vx), (ky, vy))| kx.to_cow() == ky.to_cow() && same(vx, vy))
        }
        _ => false,
    }
}

/// `Object::parse_picking` (values taken during validation) gives the errors of
/// `Object::parse` and the values of `Object::pick` on the parsed object.
fn picking_agrees(data: &[u8], parsed: &Result<Object<'_>, keybound_json::JsonError>) {
    const NAMES: [&str; 5] = ["typ", "alg", "jwk", "a", ""];
    let picked = Object::parse_picking(data, &Limits::DEFAULT, NAMES);
    match (parsed, picked) {
        (Ok(obj), Ok((again, values))) => {
            assert_eq!(obj.as_str(), again.as_str());
            assert_eq!(obj.len(), again.len());
            for (name, (x, y)) in NAMES.iter().zip(values.into_iter().zip(obj.pick(NAMES))) {
                let agree = match (x, y) {
                    (None, None) => true,
                    (Some(Value::String(p)), Some(Value::String(q))) => {
                        p.raw() == q.raw() && p.as_plain() == q.as_plain()
                    }
                    (Some(p), Some(q)) => same(p, q),
                    _ => false,
                };
                assert!(agree, "parse_picking and pick disagree on {name:?}");
            }
        }
        (Err(e), Err(f)) => assert_eq!(*e, f, "different errors"),
        (a, b) => panic!(
            "parse accepted: {}, parse_picking accepted: {}",
            a.is_ok(),
            b.is_ok()
        ),
    }
}

/// No panic on any input; whatever parses is UTF-8, its readers agree with its counts, and
/// it survives a compact re-serialization (unescape, `write_str`, parse) unchanged.
///
/// # Panics
///
/// When an invariant above does not hold: that is the finding.
pub fn json_object(data: &[u8]) {
    let parsed = Object::parse(data);
    picking_agrees(data, &parsed);
    let Ok(obj) = parsed else { return };
    assert!(
        core::str::from_utf8(data).is_ok(),
        "accepted non-UTF-8 input"
    );
    assert_eq!(obj.members().count(), obj.len());
    for (name, _) in obj.members() {
        assert!(
            obj.get(&name.to_cow()).is_some(),
            "get() misses member {name:?}"
        );
        let mut buf = vec![0u8; name.unescaped_len()];
        assert_eq!(name.unescape_into(&mut buf).unwrap(), name.to_cow());
    }
    let mut text = String::new();
    reserialize(Value::Object(obj), &mut text);
    assert!(
        text.len() <= data.len(),
        "compact form is longer than the input: {text}"
    );
    let limits = Limits {
        max_len: usize::MAX,
        ..Limits::default()
    };
    let again = Object::parse_with(text.as_bytes(), &limits)
        .unwrap_or_else(|e| panic!("re-serialized object does not parse ({e}): {text}"));
    assert!(
        same(Value::Object(obj), Value::Object(again)),
        "round trip changed the value: {text}"
    );
}
