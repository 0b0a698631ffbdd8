//! Strict `application/x-www-form-urlencoded` parsing for request bodies and query strings
//! (RFC 6749 §3.1, Appendix B).
//!
//! Refused: a parameter given twice (RFC 6749 §3.1: "Request and response parameters MUST NOT
//! be included more than once"; RFC 8707 §2 makes `resource` the exception), a pair without
//! `=`, an empty pair (`a=1&&b=2`), an empty name, a `%` not followed by two hex digits, and
//! bytes that do not decode to UTF-8. A parameter sent without a value counts as omitted
//! (RFC 6749 §3.1).

use core::fmt;
use std::collections::BTreeMap;

/// Parameters that may be repeated: RFC 8707 §2 lets a client name several resources.
pub(crate) const REPEATABLE: &[&str] = &["resource"];

/// A parsed form: each name with its values in order.
#[derive(Debug, Default)]
pub(crate) struct Form {
    params: BTreeMap<String, Vec<String>>,
}

/// Why a form was refused (answered as `invalid_request`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum FormError {
    /// Not `name=value` pairs joined by `&`.
    Syntax(&'static str),
    /// A `%` escape that is not two hex digits.
    Escape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// A parameter other than [`REPEATABLE`] given more than once.
    Duplicate(String),
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::Syntax(what) => write!(f, "malformed parameters: {what}"),
            FormError::Escape => f.write_str("malformed parameters: bad %-escape"),
            FormError::NotUtf8 => f.write_str("malformed parameters: not UTF-8"),
            FormError::Duplicate(name) => {
                write!(
                    f,
                    "parameter `{name}` included more than once (RFC 6749 §3.1)"
                )
            }
        }
    }
}

impl Form {
    /// Parses `input` (a body or a query string without the `?`).
    pub(crate) fn parse(input: &[u8]) -> Result<Form, FormError> {
        let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
        if input.is_empty() {
            return Ok(Form { params });
        }
        for pair in input.split(|b| *b == b'&') {
            if pair.is_empty() {
                return Err(FormError::Syntax("empty pair"));
            }
            let eq = pair
                .iter()
                .position(|b| *b == b'=')
                .ok_or(FormError::Syntax("pair without `=`"))?;
            let (raw_name, raw_value) = (
                pair.get(..eq).unwrap_or_default(),
                pair.get(eq + 1..).unwrap_or_default(),
            );
            let name = decode(raw_name)?;
            if name.is_empty() {
                return Err(FormError::Syntax("empty name"));
            }
            let value = decode(raw_value)?;
            params.entry(name).or_default().push(value);
        }
        for (name, values) in &params {
            if values.len() > 1 && !REPEATABLE.contains(&name.as_str()) {
                return Err(FormError::Duplicate(name.clone()));
            }
        }
        Ok(Form { params })
    }

    /// The value of `name`; an empty value counts as absent (RFC 6749 §3.1).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params
            .get(name)?
            .first()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name` (for [`REPEATABLE`] parameters).
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.params
            .get(name)
            .map(|vs| {
                vs.iter()
                    .map(String::as_str)
                    .filter(|v| !v.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether `name` has a non-empty value.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// `+` is a space, `%XY` a byte; the result must be UTF-8.
fn decode(raw: &[u8]) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter().copied();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(hex).ok_or(FormError::Escape)?;
                let lo = bytes.next().and_then(hex).ok_or(FormError::Escape)?;
                out.push(hi << 4 | lo);
            }
            other => out.push(other),
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

#[cfg(test)]
mod tests {
    use super::{Form, FormError};

    #[test]
    fn accepts_pairs_with_plus_and_percent_escapes() {
        let f =
            Form::parse(b"grant_type=client_credentials&scope=api%3Aread+more&x=%C3%A9").unwrap();
        assert_eq!(f.get("grant_type"), Some("client_credentials"));
        assert_eq!(f.get("scope"), Some("api:read more"));
        assert_eq!(f.get("x"), Some("é"));
    }

    #[test]
    fn empty_value_counts_as_absent() {
        let f = Form::parse(b"state=&code=abc").unwrap();
        assert_eq!(f.get("state"), None);
        assert!(!f.has("state"));
        assert!(f.has("code"));
    }

    #[test]
    fn rejects_duplicate_parameter() {
        assert_eq!(
            Form::parse(b"scope=a&code=1&scope=a").unwrap_err(),
            FormError::Duplicate("scope".into())
        );
    }

    #[test]
    fn rejects_duplicate_parameter_even_when_one_is_empty() {
        assert_eq!(
            Form::parse(b"code=&code=1").unwrap_err(),
            FormError::Duplicate("code".into())
        );
    }

    #[test]
    fn accepts_repeated_resource() {
        let f = Form::parse(b"resource=https%3A%2F%2Fa&resource=https%3A%2F%2Fb").unwrap();
        assert_eq!(f.all("resource"), vec!["https://a", "https://b"]);
    }

    #[test]
    fn rejects_bad_percent_escape() {
        assert_eq!(Form::parse(b"a=%4").unwrap_err(), FormError::Escape);
        assert_eq!(Form::parse(b"a=%zz").unwrap_err(), FormError::Escape);
    }

    #[test]
    fn rejects_pair_without_equals() {
        assert!(matches!(
            Form::parse(b"a=1&b").unwrap_err(),
            FormError::Syntax(_)
        ));
    }

    #[test]
    fn rejects_empty_pair_and_empty_name() {
        assert!(matches!(
            Form::parse(b"a=1&&b=2").unwrap_err(),
            FormError::Syntax(_)
        ));
        assert!(matches!(
            Form::parse(b"=1").unwrap_err(),
            FormError::Syntax(_)
        ));
    }

    #[test]
    fn rejects_non_utf8() {
        assert_eq!(Form::parse(b"a=%FF").unwrap_err(), FormError::NotUtf8);
    }
}
