//! aws-lc-rs verifier (feature `aws-lc-rs`, std): AWS-LC, rustls' default crypto provider.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaParameters, RsaPublicKeyComponents};

use crate::alg::Algorithm;
use crate::material::Material;
use crate::verify::{PrepareKey, SignatureVerifier, VerifyError};

/// Verifier backed by aws-lc-rs 1.x (AWS-LC, non-FIPS): ES256, ES384, PS256, RS256,
/// EdDSA/Ed25519.
///
/// ECDSA uses the fixed-length (`r‖s`) algorithms and accepts high-S; RSA accepts 2048–8192
/// bit moduli (the policy minimum is checked before). A prepared key is an AWS-LC
/// `ParsedPublicKey`: the point validated and converted, the RSA modulus set up, once.
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLcVerifier;

/// A key prepared by [`AwsLcVerifier`]: an AWS-LC parsed public key.
pub struct AwsLcKey {
    parsed: ParsedPublicKey,
    size: usize,
}

impl core::fmt::Debug for AwsLcKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AwsLcKey")
    }
}

fn ecdsa(alg: Algorithm) -> &'static signature::EcdsaVerificationAlgorithm {
    if alg == Algorithm::Es384 {
        &signature::ECDSA_P384_SHA384_FIXED
    } else {
        &signature::ECDSA_P256_SHA256_FIXED
    }
}

fn rsa(alg: Algorithm) -> &'static RsaParameters {
    if alg == Algorithm::Ps256 {
        &signature::RSA_PSS_2048_8192_SHA256
    } else {
        &signature::RSA_PKCS1_2048_8192_SHA256
    }
}

impl SignatureVerifier for AwsLcVerifier {
    fn supports(&self, alg: Algorithm) -> bool {
        Algorithm::ALL.contains(&alg)
    }

    /// AWS-LC only fails the signature for a bad key, so keybound-jwk's full checks run
    /// first (the same `jwk` verdict as the other backends).
    fn checks_keys(&self) -> bool {
        true
    }

    /// One call: AWS-LC imports the key for this verification only (building a parsed key
    /// costs more than one import; [`PrepareKey::prepare`] does it for the cache). An Ed25519
    /// key's decompression check runs only when the signature fails (AWS-LC decodes the
    /// point itself and fails a point that does not decode), to tell `jwk` from `signature`.
    fn verify(
        &self,
        alg: Algorithm,
        key: &keybound_jwk::Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        let material = Material::decode_deferring_decompression(alg, key)?;
        let ok = match &material {
            Material::Ec { alg, .. } => {
                signature::UnparsedPublicKey::new(ecdsa(*alg), material.point()).verify(msg, sig)
            }
            Material::Rsa { alg, .. } => RsaPublicKeyComponents {
                n: material.modulus(),
                e: material.exponent(),
            }
            .verify(rsa(*alg), msg, sig),
            Material::Ed25519(x) => {
                signature::UnparsedPublicKey::new(&signature::ED25519, x).verify(msg, sig)
            }
        };
        ok.map_err(|_| material.failure())
    }
}

impl PrepareKey for AwsLcVerifier {
    type Prepared = AwsLcKey;

    fn prepare(
        &self,
        alg: Algorithm,
        key: &keybound_jwk::Jwk<'_>,
    ) -> Result<AwsLcKey, VerifyError> {
        let material = Material::decode(alg, key)?;
        let parsed = match &material {
            Material::Ec { alg, .. } => ParsedPublicKey::new(ecdsa(*alg), material.point()),
            Material::Rsa { alg, .. } => RsaPublicKeyComponents {
                n: material.modulus(),
                e: material.exponent(),
            }
            .to_parsed_public_key(rsa(*alg)),
            Material::Ed25519(x) => ParsedPublicKey::new(&signature::ED25519, x),
        }
        .map_err(|_| VerifyError::InvalidKey)?;
        // AWS-LC's key object: a few hundred bytes, plus the modulus and its Montgomery
        // parameters for RSA.
        Ok(AwsLcKey {
            size: 512 + 4 * material.key_len(),
            parsed,
        })
    }

    fn verify_prepared(&self, key: &AwsLcKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        key.parsed
            .verify_sig(msg, sig)
            .map_err(|_| VerifyError::BadSignature)
    }

    fn prepared_size(key: &AwsLcKey) -> usize {
        key.size
    }
}
