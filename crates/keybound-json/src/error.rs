//! The error type of the reader.

use core::fmt;

/// Why a JSON text was refused (RFC 8259), or why a string could not be unescaped.
///
/// Offsets are byte positions in the input given to [`Object::parse`](crate::Object::parse).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonError {
    /// The input is longer than [`Limits::max_len`](crate::Limits::max_len).
    TooLarge {
        /// Input length in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The input is not UTF-8 (RFC 8259 §8.1).
    InvalidUtf8 {
        /// First byte that is not part of a valid UTF-8 sequence.
        offset: usize,
    },
    /// The input ended inside a value.
    UnexpectedEnd {
        /// Input length.
        offset: usize,
    },
    /// A byte that the RFC 8259 grammar does not allow here.
    Syntax {
        /// Position of the byte.
        offset: usize,
        /// What the grammar expected at this position.
        expected: &'static str,
    },
    /// The top-level value is not an object.
    NotAnObject {
        /// Position of the top-level value.
        offset: usize,
    },
    /// Non-whitespace after the top-level object.
    TrailingData {
        /// Position of the first trailing byte.
        offset: usize,
    },
    /// Two members of one object have the same name after unescaping (RFC 8259 §4, RFC 7515 §5.2).
    DuplicateMember {
        /// Position of the second occurrence of the name.
        offset: usize,
    },
    /// Containers nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    TooDeep {
        /// Position of the container that is one level too deep.
        offset: usize,
        /// The configured maximum.
        max: usize,
    },
    /// An object with more members than [`Limits::max_members`](crate::Limits::max_members).
    TooManyMembers {
        /// Position of the first member name over the limit.
        offset: usize,
        /// The configured maximum.
        max: usize,
    },
    /// An unescaped control character (U+0000 to U+001F) in a string (RFC 8259 §7).
    ControlCharacter {
        /// Position of the control character.
        offset: usize,
    },
    /// A backslash escape that RFC 8259 §7 does not define.
    InvalidEscape {
        /// Position of the backslash.
        offset: usize,
    },
    /// A `\u` escape of a UTF-16 surrogate that is not part of a valid pair (RFC 8259 §8.2).
    LoneSurrogate {
        /// Position of the backslash that starts the escape.
        offset: usize,
    },
    /// A number outside the RFC 8259 §6 grammar (leading zero, `+`, missing digits, ...).
    InvalidNumber {
        /// Position of the number.
        offset: usize,
    },
    /// The buffer given to [`Str::unescape_into`](crate::Str::unescape_into) is too short.
    BufferTooSmall {
        /// Bytes needed for the unescaped string.
        needed: usize,
    },
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "JSON text of {len} bytes exceeds the limit of {max} bytes"
                )
            }
            Self::InvalidUtf8 { offset } => write!(f, "JSON text is not UTF-8 at byte {offset}"),
            Self::UnexpectedEnd { offset } => {
                write!(f, "JSON text ends unexpectedly at byte {offset}")
            }
            Self::Syntax { offset, expected } => {
                write!(f, "JSON syntax error at byte {offset}: expected {expected}")
            }
            Self::NotAnObject { offset } => {
                write!(f, "JSON value at byte {offset} is not an object")
            }
            Self::TrailingData { offset } => {
                write!(f, "trailing data after the JSON object at byte {offset}")
            }
            Self::DuplicateMember { offset } => {
                write!(f, "duplicate JSON member name at byte {offset}")
            }
            Self::TooDeep { offset, max } => {
                write!(f, "JSON nesting deeper than {max} levels at byte {offset}")
            }
            Self::TooManyMembers { offset, max } => {
                write!(
                    f,
                    "JSON object with more than {max} members at byte {offset}"
                )
            }
            Self::ControlCharacter { offset } => {
                write!(
                    f,
                    "unescaped control character in a JSON string at byte {offset}"
                )
            }
            Self::InvalidEscape { offset } => {
                write!(f, "invalid escape in a JSON string at byte {offset}")
            }
            Self::LoneSurrogate { offset } => {
                write!(
                    f,
                    "lone UTF-16 surrogate escape in a JSON string at byte {offset}"
                )
            }
            Self::InvalidNumber { offset } => write!(f, "invalid JSON number at byte {offset}"),
            Self::BufferTooSmall { needed } => {
                write!(
                    f,
                    "buffer too small for the unescaped string ({needed} bytes needed)"
                )
            }
        }
    }
}

impl core::error::Error for JsonError {}
