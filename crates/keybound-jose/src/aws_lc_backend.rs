//! aws-lc-rs verifier (feature `aws-lc-rs`, std): AWS-LC, rustls' default crypto provider, and
//! the fastest backend measured here for every DPoP algorithm.

use keybound_jwk::{EcCurve, Jwk, MAX_RSA_MODULUS_BITS, PublicParams};

use crate::alg::Algorithm;
use crate::ring_api::{decode, ring_api_verifier};
use crate::verify::{SignatureVerifier, VerifyError};

ring_api_verifier!(
    /// Verifier backed by aws-lc-rs 1.x (AWS-LC, non-FIPS): ES256, ES384, PS256, RS256,
    /// EdDSA/Ed25519.
    ///
    /// The same code and contract as `RingVerifier` (feature `ring`), over aws-lc-rs's copy of
    /// *ring*'s signature API: ECDSA uses the fixed-length (`r‖s`) algorithms and accepts
    /// high-S; RSA accepts 2048–8192 bit moduli (the policy minimum is checked before). The key
    /// is imported from the JWK members on every call (no cache).
    AwsLcVerifier,
    aws_lc_rs
);
