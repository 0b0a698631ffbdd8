//! *ring* verifier (feature `ring`, std).

use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use crate::alg::Algorithm;
use crate::material::{Material, verify_by_preparing};
use crate::verify::{PrepareKey, VerifyError};

/// Verifier backed by *ring* 0.17: ES256, ES384, PS256, RS256, EdDSA/Ed25519.
///
/// ECDSA uses the fixed-length (`r‖s`) algorithms and accepts high-S; RSA accepts 2048–8192
/// bit moduli (the policy minimum is checked before). *ring* has no parsed public-key type, so
/// a prepared key is the checked, decoded material and *ring* imports it on every call.
#[derive(Clone, Copy, Debug, Default)]
pub struct RingVerifier;

/// A key prepared by [`RingVerifier`]: checked and decoded key material.
#[derive(Clone)]
pub struct RingKey(Material);

impl core::fmt::Debug for RingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RingKey")
    }
}

verify_by_preparing!(RingVerifier);

impl PrepareKey for RingVerifier {
    type Prepared = RingKey;

    fn prepare(&self, alg: Algorithm, key: &keybound_jwk::Jwk<'_>) -> Result<RingKey, VerifyError> {
        Material::decode(alg, key).map(RingKey)
    }

    fn verify_prepared(&self, key: &RingKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        let ok = match &key.0 {
            Material::Ec { alg, .. } => {
                let def = if *alg == Algorithm::Es384 {
                    &signature::ECDSA_P384_SHA384_FIXED
                } else {
                    &signature::ECDSA_P256_SHA256_FIXED
                };
                UnparsedPublicKey::new(def, key.0.point()).verify(msg, sig)
            }
            Material::Rsa { alg, .. } => {
                let params = if *alg == Algorithm::Ps256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                RsaPublicKeyComponents {
                    n: key.0.modulus(),
                    e: key.0.exponent(),
                }
                .verify(params, msg, sig)
            }
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x).verify(msg, sig),
        };
        ok.map_err(|_| VerifyError::BadSignature)
    }

    fn prepared_size(_key: &RingKey) -> usize {
        core::mem::size_of::<RingKey>()
    }
}
