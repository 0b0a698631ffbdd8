//! Key material decoded from a JWK into the encodings *ring* and aws-lc-rs take: the SEC1
//! uncompressed point (`04 ‖ x ‖ y`), the RSA modulus and exponent, the Ed25519 public key.
//! keybound-jwk's full point checks run first, since those libraries only fail the
//! signature for an invalid key.

use keybound_jwk::{EcCurve, Jwk, MAX_RSA_MODULUS_BITS, PublicParams};

use crate::alg::Algorithm;
use crate::verify::VerifyError;

const MAX_N: usize = MAX_RSA_MODULUS_BITS / 8;

/// Decoded public key material for one algorithm.
#[expect(
    clippy::large_enum_variant,
    reason = "decoded on the stack, RSA-sized, so a verification allocates nothing"
)]
#[derive(Clone)]
pub(crate) enum Material {
    /// SEC1 uncompressed point, `len` bytes used (65 for P-256, 97 for P-384).
    Ec {
        alg: Algorithm,
        point: [u8; 97],
        len: usize,
    },
    /// Big-endian modulus and exponent, minimal (RFC 7518 §6.3.1).
    Rsa {
        alg: Algorithm,
        n: [u8; MAX_N],
        n_len: usize,
        e: [u8; 8],
        e_len: usize,
    },
    /// The 32-byte Ed25519 public key (RFC 8032 §5.1.5).
    Ed25519([u8; 32]),
}

impl Material {
    /// Checks `key` (keybound-jwk's full checks) and decodes it for `alg`.
    pub(crate) fn decode(alg: Algorithm, key: &Jwk<'_>) -> Result<Material, VerifyError> {
        key.check_key().map_err(|_| VerifyError::InvalidKey)?;
        Self::decode_checked(alg, key)
    }

    /// [`Material::decode`] for one verification by a library that decodes the Ed25519 point
    /// itself and fails the signature when it does not decode (*ring*, AWS-LC): every check
    /// but the Ed25519 decompression, which [`Material::failure`] runs only once the
    /// verification failed, to tell `jwk` from `signature`. A point that does not decompress
    /// never verifies, so verdicts and reasons are those of [`Material::decode`] followed by
    /// the verification; valid keys skip the decompression (about 3 µs).
    #[cfg_attr(
        not(feature = "aws-lc-rs"),
        expect(dead_code, reason = "aws-lc-rs verifies one-off keys this way")
    )]
    pub(crate) fn decode_deferring_decompression(
        alg: Algorithm,
        key: &Jwk<'_>,
    ) -> Result<Material, VerifyError> {
        key.check_key_without_decompression()
            .map_err(|_| VerifyError::InvalidKey)?;
        Self::decode_checked(alg, key)
    }

    /// The error of a failed verification with material from
    /// [`Material::decode_deferring_decompression`]: `InvalidKey` for an Ed25519 key that
    /// does not decompress, else `BadSignature`.
    #[cfg_attr(
        not(feature = "aws-lc-rs"),
        expect(dead_code, reason = "aws-lc-rs verifies one-off keys this way")
    )]
    pub(crate) fn failure(&self) -> VerifyError {
        match self {
            Material::Ed25519(x) if !keybound_jwk::ed25519_decompresses(x) => {
                VerifyError::InvalidKey
            }
            _ => VerifyError::BadSignature,
        }
    }

    fn decode_checked(alg: Algorithm, key: &Jwk<'_>) -> Result<Material, VerifyError> {
        let bad = |_| VerifyError::InvalidKey;
        match (alg, key.params()) {
            (Algorithm::Es256 | Algorithm::Es384, PublicParams::Ec { crv, x, y }) => {
                let len = match (alg, crv) {
                    (Algorithm::Es256, EcCurve::P256) => 32,
                    (Algorithm::Es384, EcCurve::P384) => 48,
                    _ => return Err(VerifyError::InvalidKey),
                };
                let mut point = [0u8; 97];
                let (tag, rest) = point.split_first_mut().ok_or(VerifyError::InvalidKey)?;
                *tag = 0x04;
                let (xb, rest) = rest
                    .split_at_mut_checked(len)
                    .ok_or(VerifyError::InvalidKey)?;
                let yb = rest.get_mut(..len).ok_or(VerifyError::InvalidKey)?;
                x.decode_into(xb).map_err(bad)?;
                y.decode_into(yb).map_err(bad)?;
                Ok(Material::Ec {
                    alg,
                    point,
                    len: 1 + 2 * len,
                })
            }
            (Algorithm::Ps256 | Algorithm::Rs256, PublicParams::Rsa { n, e }) => {
                let mut nbuf = [0u8; MAX_N];
                let n_len = n.decode_into(&mut nbuf).map_err(bad)?.len();
                let mut ebuf = [0u8; 8];
                let e_len = e.decode_into(&mut ebuf).map_err(bad)?.len();
                Ok(Material::Rsa {
                    alg,
                    n: nbuf,
                    n_len,
                    e: ebuf,
                    e_len,
                })
            }
            (Algorithm::EdDsa | Algorithm::Ed25519, PublicParams::Okp { x, .. }) => {
                let mut xb = [0u8; 32];
                x.decode_into(&mut xb).map_err(bad)?;
                Ok(Material::Ed25519(xb))
            }
            _ => Err(VerifyError::InvalidKey),
        }
    }

    /// The SEC1 point of an EC key.
    pub(crate) fn point(&self) -> &[u8] {
        match self {
            Material::Ec { point, len, .. } => point.get(..*len).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The modulus of an RSA key.
    pub(crate) fn modulus(&self) -> &[u8] {
        match self {
            Material::Rsa { n, n_len, .. } => n.get(..*n_len).unwrap_or_default(),
            _ => &[],
        }
    }

    /// The exponent of an RSA key.
    pub(crate) fn exponent(&self) -> &[u8] {
        match self {
            Material::Rsa { e, e_len, .. } => e.get(..*e_len).unwrap_or_default(),
            _ => &[],
        }
    }

    /// Bytes of key material (the modulus for RSA), for estimating a library's own copy.
    #[cfg_attr(
        not(feature = "aws-lc-rs"),
        expect(dead_code, reason = "aws-lc-rs sizes its keys")
    )]
    pub(crate) fn key_len(&self) -> usize {
        match self {
            Material::Ec { len, .. } => *len,
            Material::Rsa { n_len, .. } => *n_len,
            Material::Ed25519(_) => 32,
        }
    }
}

/// Implements [`crate::SignatureVerifier`] for a backend over [`crate::PrepareKey`]: every
/// algorithm of the table, keys checked by the backend's `prepare`.
macro_rules! verify_by_preparing {
    ($name:ident) => {
        impl crate::verify::SignatureVerifier for $name {
            fn supports(&self, alg: crate::alg::Algorithm) -> bool {
                crate::alg::Algorithm::ALL.contains(&alg)
            }

            /// The library only fails the signature for a bad key, so keybound-jwk's full
            /// checks run in `prepare` (the same `jwk` verdict as the other backends).
            fn checks_keys(&self) -> bool {
                true
            }

            fn verify(
                &self,
                alg: crate::alg::Algorithm,
                key: &keybound_jwk::Jwk<'_>,
                msg: &[u8],
                sig: &[u8],
            ) -> Result<(), crate::verify::VerifyError> {
                let prepared = crate::verify::PrepareKey::prepare(self, alg, key)?;
                crate::verify::PrepareKey::verify_prepared(self, &prepared, msg, sig)
            }
        }
    };
}

pub(crate) use verify_by_preparing;
