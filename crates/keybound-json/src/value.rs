//! Borrowed views of validated JSON values.

use core::fmt;

use crate::scan::{Elements, Members};
use crate::validate::Validator;
use crate::{JsonError, Limits};

/// A validated JSON object (RFC 8259 §4), borrowed from the input.
///
/// Only [`Object::parse`] and [`Object::parse_with`] make one from bytes, so every object
/// (and every value reached from it) satisfies the grammar and the limits.
#[derive(Clone, Copy)]
pub struct Object<'a> {
    text: &'a str,
    len: usize,
}

impl<'a> Object<'a> {
    pub(crate) fn new(text: &'a str, len: usize) -> Self {
        Self { text, len }
    }

    /// Parses a JSON text whose top-level value is an object (RFC 8259 §2), with
    /// [`Limits::default`].
    pub fn parse(input: &'a [u8]) -> Result<Self, JsonError> {
        Self::parse_with(input, &Limits::DEFAULT)
    }

    /// Parses a JSON text whose top-level value is an object (RFC 8259 §2) within `limits`.
    pub fn parse_with(input: &'a [u8], limits: &Limits) -> Result<Self, JsonError> {
        Self::parse_inner(input, limits, &mut [])
    }

    /// [`Object::parse_with`], returning with the object the values of the top-level members
    /// named in `names` (compared after unescaping, RFC 8259 §8.3), in the order of `names`.
    /// Errors are exactly those of [`Object::parse_with`] (duplicates included, RFC 8259 §4).
    ///
    /// The values are taken during the validating pass, so nothing is read twice: the same
    /// answer as [`Object::pick`] on the parsed object, for less work.
    ///
    /// ```
    /// use keybound_json::{Limits, Object};
    /// let (obj, [typ, alg, kid]) =
    ///     Object::parse_picking(br#"{"alg":"ES256","typ":"dpop+jwt"}"#, &Limits::DEFAULT, ["typ", "alg", "kid"])?;
    /// assert_eq!(obj.len(), 2);
    /// assert!(typ.and_then(|v| v.as_str()).is_some_and(|s| s == "dpop+jwt"));
    /// assert!(alg.is_some() && kid.is_none());
    /// # Ok::<(), keybound_json::JsonError>(())
    /// ```
    pub fn parse_picking<const N: usize>(
        input: &'a [u8],
        limits: &Limits,
        names: [&str; N],
    ) -> Result<(Self, [Option<Value<'a>>; N]), JsonError> {
        let mut picks = names.map(|name| (name, None));
        let object = Self::parse_inner(input, limits, &mut picks)?;
        Ok((object, picks.map(|(_, value)| value)))
    }

    fn parse_inner(
        input: &'a [u8],
        limits: &Limits,
        picks: &mut [(&str, Option<Value<'a>>)],
    ) -> Result<Self, JsonError> {
        if input.len() > limits.max_len {
            return Err(JsonError::TooLarge {
                len: input.len(),
                max: limits.max_len,
            });
        }
        let text = core::str::from_utf8(input).map_err(|e| JsonError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })?;
        let mut v = Validator::new(text, limits);
        v.skip_ws();
        let start = v.pos();
        match v.peek() {
            Some(b'{') => {}
            None => return Err(JsonError::UnexpectedEnd { offset: start }),
            Some(_) => return Err(JsonError::NotAnObject { offset: start }),
        }
        let len = v.object_picking(1, picks)?;
        let end = v.pos();
        v.skip_ws();
        if v.pos() != text.len() {
            return Err(JsonError::TrailingData { offset: v.pos() });
        }
        let text = text
            .get(start..end)
            .ok_or(JsonError::UnexpectedEnd { offset: end })?;
        Ok(Self { text, len })
    }

    /// The value of the member named `name` (compared after unescaping, RFC 8259 §8.3).
    pub fn get(&self, name: &str) -> Option<Value<'a>> {
        self.members().find(|(n, _)| n.eq_str(name)).map(|(_, v)| v)
    }

    /// The values of the members named in `names` (compared after unescaping, RFC 8259 §8.3),
    /// in the order of `names`, from one pass over the members (names are unique, so each has
    /// at most one).
    pub fn pick<const N: usize>(&self, names: [&str; N]) -> [Option<Value<'a>>; N] {
        let mut out = [None; N];
        for (name, value) in self.members() {
            let found = match name.as_plain() {
                Some(plain) => names.iter().position(|n| *n == plain),
                None => names.iter().position(|n| name.eq_str(n)),
            };
            if let Some(slot) = found.and_then(|i| out.get_mut(i)) {
                *slot = Some(value);
            }
        }
        out
    }

    /// The members in document order (RFC 8259 §4); names are unique.
    pub fn members(&self) -> Members<'a> {
        Members::over(self.text)
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the object has no members.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw text of the object, from `{` to `}`.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The raw text of the object, from `{` to `}`.
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.members()).finish()
    }
}

impl<'a> IntoIterator for Object<'a> {
    type Item = (Str<'a>, Value<'a>);
    type IntoIter = Members<'a>;
    fn into_iter(self) -> Members<'a> {
        self.members()
    }
}

/// A JSON value (RFC 8259 §3), borrowed from a validated object.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub enum Value<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number (RFC 8259 §6).
    Number(Number<'a>),
    /// A string (RFC 8259 §7).
    String(Str<'a>),
    /// An array (RFC 8259 §5).
    Array(Array<'a>),
    /// An object (RFC 8259 §4).
    Object(Object<'a>),
}

impl<'a> Value<'a> {
    /// The string, when this is one.
    pub fn as_str(&self) -> Option<Str<'a>> {
        match *self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The object, when this is one.
    pub fn as_object(&self) -> Option<Object<'a>> {
        match *self {
            Self::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The array, when this is one.
    pub fn as_array(&self) -> Option<Array<'a>> {
        match *self {
            Self::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The number, when this is one.
    pub fn as_number(&self) -> Option<Number<'a>> {
        match *self {
            Self::Number(n) => Some(n),
            _ => None,
        }
    }

    /// The value of an integer-syntax number that fits `i64` (see [`Number::as_i64`]).
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(|n| n.as_i64())
    }

    /// The boolean, when this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The RFC 8259 name of the value's type, for error messages: `"null"`, `"boolean"`,
    /// `"number"`, `"string"`, `"array"` or `"object"`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Number(_) => "number",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }
}

/// A validated JSON number (RFC 8259 §6), kept as written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Number<'a> {
    raw: &'a str,
}

impl<'a> Number<'a> {
    pub(crate) fn new(raw: &'a str) -> Self {
        Self { raw }
    }

    /// The number as written in the input.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the number is written without fraction or exponent (RFC 8259 §6 `int`).
    pub fn is_integer(&self) -> bool {
        !self.raw.bytes().any(|b| matches!(b, b'.' | b'e' | b'E'))
    }

    /// The value, for integer syntax that fits `i64` (`1e3` and `1.0` give `None`, as an
    /// RFC 7519 NumericDate such as RFC 9449 `iat` is compared as an integer here).
    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer() {
            self.raw.parse().ok()
        } else {
            None
        }
    }

    /// The value, for integer syntax that fits `u64` (`-0` gives `Some(0)`).
    pub fn as_u64(&self) -> Option<u64> {
        if !self.is_integer() {
            return None;
        }
        match self.raw {
            "-0" => Some(0),
            r => r.parse().ok(),
        }
    }
}

impl fmt::Debug for Number<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.raw)
    }
}

/// A validated JSON array (RFC 8259 §5), borrowed from the input.
#[derive(Clone, Copy)]
pub struct Array<'a> {
    text: &'a str,
    len: usize,
}

impl<'a> Array<'a> {
    pub(crate) fn new(text: &'a str, len: usize) -> Self {
        Self { text, len }
    }

    /// The elements in document order.
    pub fn iter(&self) -> Elements<'a> {
        Elements::over(self.text)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The raw text of the array, from `[` to `]`.
    pub fn as_str(&self) -> &'a str {
        self.text
    }
}

impl fmt::Debug for Array<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> IntoIterator for Array<'a> {
    type Item = Value<'a>;
    type IntoIter = Elements<'a>;
    fn into_iter(self) -> Elements<'a> {
        self.iter()
    }
}

/// A validated JSON string (RFC 8259 §7); escapes are kept as written until asked for.
#[derive(Clone, Copy)]
pub struct Str<'a> {
    raw: &'a str,
    /// No backslash in `raw` (known from the scan that found the string).
    plain: bool,
}

impl<'a> Str<'a> {
    pub(crate) fn with_plain(raw: &'a str, plain: bool) -> Self {
        Self { raw, plain }
    }

    /// The text between the quotes, escapes as written.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The text, when it has no escapes (so raw and unescaped text are the same).
    pub fn as_plain(&self) -> Option<&'a str> {
        if self.plain { Some(self.raw) } else { None }
    }

    /// The unescaped characters (RFC 8259 §7), surrogate pairs combined.
    pub fn chars(&self) -> UnescapedChars<'a> {
        UnescapedChars {
            rest: self.raw.chars(),
        }
    }

    /// Whether the unescaped value equals `s` (RFC 8259 §8.3 comparison).
    pub fn eq_str(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(p) => p == s,
            None => self.chars().eq(s.chars()),
        }
    }

    /// Length in bytes of the unescaped value, encoded as UTF-8.
    pub fn unescaped_len(&self) -> usize {
        match self.as_plain() {
            Some(p) => p.len(),
            None => self.chars().map(char::len_utf8).sum(),
        }
    }

    /// Writes the unescaped value into `buf` and returns it.
    pub fn unescape_into<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, JsonError> {
        let needed = self.unescaped_len();
        let Some(out) = buf.get_mut(..needed) else {
            return Err(JsonError::BufferTooSmall { needed });
        };
        let mut at = 0usize;
        for c in self.chars() {
            let Some(slot) = out.get_mut(at..) else {
                return Err(JsonError::BufferTooSmall { needed });
            };
            if slot.len() < c.len_utf8() {
                return Err(JsonError::BufferTooSmall { needed });
            }
            at += c.encode_utf8(slot).len();
        }
        core::str::from_utf8(out).map_err(|e| JsonError::InvalidUtf8 {
            offset: e.valid_up_to(),
        })
    }

    /// The unescaped value, borrowed when it has no escapes.
    #[cfg(feature = "alloc")]
    pub fn to_cow(&self) -> alloc::borrow::Cow<'a, str> {
        match self.as_plain() {
            Some(p) => alloc::borrow::Cow::Borrowed(p),
            None => alloc::borrow::Cow::Owned(self.chars().collect()),
        }
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq<&str> for Str<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        f.write_str(self.raw)?;
        f.write_str("\"")
    }
}

impl fmt::Display for Str<'_> {
    /// The unescaped value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        match self.as_plain() {
            Some(p) => f.write_str(p),
            None => self.chars().try_for_each(|c| f.write_char(c)),
        }
    }
}

/// The characters of a [`Str`] after unescaping (see [`Str::chars`]).
#[derive(Clone, Debug)]
pub struct UnescapedChars<'a> {
    rest: core::str::Chars<'a>,
}

impl UnescapedChars<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 4) | self.rest.next()?.to_digit(16)?;
        }
        Some(v)
    }
}

impl Iterator for UnescapedChars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        let c = self.rest.next()?;
        if c != '\\' {
            return Some(c);
        }
        Some(match self.rest.next()? {
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'u' => {
                let hi = self.hex4()?;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    // The validator guarantees a `\uDC00`..`\uDFFF` follows.
                    self.rest.next()?;
                    self.rest.next()?;
                    let lo = self.hex4()?;
                    0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF)
                } else {
                    hi
                };
                char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)
            }
            other => other, // `"`, `\` and `/` stand for themselves
        })
    }
}

impl core::iter::FusedIterator for UnescapedChars<'_> {}
