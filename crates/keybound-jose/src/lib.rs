#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod alg;
#[cfg(feature = "aws-lc-rs")]
mod aws_lc_backend;
#[cfg(feature = "std")]
mod cache;
mod compact;
mod error;
mod fastest;
mod key;
#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
mod material;
mod numeric_date;
#[cfg(feature = "ring")]
mod ring_backend;
mod rustcrypto;
#[cfg(feature = "alloc")]
mod sign;
mod typ;
mod verify;

pub use alg::{
    AlgSet, Algorithm, KeyKind, signing_alg_values_supported, write_signing_alg_values_json,
};
#[cfg(feature = "aws-lc-rs")]
pub use aws_lc_backend::{AwsLcKey, AwsLcVerifier};
#[cfg(feature = "std")]
pub use cache::{CacheStats, CachedVerifier, DEFAULT_CACHE_BYTES, DEFAULT_CACHE_ENTRIES};
pub use compact::{
    CompactParts, SegmentEnds, b64_decode_into, b64_decoded_len, decode_segments, decoded_total,
    split_compact,
};
pub use error::{Fault, JoseError, KeyMismatch, KeyMismatchText, Part};
pub use fastest::{Backend, FastKey, FastestVerifier};
pub use key::{MIN_RSA_BITS_FLOOR, check_key_fits, check_key_members, check_key_shape};
pub use keybound_jwk::{self, Jwk};
pub use numeric_date::NumericDate;
#[cfg(feature = "ring")]
pub use ring_backend::{RingKey, RingVerifier};
pub use rustcrypto::{RustCryptoKey, RustCryptoVerifier};
#[cfg(feature = "alloc")]
pub use sign::{KeyError, SigningKey};
pub use typ::typ_matches;
#[cfg(fuzzing)]
pub use verify::AcceptAllVerifier;
pub use verify::{
    DefaultVerifier, PrepareKey, SignatureVerifier, VerifyError, verify_signature,
    verify_signature_with_thumbprint,
};
