#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod confirmation;
mod ct;
mod thumbprint;

pub use confirmation::{
    BindingError, CnfError, Confirmation, JKT, OtherMethods, UnknownMembers, X5T_S256,
};
pub use ct::ct_eq;
pub use keybound_json;
pub use thumbprint::{
    CertThumbprint, JwkThumbprint, THUMBPRINT_B64_LEN, THUMBPRINT_LEN, ThumbprintError,
};
