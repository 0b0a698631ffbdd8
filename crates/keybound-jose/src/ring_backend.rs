//! *ring* verifier (feature `ring`, std): a fast floor for servers.

use keybound_jwk::{EcCurve, Jwk, MAX_RSA_MODULUS_BITS, PublicParams};

use crate::alg::Algorithm;
use crate::ring_api::{decode, ring_api_verifier};
use crate::verify::{SignatureVerifier, VerifyError};

ring_api_verifier!(
    /// Verifier backed by *ring* 0.17: ES256, ES384, PS256, RS256, EdDSA/Ed25519.
    ///
    /// ECDSA uses the fixed-length (`r‖s`) algorithms and accepts high-S; RSA accepts 2048–8192
    /// bit moduli (the policy minimum is checked before). The key is imported from the JWK
    /// members on every call (no cache).
    RingVerifier,
    ring
);
