//! The signature API that *ring* 0.17 and aws-lc-rs 1.x share (`signature::UnparsedPublicKey`,
//! the fixed-length ECDSA, RSA and Ed25519 algorithm statics, `RsaPublicKeyComponents`): one
//! verifier body, instantiated for each crate by `ring_api_verifier!`.

use keybound_jwk::B64;

use crate::verify::VerifyError;

/// Decodes a JWK member that `keybound_jwk` has already validated as canonical base64url, with
/// its table decoder (which also reads members written with JSON escapes): key material is
/// public, so a constant-time decoder's cost buys nothing here.
pub(crate) fn decode<'o>(text: &B64<'_>, out: &'o mut [u8]) -> Result<&'o [u8], VerifyError> {
    text.decode_into(out).map_err(|_| VerifyError::InvalidKey)
}

/// Defines the unit-struct verifier `$name` over `$krate::signature` (ES256, ES384, PS256,
/// RS256, EdDSA/Ed25519), in a module that imports `Algorithm`, `SignatureVerifier`,
/// `VerifyError`, `decode` and `keybound_jwk`'s `EcCurve`, `Jwk`, `MAX_RSA_MODULUS_BITS` and
/// `PublicParams`.
macro_rules! ring_api_verifier {
    ($(#[$meta:meta])* $name:ident, $krate:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl SignatureVerifier for $name {
            fn supports(&self, alg: Algorithm) -> bool {
                Algorithm::ALL.contains(&alg)
            }

            /// The library only fails the signature for a bad key, so keybound-jwk's full
            /// checks run first (the same `jwk` verdict as the other backends).
            fn checks_keys(&self) -> bool {
                true
            }

            fn verify(
                &self,
                alg: Algorithm,
                key: &Jwk<'_>,
                msg: &[u8],
                sig: &[u8],
            ) -> Result<(), VerifyError> {
                key.check_key().map_err(|_| VerifyError::InvalidKey)?;
                match (alg, key.params()) {
                    (Algorithm::Es256 | Algorithm::Es384, PublicParams::Ec { crv, x, y }) => {
                        let (alg_def, len): (&'static $krate::signature::EcdsaVerificationAlgorithm, usize) =
                            match (alg, crv) {
                                (Algorithm::Es256, EcCurve::P256) => {
                                    (&$krate::signature::ECDSA_P256_SHA256_FIXED, 32)
                                }
                                (Algorithm::Es384, EcCurve::P384) => {
                                    (&$krate::signature::ECDSA_P384_SHA384_FIXED, 48)
                                }
                                _ => return Err(VerifyError::InvalidKey),
                            };
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
                        $krate::signature::UnparsedPublicKey::new(alg_def, point)
                            .verify(msg, sig)
                            .map_err(|_| VerifyError::BadSignature)
                    }
                    (Algorithm::Ps256 | Algorithm::Rs256, PublicParams::Rsa { n, e }) => {
                        let params: &'static $krate::signature::RsaParameters = if alg == Algorithm::Ps256 {
                            &$krate::signature::RSA_PSS_2048_8192_SHA256
                        } else {
                            &$krate::signature::RSA_PKCS1_2048_8192_SHA256
                        };
                        let mut nbuf = [0u8; MAX_RSA_MODULUS_BITS / 8];
                        let mut ebuf = [0u8; 8];
                        let n = decode(n, &mut nbuf)?;
                        let e = decode(e, &mut ebuf)?;
                        $krate::signature::RsaPublicKeyComponents { n, e }
                            .verify(params, msg, sig)
                            .map_err(|_| VerifyError::BadSignature)
                    }
                    (Algorithm::EdDsa | Algorithm::Ed25519, PublicParams::Okp { x, .. }) => {
                        let mut xb = [0u8; 32];
                        let x = decode(x, &mut xb)?;
                        $krate::signature::UnparsedPublicKey::new(&$krate::signature::ED25519, x)
                            .verify(msg, sig)
                            .map_err(|_| VerifyError::BadSignature)
                    }
                    _ => Err(VerifyError::InvalidKey),
                }
            }
        }
    };
}

pub(crate) use ring_api_verifier;
