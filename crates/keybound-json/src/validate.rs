//! One pass over the input that proves it is an RFC 8259 object within the limits.
//!
//! Everything else in the crate reads text that went through here, so the readers in
//! `scan.rs` may assume the grammar holds (and still never panic when it does not).

use crate::{Array, JsonError, Limits, Number, Object, Str, Value, scan};

/// Depth the validator recurses to at most, whatever the caller's limits say, so the
/// stack it needs stays bounded on small targets.
pub(crate) const DEPTH_CEILING: usize = 128;

/// Member names remembered per parse for the duplicate check; beyond that the object
/// text is scanned again (slower, same answer).
const NAME_CACHE: usize = 64;

/// Flag bit in a cached name's end offset: the name has no escapes. Names that end at or
/// past it are not cached (only inputs over 2 GiB have them).
const PLAIN: u32 = 1 << 31;

/// A name span packed for the cache, `None` when the offsets do not fit.
fn pack(name: (usize, usize, bool)) -> Option<(u32, u32)> {
    let start = u32::try_from(name.0).ok()?;
    let end = u32::try_from(name.1).ok().filter(|e| e & PLAIN == 0)?;
    Some((start, if name.2 { end | PLAIN } else { end }))
}

pub(crate) struct Validator<'a> {
    text: &'a str,
    pos: usize,
    max_depth: usize,
    max_members: usize,
    /// Name spans (between the quotes) as `(start, end | PLAIN)`, [`PLAIN`] set when the
    /// name has no escapes; 8 bytes each keeps the per-parse setup small.
    names: [(u32, u32); NAME_CACHE],
    names_len: usize,
}

impl<'a> Validator<'a> {
    pub(crate) fn new(text: &'a str, limits: &Limits) -> Self {
        Self {
            text,
            pos: 0,
            max_depth: limits.max_depth.min(DEPTH_CEILING),
            max_members: limits.max_members,
            names: [(0, 0); NAME_CACHE],
            names_len: 0,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    pub(crate) fn skip_ws(&mut self) {
        self.pos = scan::skip_ws(self.bytes(), self.pos);
    }

    /// The error for an unexpected byte, or for the end of input.
    fn unexpected(&self, expected: &'static str) -> JsonError {
        if self.pos >= self.text.len() {
            JsonError::UnexpectedEnd {
                offset: self.text.len(),
            }
        } else {
            JsonError::Syntax {
                offset: self.pos,
                expected,
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), JsonError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1).map(|_| ()),
            Some(b'[') => self.array(depth + 1).map(|_| ()),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected("a value")),
        }
    }

    /// Like [`Self::value`], and returns the view of the value just validated (the
    /// validator already knows its extent, member count and escapes).
    fn value_view(&mut self, depth: usize) -> Result<Value<'a>, JsonError> {
        let start = self.pos;
        let text = self.text;
        let span = |end: usize| {
            text.get(start..end)
                .ok_or(JsonError::UnexpectedEnd { offset: text.len() })
        };
        Ok(match self.peek() {
            Some(b'{') => {
                let len = self.object(depth + 1)?;
                Value::Object(Object::new(span(self.pos)?, len))
            }
            Some(b'[') => {
                let len = self.array(depth + 1)?;
                Value::Array(Array::new(span(self.pos)?, len))
            }
            Some(b'"') => {
                let plain = self.string()?;
                let raw = text
                    .get(start + 1..self.pos - 1)
                    .ok_or(JsonError::UnexpectedEnd { offset: text.len() })?;
                Value::String(Str::with_plain(raw, plain))
            }
            Some(b't') => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            Some(b'f') => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            Some(b'n') => {
                self.literal(b"null")?;
                Value::Null
            }
            Some(b'-' | b'0'..=b'9') => {
                self.number()?;
                Value::Number(Number::new(span(self.pos)?))
            }
            _ => return Err(self.unexpected("a value")),
        })
    }

    fn literal(&mut self, word: &'static [u8]) -> Result<(), JsonError> {
        let end = self.pos + word.len();
        match self.bytes().get(self.pos..end) {
            Some(w) if w == word => {
                self.pos = end;
                Ok(())
            }
            _ => Err(JsonError::Syntax {
                offset: self.pos,
                expected: "true, false or null",
            }),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    /// RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    fn number(&mut self) -> Result<(), JsonError> {
        let start = self.pos;
        let bad = JsonError::InvalidNumber { offset: start };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(bad);
                }
            }
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(bad),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(bad);
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(bad);
            }
        }
        Ok(())
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, JsonError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => {
                    return Err(JsonError::UnexpectedEnd {
                        offset: self.text.len(),
                    });
                }
                Some(_) => return Err(JsonError::InvalidEscape { offset: escape_at }),
            };
            v = (v << 4) | u32::from(d);
            self.pos += 1;
        }
        Ok(v)
    }

    /// At a backslash inside a string (RFC 8259 §7).
    fn escape(&mut self) -> Result<(), JsonError> {
        let at = self.pos;
        self.pos += 1;
        match self.peek() {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                self.pos += 1;
                Ok(())
            }
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(at)?;
                if (0xDC00..0xE000).contains(&unit) {
                    return Err(JsonError::LoneSurrogate { offset: at });
                }
                if (0xD800..0xDC00).contains(&unit) {
                    let low_at = self.pos;
                    if self.bytes().get(low_at..low_at + 2) != Some(b"\\u") {
                        return Err(JsonError::LoneSurrogate { offset: at });
                    }
                    self.pos += 2;
                    let low = self.hex4(low_at)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(JsonError::LoneSurrogate { offset: at });
                    }
                }
                Ok(())
            }
            None => Err(JsonError::UnexpectedEnd {
                offset: self.text.len(),
            }),
            Some(_) => Err(JsonError::InvalidEscape { offset: at }),
        }
    }

    /// At the opening quote of a string; leaves `pos` after the closing quote and tells
    /// whether the string has no escapes.
    fn string(&mut self) -> Result<bool, JsonError> {
        self.pos += 1;
        let mut plain = true;
        loop {
            // Skip plain characters eight at a time; the whole input is valid UTF-8 already.
            self.pos = scan::find_special(self.bytes(), self.pos, true);
            match self.peek() {
                None => {
                    return Err(JsonError::UnexpectedEnd {
                        offset: self.text.len(),
                    });
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(plain);
                }
                Some(b'\\') => {
                    plain = false;
                    self.escape()?;
                }
                Some(0x00..=0x1F) => return Err(JsonError::ControlCharacter { offset: self.pos }),
                // Unreachable: `find_special` stops only at the bytes above.
                Some(_) => self.pos += 1,
            }
        }
    }

    /// At `[`; returns the number of elements and leaves `pos` after the `]`.
    fn array(&mut self, depth: usize) -> Result<usize, JsonError> {
        if depth > self.max_depth {
            return Err(JsonError::TooDeep {
                offset: self.pos,
                max: self.max_depth,
            });
        }
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(0);
        }
        let mut count = 0usize;
        loop {
            self.skip_ws();
            self.value(depth)?;
            count += 1;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(count);
                }
                _ => return Err(self.unexpected("',' or ']'")),
            }
        }
    }

    /// At `{`; returns the number of members and leaves `pos` after the `}`.
    pub(crate) fn object(&mut self, depth: usize) -> Result<usize, JsonError> {
        self.object_picking(depth, &mut [])
    }

    /// [`Self::object`] that also stores, in `picks`, the value of each member whose name
    /// (after unescaping) is one of the names given there; the others are left as they are.
    pub(crate) fn object_picking(
        &mut self,
        depth: usize,
        picks: &mut [(&str, Option<Value<'a>>)],
    ) -> Result<usize, JsonError> {
        if depth > self.max_depth {
            return Err(JsonError::TooDeep {
                offset: self.pos,
                max: self.max_depth,
            });
        }
        let start = self.pos;
        self.pos += 1;
        let cache_base = self.names_len;
        let mut cached = 0usize;
        let mut count = 0usize;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(0);
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected("a member name"));
            }
            let name_at = self.pos;
            let plain = self.string()?;
            let name = (name_at + 1, self.pos - 1, plain);
            if count >= self.max_members {
                return Err(JsonError::TooManyMembers {
                    offset: name_at,
                    max: self.max_members,
                });
            }
            if self.seen_before(start, cache_base, cached, count, name) {
                return Err(JsonError::DuplicateMember { offset: name_at });
            }
            count += 1;
            if cached + 1 == count
                && let Some(slot) = self.names.get_mut(cache_base + cached)
                && let Some(packed) = pack(name)
            {
                *slot = packed;
                cached += 1;
                self.names_len = cache_base + cached;
            }
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':'"));
            }
            self.pos += 1;
            self.skip_ws();
            if picks.is_empty() {
                self.value(depth)?;
            } else {
                let value = self.value_view(depth)?;
                let raw = self.text.get(name.0..name.1).unwrap_or_default();
                let name = Str::with_plain(raw, name.2);
                let slot = picks.iter_mut().find(|(wanted, _)| match name.as_plain() {
                    Some(plain) => scan::bytes_eq(plain.as_bytes(), wanted.as_bytes()),
                    None => name.eq_str(wanted),
                });
                if let Some((_, slot)) = slot {
                    *slot = Some(value);
                }
            }
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.unexpected("',' or '}'")),
            }
        }
        self.names_len = cache_base;
        Ok(count)
    }

    /// Whether `name` equals (after unescaping) the name of an earlier member of the object
    /// that starts at `obj_start`.
    fn seen_before(
        &self,
        obj_start: usize,
        cache_base: usize,
        cached: usize,
        count: usize,
        name: (usize, usize, bool),
    ) -> bool {
        let text = self.text;
        let Some(new) = text.get(name.0..name.1) else {
            return false;
        };
        let in_cache = self
            .names
            .get(cache_base..cache_base + cached)
            .unwrap_or(&[])
            .iter()
            .any(|&(s, e)| {
                let plain = e & PLAIN != 0;
                text.get(s as usize..(e & !PLAIN) as usize)
                    .is_some_and(|old| scan::raw_names_equal_plain(old, plain, new, name.2))
            });
        if in_cache || cached == count {
            return in_cache;
        }
        // Names past the cache: walk the members of this object written so far.
        let Some(prefix) = text.get(obj_start..name.0.saturating_sub(1)) else {
            return false;
        };
        scan::Members::over(prefix).skip(cached).any(|(old, _)| {
            scan::raw_names_equal_plain(old.raw(), old.as_plain().is_some(), new, name.2)
        })
    }
}
