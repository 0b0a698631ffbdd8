#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod htu;
pub mod nonce;
pub mod replay;

mod alg;
#[cfg(feature = "aws-lc-rs")]
mod aws_lc_backend;
mod error;
mod jws;
mod policy;
#[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
mod ring_api;
#[cfg(feature = "ring")]
mod ring_backend;
#[cfg(feature = "alloc")]
mod sign;
#[cfg(feature = "alloc")]
mod validate;
mod verify;
mod wire;

pub use alg::{
    AlgSet, Algorithm, KeyKind, signing_alg_values_supported, write_signing_alg_values_json,
};
#[cfg(feature = "aws-lc-rs")]
pub use aws_lc_backend::AwsLcVerifier;
pub use error::{Claim, DpopError, Part, Reason, WireError};
#[cfg(feature = "alloc")]
pub use jws::{Claims, DecodedProof, Header};
pub use jws::{CompactParts, DPOP_TYP, MAX_JTI_LEN, MAX_PROOF_LEN, split_compact};
pub use keybound_cnf::JwkThumbprint;
pub use keybound_jwk::Jwk;
pub use policy::{
    ClientKind, DEFAULT_LEEWAY, DEFAULT_MAX_AGE, DEFAULT_MIN_RSA_BITS, Policy, Request,
};
#[cfg(feature = "ring")]
pub use ring_backend::RingVerifier;
#[cfg(feature = "alloc")]
pub use sign::{KeyError, ProofParams, SigningKey, payload_json};
#[cfg(feature = "alloc")]
pub use validate::{
    CheckedProof, Verified, check_key_fits, check_proof, validate_proof, verify_signature,
};
#[cfg(fuzzing)]
pub use verify::AcceptAllVerifier;
pub use verify::{DefaultVerifier, RustCryptoVerifier, SignatureVerifier, VerifyError};
pub use wire::{
    ATH_LEN, DPOP_HEADER, DPOP_NONCE_HEADER, Endpoint, ath, ath_matches, dpop_nonce_header_value,
    single_header_value, write_error_body, write_www_authenticate,
};
#[cfg(feature = "alloc")]
pub use wire::{ath_string, www_authenticate};
