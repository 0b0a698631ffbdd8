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
pub use keybound_json as json;
pub use keybound_jwk as jwk;
pub use keybound_mtls as mtls;
pub use keybound_profile as profile;
