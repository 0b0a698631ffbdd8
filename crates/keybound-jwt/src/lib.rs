#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod jwks;
mod mint;
mod validate;

pub use error::{JwksError, TokenClaim, TokenError};
pub use jwks::{Jwks, JwksKey, MAX_JWKS_KEYS, MAX_JWKS_LEN, SkipReason, SkippedKey};
pub use keybound_cnf::Confirmation;
pub use keybound_jose::{self as jose, AlgSet, Algorithm, NumericDate, SignatureVerifier};
pub use mint::{TokenClaims, mint};
pub use validate::{
    AT_JWT_TYP, AccessToken, DEFAULT_LEEWAY, MAX_TOKEN_LEN, TokenPolicy, validate_token,
};
