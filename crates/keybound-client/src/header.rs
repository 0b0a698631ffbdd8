//! The response headers and bodies a DPoP client reads, parsed without I/O: `WWW-Authenticate`
//! challenges (RFC 9110 §11.6.1, auth-param syntax of §11.2), the `DPoP-Nonce` header
//! (RFC 9449 §8.1) and the `{"error":"use_dpop_nonce"}` body of a token endpoint (RFC 9449
//! §8).
//!
//! Everything here is synchronous and needs no HTTP stack (the crate builds it without the
//! `reqwest` feature), so the fuzz target calls it directly. Inputs are capped
//! ([`MAX_FIELD_LEN`], [`MAX_CHALLENGES`], [`MAX_PARAMS`], [`MAX_NONCE_LEN`]) and every fault is
//! a typed error; nothing panics on input.
//!
//! ```
//! use keybound_client::header::{parse_challenges, parse_dpop_nonce, is_use_dpop_nonce_challenge};
//!
//! let field = br#"Bearer realm="api", DPoP ERROR="use_dpop_nonce", algs="ES256 EdDSA""#;
//! let challenges = parse_challenges(field)?;
//! assert_eq!(challenges.len(), 2);
//! assert!(challenges[1].is_scheme("dpop"));
//! assert_eq!(challenges[1].param_str("error"), Some("use_dpop_nonce"));
//! assert_eq!(is_use_dpop_nonce_challenge(&[field]), Ok(true));
//!
//! assert_eq!(parse_dpop_nonce(&[b"eyJ7S_zG.eyJH0-Z.HX4w-7v"]), Ok(Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")));
//! assert!(parse_dpop_nonce(&[b"a", b"b"]).is_err()); // two values: ignored by the client
//! # Ok::<(), keybound_client::header::ChallengeError>(())
//! ```

use core::fmt;
use std::borrow::Cow;
use std::vec::Vec;

/// Longest `WWW-Authenticate` field value parsed, in bytes (longer: [`ChallengeError::TooLong`]).
pub const MAX_FIELD_LEN: usize = 8 * 1024;
/// Most challenges in one field value.
pub const MAX_CHALLENGES: usize = 16;
/// Most auth-params in one challenge.
pub const MAX_PARAMS: usize = 32;
/// Longest `DPoP-Nonce` value accepted, in bytes.
pub const MAX_NONCE_LEN: usize = 1024;
/// Largest error body read to look for `use_dpop_nonce` (a token endpoint's answer is small).
pub const MAX_ERROR_BODY: usize = 16 * 1024;

/// One challenge of a `WWW-Authenticate` field (RFC 9110 §11.3): a scheme and either a
/// token68 or auth-params.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Challenge<'a> {
    scheme: &'a str,
    token68: Option<&'a str>,
    params: Vec<(&'a str, Cow<'a, [u8]>)>,
}

impl<'a> Challenge<'a> {
    /// The auth-scheme as sent (compare it with [`Challenge::is_scheme`]).
    pub fn scheme(&self) -> &'a str {
        self.scheme
    }

    /// Whether the scheme is `name`, compared case-insensitively (RFC 9110 §11.1).
    pub fn is_scheme(&self, name: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(name)
    }

    /// The token68 form of the challenge's data, if it has one (RFC 9110 §11.2).
    pub fn token68(&self) -> Option<&'a str> {
        self.token68
    }

    /// The auth-params in order: name as sent, value unquoted (quoted-pairs resolved).
    pub fn params(&self) -> impl Iterator<Item = (&'a str, &[u8])> + '_ {
        self.params.iter().map(|(n, v)| (*n, v.as_ref()))
    }

    /// The value of parameter `name`, matched case-insensitively (RFC 9110 §11.2).
    pub fn param(&self, name: &str) -> Option<&[u8]> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// [`Challenge::param`] as text, when it is UTF-8.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.param(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    /// Appends the challenge in a canonical form: the scheme, then the token68 or every
    /// parameter as `name="value"` separated by `, ` (parsing it gives this challenge back).
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.scheme.as_bytes());
        if let Some(t) = self.token68 {
            out.push(b' ');
            out.extend_from_slice(t.as_bytes());
        }
        for (i, (name, value)) in self.params.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b" " } else { b", " });
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"=\"");
            for &b in value.iter() {
                if b == b'"' || b == b'\\' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'"');
        }
    }
}

/// Why a `WWW-Authenticate` field value is not a list of challenges (RFC 9110 §11.6.1).
/// Offsets are byte positions in the field value.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChallengeError {
    /// The field value is longer than [`MAX_FIELD_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A list element starts with something other than a token (the auth-scheme).
    ExpectedScheme {
        /// Position of the offending byte.
        offset: usize,
    },
    /// After `scheme SP` comes neither a token68 nor an auth-param.
    ExpectedParam {
        /// Position of the offending byte.
        offset: usize,
    },
    /// An auth-param's `=` is followed by neither a token nor a quoted-string.
    ExpectedValue {
        /// Position of the offending byte.
        offset: usize,
    },
    /// A quoted-string has no closing `"`.
    UnterminatedQuote {
        /// Position of the opening quote.
        offset: usize,
    },
    /// A byte not allowed inside a quoted-string (a control character).
    InvalidQuotedChar {
        /// Position of the byte.
        offset: usize,
    },
    /// The same parameter name twice in one challenge (RFC 9110 §11.2: at most once).
    DuplicateParam {
        /// Position of the second occurrence.
        offset: usize,
    },
    /// An auth-param outside a challenge, or after a token68.
    StrayParam {
        /// Position of the parameter name.
        offset: usize,
    },
    /// Something other than `,` after a complete element.
    ExpectedComma {
        /// Position of the offending byte.
        offset: usize,
    },
    /// More than [`MAX_CHALLENGES`] challenges.
    TooManyChallenges {
        /// The cap.
        max: usize,
    },
    /// More than [`MAX_PARAMS`] parameters in one challenge.
    TooManyParams {
        /// The cap.
        max: usize,
    },
}

impl fmt::Display for ChallengeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLong { len, max } => {
                write!(f, "WWW-Authenticate value of {len} bytes exceeds {max}")
            }
            Self::ExpectedScheme { offset } => {
                write!(f, "expected an auth-scheme at byte {offset}")
            }
            Self::ExpectedParam { offset } => {
                write!(f, "expected a token68 or an auth-param at byte {offset}")
            }
            Self::ExpectedValue { offset } => {
                write!(f, "expected a token or quoted-string at byte {offset}")
            }
            Self::UnterminatedQuote { offset } => {
                write!(f, "quoted-string opened at byte {offset} is not closed")
            }
            Self::InvalidQuotedChar { offset } => {
                write!(f, "byte {offset} is not allowed in a quoted-string")
            }
            Self::DuplicateParam { offset } => {
                write!(
                    f,
                    "auth-param at byte {offset} repeats a name of its challenge"
                )
            }
            Self::StrayParam { offset } => {
                write!(f, "auth-param at byte {offset} belongs to no challenge")
            }
            Self::ExpectedComma { offset } => write!(f, "expected ',' at byte {offset}"),
            Self::TooManyChallenges { max } => write!(f, "more than {max} challenges"),
            Self::TooManyParams { max } => write!(f, "more than {max} auth-params in a challenge"),
        }
    }
}

impl core::error::Error for ChallengeError {}

/// RFC 9110 §5.6.2 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// RFC 9110 §11.2 `token68` characters before the trailing `=`s.
fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// RFC 9110 §5.6.4 `qdtext`: HTAB, SP, `!`, `#`–`[`, `]`–`~`, obs-text.
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// The character after `\` in a quoted-pair: HTAB, SP, VCHAR, obs-text.
fn is_quoted_pair_char(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    /// Skips SP / HTAB; returns how many.
    fn skip_ows(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i - start
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.s.get(start..self.i).unwrap_or_default()
    }

    /// A token as text (tchars are ASCII, so always UTF-8); `None` when empty.
    fn token(&mut self) -> Option<&'a str> {
        let t = self.take_while(is_tchar);
        if t.is_empty() {
            None
        } else {
            core::str::from_utf8(t).ok()
        }
    }

    /// After an element: OWS, then the end or a `,` (not consumed).
    fn end_of_element(&mut self) -> Result<(), ChallengeError> {
        self.skip_ows();
        match self.peek() {
            None | Some(b',') => Ok(()),
            Some(_) => Err(ChallengeError::ExpectedComma { offset: self.i }),
        }
    }

    /// A quoted-string starting at the current `"` (RFC 9110 §5.6.4), unquoted.
    fn quoted(&mut self) -> Result<Cow<'a, [u8]>, ChallengeError> {
        let open = self.i;
        self.i += 1;
        let start = self.i;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(b) = self.peek() else {
                return Err(ChallengeError::UnterminatedQuote { offset: open });
            };
            match b {
                b'"' => {
                    let raw = self.s.get(start..self.i).unwrap_or_default();
                    self.i += 1;
                    return Ok(owned.map_or(Cow::Borrowed(raw), Cow::Owned));
                }
                b'\\' => {
                    let esc = self.s.get(self.i + 1).copied();
                    let Some(c) = esc.filter(|c| is_quoted_pair_char(*c)) else {
                        return Err(match esc {
                            None => ChallengeError::UnterminatedQuote { offset: open },
                            Some(_) => ChallengeError::InvalidQuotedChar { offset: self.i + 1 },
                        });
                    };
                    let buf = owned.get_or_insert_with(|| {
                        self.s.get(start..self.i).unwrap_or_default().to_vec()
                    });
                    buf.push(c);
                    self.i += 2;
                }
                b if is_qdtext(b) => {
                    if let Some(buf) = owned.as_mut() {
                        buf.push(b);
                    }
                    self.i += 1;
                }
                _ => return Err(ChallengeError::InvalidQuotedChar { offset: self.i }),
            }
        }
    }

    /// `BWS "=" BWS ( token / quoted-string )` after a parameter name.
    fn param_value(&mut self) -> Result<Cow<'a, [u8]>, ChallengeError> {
        self.skip_ows();
        if self.peek() != Some(b'=') {
            return Err(ChallengeError::ExpectedParam { offset: self.i });
        }
        self.i += 1;
        self.skip_ows();
        if self.peek() == Some(b'"') {
            return self.quoted();
        }
        let at = self.i;
        let t = self.take_while(is_tchar);
        if t.is_empty() {
            return Err(ChallengeError::ExpectedValue { offset: at });
        }
        Ok(Cow::Borrowed(t))
    }

    /// Whether a token68 (`1*token68char *"="`) followed by OWS and the end or `,` starts
    /// here; consumes it when so.
    fn try_token68(&mut self) -> Option<&'a str> {
        let start = self.i;
        let body = self.take_while(is_token68_char);
        if body.is_empty() {
            self.i = start;
            return None;
        }
        self.take_while(|b| b == b'=');
        let end = self.i;
        self.skip_ows();
        if matches!(self.peek(), None | Some(b',')) {
            self.i = end;
            self.s
                .get(start..end)
                .and_then(|t| core::str::from_utf8(t).ok())
        } else {
            self.i = start;
            None
        }
    }
}

fn add_param<'a>(
    ch: &mut Challenge<'a>,
    name: &'a str,
    value: Cow<'a, [u8]>,
    offset: usize,
) -> Result<(), ChallengeError> {
    if ch.params.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
        return Err(ChallengeError::DuplicateParam { offset });
    }
    if ch.params.len() >= MAX_PARAMS {
        return Err(ChallengeError::TooManyParams { max: MAX_PARAMS });
    }
    ch.params.push((name, value));
    Ok(())
}

/// Parses one `WWW-Authenticate` field value: `#challenge` (RFC 9110 §11.6.1), with
/// `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]` and `auth-param = token BWS
/// "=" BWS ( token / quoted-string )` (§11.2). Empty list elements are skipped; a list element
/// of the form `name=value` continues the preceding challenge's parameters; every other
/// element starts a new challenge. Parameter names are unique per challenge
/// (case-insensitively).
///
/// Several header fields are several calls: a challenge never spans two fields.
pub fn parse_challenges(value: &[u8]) -> Result<Vec<Challenge<'_>>, ChallengeError> {
    if value.len() > MAX_FIELD_LEN {
        return Err(ChallengeError::TooLong {
            len: value.len(),
            max: MAX_FIELD_LEN,
        });
    }
    let mut c = Cursor { s: value, i: 0 };
    let mut out: Vec<Challenge<'_>> = Vec::new();
    loop {
        // Empty list elements and separators (RFC 9110 §5.6.1).
        while matches!(c.peek(), Some(b' ' | b'\t' | b',')) {
            c.i += 1;
        }
        if c.at_end() {
            break;
        }
        let start = c.i;
        let Some(name) = c.token() else {
            return Err(ChallengeError::ExpectedScheme { offset: start });
        };
        let after_name = c.i;
        let gap = c.skip_ows();
        if c.peek() == Some(b'=') {
            // `name=value`: another parameter of the current challenge.
            c.i = after_name;
            let value = c.param_value()?;
            c.end_of_element()?;
            match out.last_mut() {
                Some(ch) if ch.token68.is_none() => add_param(ch, name, value, start)?,
                _ => return Err(ChallengeError::StrayParam { offset: start }),
            }
            continue;
        }
        // A new challenge with scheme `name`.
        if out.len() >= MAX_CHALLENGES {
            return Err(ChallengeError::TooManyChallenges {
                max: MAX_CHALLENGES,
            });
        }
        let mut ch = Challenge {
            scheme: name,
            token68: None,
            params: Vec::new(),
        };
        match c.peek() {
            None | Some(b',') => {}
            Some(_) if gap == 0 => return Err(ChallengeError::ExpectedComma { offset: c.i }),
            Some(_) => {
                if let Some(t) = c.try_token68() {
                    ch.token68 = Some(t);
                } else {
                    let at = c.i;
                    let Some(pname) = c.token() else {
                        return Err(ChallengeError::ExpectedParam { offset: at });
                    };
                    let value = c.param_value()?;
                    add_param(&mut ch, pname, value, at)?;
                }
                c.end_of_element()?;
            }
        }
        out.push(ch);
    }
    Ok(out)
}

/// Whether any `DPoP` challenge in these `WWW-Authenticate` field values says
/// `error="use_dpop_nonce"` (RFC 9449 §9). A field that does not parse is skipped; its error
/// is returned only when no other field answers `true`.
pub fn is_use_dpop_nonce_challenge(fields: &[&[u8]]) -> Result<bool, ChallengeError> {
    let mut first_err = None;
    for field in fields {
        match parse_challenges(field) {
            Ok(chs) => {
                if chs.iter().any(|ch| {
                    ch.is_scheme("DPoP") && ch.param("error") == Some(b"use_dpop_nonce".as_slice())
                }) {
                    return Ok(true);
                }
            }
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    first_err.map_or(Ok(false), Err)
}

/// Why a `DPoP-Nonce` header is not usable (RFC 9449 §8.1: exactly one `1*NQCHAR` value).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceHeaderError {
    /// More than one `DPoP-Nonce` field.
    Multiple {
        /// How many fields.
        count: usize,
    },
    /// The value is empty.
    Empty,
    /// The value is longer than [`MAX_NONCE_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A byte outside `NQCHAR` (`%x21 / %x23-5B / %x5D-7E`).
    InvalidChar {
        /// Position of the byte in the (trimmed) value.
        offset: usize,
    },
}

impl fmt::Display for NonceHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Multiple { count } => write!(f, "{count} DPoP-Nonce values, expected one"),
            Self::Empty => f.write_str("empty DPoP-Nonce value"),
            Self::TooLong { len, max } => {
                write!(f, "DPoP-Nonce value of {len} bytes exceeds {max}")
            }
            Self::InvalidChar { offset } => {
                write!(f, "DPoP-Nonce byte {offset} is not an NQCHAR")
            }
        }
    }
}

impl core::error::Error for NonceHeaderError {}

/// The nonce of a response's `DPoP-Nonce` field values (RFC 9449 §8.1): `Ok(None)` when there
/// is none, the value when there is exactly one and it is `1*NQCHAR` (surrounding SP / HTAB
/// trimmed), an error otherwise.
pub fn parse_dpop_nonce<'a>(fields: &[&'a [u8]]) -> Result<Option<&'a str>, NonceHeaderError> {
    let value = match fields {
        [] => return Ok(None),
        [one] => *one,
        more => return Err(NonceHeaderError::Multiple { count: more.len() }),
    };
    let start = value
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(value.len());
    let end = value
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |p| p + 1);
    let v = value.get(start..end).unwrap_or_default();
    if v.is_empty() {
        return Err(NonceHeaderError::Empty);
    }
    if v.len() > MAX_NONCE_LEN {
        return Err(NonceHeaderError::TooLong {
            len: v.len(),
            max: MAX_NONCE_LEN,
        });
    }
    if let Some(offset) = v
        .iter()
        .position(|&c| !matches!(c, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    {
        return Err(NonceHeaderError::InvalidChar { offset });
    }
    // Every byte is ASCII here.
    match core::str::from_utf8(v) {
        Ok(s) if keybound_dpop::nonce::is_valid_nonce(s) => Ok(Some(s)),
        _ => Err(NonceHeaderError::InvalidChar { offset: 0 }),
    }
}

/// Whether a response body is an OAuth error object whose `error` is `use_dpop_nonce`
/// (RFC 9449 §8, RFC 6749 §5.2), read strictly ([`keybound_json`]: duplicate members,
/// trailing data and bad syntax make it "no"). Bodies over [`MAX_ERROR_BODY`] are "no".
pub fn is_use_dpop_nonce_body(body: &[u8]) -> bool {
    if body.len() > MAX_ERROR_BODY {
        return false;
    }
    keybound_json::Object::parse(body)
        .ok()
        .and_then(|o| o.get("error"))
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.eq_str("use_dpop_nonce"))
}
