#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod thumbprint;

pub use keybound_json;
pub use thumbprint::{
    CertThumbprint, JwkThumbprint, THUMBPRINT_B64_LEN, THUMBPRINT_LEN, ThumbprintError,
};
