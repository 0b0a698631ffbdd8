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

mod error;
mod jws;
mod policy;
#[cfg(feature = "alloc")]
mod sign;
#[cfg(feature = "alloc")]
mod validate;
mod wire;

pub use error::{Claim, DpopError, Reason, WireError};
#[cfg(feature = "alloc")]
pub use jws::{Claims, DecodedProof, Header};
pub use jws::{DPOP_TYP, MAX_JTI_LEN, MAX_PROOF_LEN, split_compact};
pub use keybound_cnf::JwkThumbprint;
#[cfg(fuzzing)]
pub use keybound_jose::AcceptAllVerifier;
#[cfg(feature = "aws-lc-rs")]
pub use keybound_jose::AwsLcVerifier;
#[cfg(feature = "alloc")]
pub use keybound_jose::KeyError;
#[cfg(feature = "ring")]
pub use keybound_jose::RingVerifier;
/// The JWS layer under proofs (re-exported: algorithms, verifiers, compact serialization).
pub use keybound_jose::{self as jose};
pub use keybound_jose::{
    AlgSet, Algorithm, CompactParts, DefaultVerifier, KeyKind, KeyMismatch, NumericDate, Part,
    RustCryptoVerifier, SignatureVerifier, VerifyError, signing_alg_values_supported,
    write_signing_alg_values_json,
};
pub use keybound_jwk::Jwk;
pub use policy::{
    ClientKind, DEFAULT_LEEWAY, DEFAULT_MAX_AGE, DEFAULT_MIN_RSA_BITS, Policy, Request,
};
#[cfg(feature = "alloc")]
pub use sign::{ProofParams, SigningKey, payload_json};
#[cfg(feature = "alloc")]
pub use validate::{
    CheckedProof, Verified, check_key_fits, check_proof, validate_proof, verify_signature,
};
pub use wire::{
    ATH_LEN, DPOP_HEADER, DPOP_NONCE_HEADER, Endpoint, ath, ath_matches, dpop_nonce_header_value,
    single_header_value, write_error_body, write_www_authenticate,
};
#[cfg(feature = "alloc")]
pub use wire::{ath_string, www_authenticate};
