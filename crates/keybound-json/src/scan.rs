//! Readers over text that the validator accepted.
//!
//! They trust the grammar for speed (no second validation), but every access is checked,
//! so text that somehow is not valid ends an iteration early instead of panicking.

use crate::{Array, Number, Object, Str, Value};

pub(crate) fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in each byte of `x` equal to `c`; the lowest set bit is always a true match
/// (borrows only create false positives above a true one).
#[inline(always)]
fn eq_mask(x: u64, c: u8) -> u64 {
    let y = x ^ (ONES * u64::from(c));
    y.wrapping_sub(ONES) & !y & HIGHS
}

/// Index of the first byte from `i` on that is `"` or `\\` (or, when `ctrl`, below 0x20);
/// `b.len()` when there is none. Eight bytes per step over plain text.
#[inline]
pub(crate) fn find_special(b: &[u8], mut i: usize, ctrl: bool) -> usize {
    while let Some(chunk) = b.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(word);
        let mut m = eq_mask(x, b'"') | eq_mask(x, b'\\');
        if ctrl {
            // Bytes below 0x20 (bytes >= 0x80 never match: `!x` clears their high bit).
            m |= x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        }
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' || (ctrl && c < 0x20) {
            return i;
        }
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index after the closing quote and whether the
/// string is free of escapes.
#[inline]
pub(crate) fn string_end_plain(b: &[u8], i: usize) -> Option<(usize, bool)> {
    let mut j = i + 1;
    let mut plain = true;
    loop {
        j = find_special(b, j, false);
        match *b.get(j)? {
            b'"' => return Some((j + 1, plain)),
            _ => {
                plain = false;
                j += 2;
            }
        }
    }
}

/// `i` at an opening quote; returns the index after the closing quote.
pub(crate) fn string_end(b: &[u8], i: usize) -> Option<usize> {
    string_end_plain(b, i).map(|(end, _)| end)
}

/// `i` at `{` or `[`; returns the index after the matching close and the number of
/// direct children.
pub(crate) fn container_end(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let first = skip_ws(b, i + 1);
    let empty = matches!(b.get(first), Some(b'}' | b']'));
    let mut depth = 0usize;
    let mut commas = 0usize;
    let mut j = i;
    loop {
        match *b.get(j)? {
            b'"' => {
                j = string_end(b, j)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some((j + 1, if empty { 0 } else { commas + 1 }));
                }
            }
            b',' if depth == 1 => commas += 1,
            _ => {}
        }
        j += 1;
    }
}

/// The value starting at `i`, and the index after it.
pub(crate) fn value_at(text: &str, i: usize) -> Option<(Value<'_>, usize)> {
    let b = text.as_bytes();
    match *b.get(i)? {
        b'"' => {
            let (end, plain) = string_end_plain(b, i)?;
            let raw = text.get(i + 1..end - 1)?;
            Some((Value::String(Str::with_plain(raw, plain)), end))
        }
        b'{' => {
            let (end, len) = container_end(b, i)?;
            Some((Value::Object(Object::new(text.get(i..end)?, len)), end))
        }
        b'[' => {
            let (end, len) = container_end(b, i)?;
            Some((Value::Array(Array::new(text.get(i..end)?, len)), end))
        }
        b't' => Some((Value::Bool(true), i + 4)),
        b'f' => Some((Value::Bool(false), i + 5)),
        b'n' => Some((Value::Null, i + 4)),
        _ => {
            let mut end = i;
            while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = b.get(end) {
                end += 1;
            }
            if end == i {
                return None;
            }
            Some((Value::Number(Number::new(text.get(i..end)?)), end))
        }
    }
}

/// Byte equality, inline: member names are short (`alg`, `jti`, …), where a call to `memcmp`
/// costs more than the comparison.
#[inline]
pub(crate) fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// Whether two raw (escaped) member names denote the same string, each with its
/// "no escapes" flag.
#[inline]
pub(crate) fn raw_names_equal_plain(a: &str, a_plain: bool, b: &str, b_plain: bool) -> bool {
    if a_plain && b_plain {
        return bytes_eq(a.as_bytes(), b.as_bytes());
    }
    if bytes_eq(a.as_bytes(), b.as_bytes()) {
        return true;
    }
    Str::with_plain(a, a_plain)
        .chars()
        .eq(Str::with_plain(b, b_plain).chars())
}

/// Iterator over the members of an object, in document order (see [`Object::members`]).
#[derive(Clone, Debug)]
pub struct Members<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Members<'a> {
    /// `text` starts at the `{` of an object.
    pub(crate) fn over(text: &'a str) -> Self {
        Self { text, pos: 1 }
    }
}

impl<'a> Iterator for Members<'a> {
    type Item = (Str<'a>, Value<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        let b = text.as_bytes();
        let mut i = skip_ws(b, self.pos);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        if b.get(i) != Some(&b'"') {
            self.pos = text.len();
            return None;
        }
        let (name_end, plain) = string_end_plain(b, i)?;
        let name = Str::with_plain(text.get(i + 1..name_end - 1)?, plain);
        let colon = skip_ws(b, name_end);
        if b.get(colon) != Some(&b':') {
            self.pos = text.len();
            return None;
        }
        let Some((value, end)) = value_at(text, skip_ws(b, colon + 1)) else {
            self.pos = text.len();
            return None;
        };
        self.pos = end;
        Some((name, value))
    }
}

impl core::iter::FusedIterator for Members<'_> {}

/// Iterator over the elements of an array, in document order (see [`Array::iter`]).
#[derive(Clone, Debug)]
pub struct Elements<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Elements<'a> {
    /// `text` starts at the `[` of an array.
    pub(crate) fn over(text: &'a str) -> Self {
        Self { text, pos: 1 }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Value<'a>;

    fn next(&mut self) -> Option<Self::Item> {
        let text = self.text;
        let b = text.as_bytes();
        let mut i = skip_ws(b, self.pos);
        if b.get(i) == Some(&b',') {
            i = skip_ws(b, i + 1);
        }
        match b.get(i) {
            None | Some(b']') => {
                self.pos = text.len();
                None
            }
            Some(_) => {
                let Some((value, end)) = value_at(text, i) else {
                    self.pos = text.len();
                    return None;
                };
                self.pos = end;
                Some(value)
            }
        }
    }
}

impl core::iter::FusedIterator for Elements<'_> {}
