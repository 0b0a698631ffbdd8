//! aws-lc-rs verifier (feature `aws-lc-rs`, std): AWS-LC, rustls' default crypto provider, and
//! the fastest backend measured here for every DPoP algorithm.

use aws_lc_rs::signature;
use keybound_jwk::{B64, EcCurve, Jwk, MAX_RSA_MODULUS_BITS, PublicParams};

use crate::alg::Algorithm;
use crate::error::Part;
use crate::jws::b64_decode_into;
use crate::verify::{SignatureVerifier, VerifyError};

/// Decodes a JWK member that `keybound_jwk` has already validated as canonical base64url, with
/// the crate's fast decoder (key material is public; see the *ring* backend).
fn decode<'o>(text: &B64<'_>, out: &'o mut [u8]) -> Result<&'o [u8], VerifyError> {
    b64_decode_into(text.as_str(), out, Part::Header).map_err(|_| VerifyError::InvalidKey)
}

/// Verifier backed by aws-lc-rs 1.x (AWS-LC, non-FIPS): ES256, ES384, PS256, RS256,
/// EdDSA/Ed25519.
///
/// The same contract as `RingVerifier` (feature `ring`): ECDSA uses the fixed-length
/// (`r‖s`) algorithms and accepts high-S; RSA accepts 2048–8192 bit moduli (the policy minimum
/// is checked before). The key is imported from the JWK members on every call (no cache).
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLcVerifier;

impl SignatureVerifier for AwsLcVerifier {
    fn supports(&self, alg: Algorithm) -> bool {
        Algorithm::ALL.contains(&alg)
    }

    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        match (alg, key.params()) {
            (Algorithm::Es256 | Algorithm::Es384, PublicParams::Ec { crv, x, y }) => {
                let (lc_alg, len): (&'static signature::EcdsaVerificationAlgorithm, usize) =
                    match (alg, crv) {
                        (Algorithm::Es256, EcCurve::P256) => {
                            (&signature::ECDSA_P256_SHA256_FIXED, 32)
                        }
                        (Algorithm::Es384, EcCurve::P384) => {
                            (&signature::ECDSA_P384_SHA384_FIXED, 48)
                        }
                        _ => return Err(VerifyError::InvalidKey),
                    };
                // SEC1 uncompressed point `04 ‖ x ‖ y`.
                let mut point = [0u8; 97];
                let (tag, rest) = point.split_first_mut().ok_or(VerifyError::InvalidKey)?;
                *tag = 0x04;
                let (xb, rest) = rest
                    .split_at_mut_checked(len)
                    .ok_or(VerifyError::InvalidKey)?;
                let yb = rest.get_mut(..len).ok_or(VerifyError::InvalidKey)?;
                decode(x, xb)?;
                decode(y, yb)?;
                let point = point.get(..1 + 2 * len).ok_or(VerifyError::InvalidKey)?;
                signature::UnparsedPublicKey::new(lc_alg, point)
                    .verify(msg, sig)
                    .map_err(|_| VerifyError::BadSignature)
            }
            (Algorithm::Ps256 | Algorithm::Rs256, PublicParams::Rsa { n, e }) => {
                let params: &'static signature::RsaParameters = if alg == Algorithm::Ps256 {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                let mut nbuf = [0u8; MAX_RSA_MODULUS_BITS / 8];
                let mut ebuf = [0u8; 8];
                let n = decode(n, &mut nbuf)?;
                let e = decode(e, &mut ebuf)?;
                signature::RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .map_err(|_| VerifyError::BadSignature)
            }
            (Algorithm::EdDsa | Algorithm::Ed25519, PublicParams::Okp { x, .. }) => {
                let mut xb = [0u8; 32];
                let x = decode(x, &mut xb)?;
                signature::UnparsedPublicKey::new(&signature::ED25519, x)
                    .verify(msg, sig)
                    .map_err(|_| VerifyError::BadSignature)
            }
            _ => Err(VerifyError::InvalidKey),
        }
    }
}
