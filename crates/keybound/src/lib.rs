#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub use keybound_cnf as cnf;
pub use keybound_dpop as dpop;
pub use keybound_jose as jose;
pub use keybound_json as json;
pub use keybound_jwk as jwk;
#[cfg(feature = "alloc")]
pub use keybound_jwt as jwt;
pub use keybound_mtls as mtls;
#[cfg(feature = "profile")]
pub use keybound_profile as profile;

pub use keybound_cnf::{CertThumbprint, Confirmation, JwkThumbprint};

#[cfg(feature = "alloc")]
pub mod authz;
#[cfg(feature = "alloc")]
mod common;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "alloc")]
pub mod rs;

/// Seconds since the Unix epoch from the system clock (0 if the clock is before 1970).
#[cfg(feature = "std")]
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
