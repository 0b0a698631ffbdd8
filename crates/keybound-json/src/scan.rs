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

/// `i` at an opening quote; returns the index after the closing quote.
pub(crate) fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += b.get(j..)?.iter().position(|&c| c == b'"' || c == b'\\')?;
        match *b.get(j)? {
            b'"' => return Some(j + 1),
            _ => j += 2,
        }
    }
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
            let end = string_end(b, i)?;
            let raw = text.get(i + 1..end - 1)?;
            Some((Value::String(Str::new(raw)), end))
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

/// Whether two raw (escaped) member names denote the same string.
pub(crate) fn raw_names_equal(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (sa, sb) = (Str::new(a), Str::new(b));
    match (sa.as_plain(), sb.as_plain()) {
        (Some(_), Some(_)) => false,
        _ => sa.chars().eq(sb.chars()),
    }
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
        let name_end = string_end(b, i)?;
        let name = Str::new(text.get(i + 1..name_end - 1)?);
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
