#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod scan;
mod validate;
mod value;
mod write;

pub use error::JsonError;
pub use scan::{Elements, Members};
pub use value::{Array, Number, Object, Str, UnescapedChars, Value};
pub use write::write_str;

/// Caps applied while parsing; anything over them is refused, never truncated.
///
/// `max_depth` counts nested objects and arrays, the top-level object being depth 1; it is
/// never raised above 128 whatever is asked, so the recursion stays shallow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of objects and arrays (default 16).
    pub max_depth: usize,
    /// Most members in any one object (default 64).
    pub max_members: usize,
    /// Longest input in bytes (default 64 KiB).
    pub max_len: usize,
}

impl Limits {
    /// The defaults: depth 16, 64 members per object, 64 KiB.
    pub const DEFAULT: Self = Self {
        max_depth: 16,
        max_members: 64,
        max_len: 64 * 1024,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}
