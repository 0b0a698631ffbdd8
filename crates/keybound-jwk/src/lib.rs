#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod b64;
#[cfg(any(
    feature = "p256",
    feature = "p384",
    feature = "rsa",
    feature = "ed25519"
))]
mod convert;
mod error;
mod jwk;
mod params;
mod point;
pub mod uri;

pub use b64::{B64, is_canonical_b64url};
pub use error::JwkError;
pub use jwk::{Jwk, PRIVATE_MEMBERS};
pub use keybound_cnf::{self, JwkThumbprint};
pub use keybound_json;
pub use params::{EcCurve, MAX_RSA_MODULUS_BITS, OkpCurve, PublicParams};
pub use point::{PointFault, ed25519_decompresses};
