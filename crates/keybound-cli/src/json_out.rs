//! JSON output: compact objects in a fixed member order, and an order-preserving pretty
//! printer over already validated JSON (so `inspect` shows members as the proof has them).

use core::fmt::Write as _;

use keybound::json::{Object, Value};

/// Appends `s` as a quoted JSON string.
pub(crate) fn push_str(out: &mut String, s: &str) {
    // Writing into a String cannot fail.
    let _ = keybound::json::write_str(out, s);
}

/// A compact JSON object built member by member, in call order.
#[derive(Default)]
pub(crate) struct ObjectWriter {
    buf: String,
}

impl ObjectWriter {
    pub(crate) fn new() -> Self {
        ObjectWriter {
            buf: String::from("{"),
        }
    }

    fn key(&mut self, name: &str) {
        if self.buf.len() > 1 {
            self.buf.push(',');
        }
        push_str(&mut self.buf, name);
        self.buf.push(':');
    }

    pub(crate) fn str(mut self, name: &str, value: &str) -> Self {
        self.key(name);
        push_str(&mut self.buf, value);
        self
    }

    pub(crate) fn opt_str(self, name: &str, value: Option<&str>) -> Self {
        match value {
            Some(v) => self.str(name, v),
            None => self.raw(name, "null"),
        }
    }

    pub(crate) fn bool(self, name: &str, value: bool) -> Self {
        self.raw(name, if value { "true" } else { "false" })
    }

    pub(crate) fn int(mut self, name: &str, value: impl core::fmt::Display) -> Self {
        self.key(name);
        let _ = write!(self.buf, "{value}");
        self
    }

    /// `value` must already be valid JSON text.
    pub(crate) fn raw(mut self, name: &str, value: &str) -> Self {
        self.key(name);
        self.buf.push_str(value);
        self
    }

    pub(crate) fn finish(mut self) -> String {
        self.buf.push('}');
        self.buf
    }
}

/// Pretty-prints a validated object with two-space indentation, members in document order,
/// strings and numbers exactly as written.
pub(crate) fn pretty_object(obj: &Object<'_>) -> String {
    let mut out = String::new();
    write_object(&mut out, obj, 0);
    out
}

/// Pretty-prints JSON text (validated here); `None` when it is not a strict JSON object.
pub(crate) fn pretty_text(text: &str) -> Option<String> {
    let limits = keybound::json::Limits {
        max_len: 1 << 20,
        max_members: 1024,
        ..keybound::json::Limits::default()
    };
    Object::parse_with(text.as_bytes(), &limits)
        .ok()
        .map(|o| pretty_object(&o))
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

fn write_object(out: &mut String, obj: &Object<'_>, level: usize) {
    if obj.is_empty() {
        out.push_str("{}");
        return;
    }
    out.push_str("{\n");
    let mut first = true;
    for (name, value) in obj.members() {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        indent(out, level + 1);
        out.push('"');
        out.push_str(name.raw());
        out.push_str("\": ");
        write_value(out, &value, level + 1);
    }
    out.push('\n');
    indent(out, level);
    out.push('}');
}

fn write_value(out: &mut String, value: &Value<'_>, level: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n.raw()),
        Value::String(s) => {
            out.push('"');
            out.push_str(s.raw());
            out.push('"');
        }
        Value::Array(a) => {
            if a.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push_str("[\n");
            let mut first = true;
            for item in a.iter() {
                if !first {
                    out.push_str(",\n");
                }
                first = false;
                indent(out, level + 1);
                write_value(out, &item, level + 1);
            }
            out.push('\n');
            indent(out, level);
            out.push(']');
        }
        Value::Object(o) => write_object(out, o, level),
        // Value is non-exhaustive; future kinds print as null rather than invalid JSON.
        _ => out.push_str("null"),
    }
}
