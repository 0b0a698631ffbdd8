//! The pure-Rust backend: RustCrypto's `p256`, `p384`, `rsa` and `ed25519-dalek`, each behind
//! its feature; `no_std`, the embedded default.

use keybound_jwk::Jwk;

use crate::alg::Algorithm;
use crate::verify::{PrepareKey, SignatureVerifier, VerifyError};

/// Pure-Rust verifier from the RustCrypto crates; each algorithm behind its feature
/// (`p256` → ES256, `p384` → ES384, `rsa` → PS256, `rs256` → RS256, `ed25519` → EdDSA/Ed25519).
/// `no_std`; the embedded default.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCryptoVerifier;

#[derive(Clone, Debug)]
enum Inner {
    #[cfg(feature = "p256")]
    Es256(p256::ecdsa::VerifyingKey),
    #[cfg(feature = "p384")]
    Es384(p384::ecdsa::VerifyingKey),
    #[cfg(feature = "rsa")]
    Ps256(rsa::pss::VerifyingKey<sha2::Sha256>),
    #[cfg(feature = "rs256")]
    Rs256(rsa::pkcs1v15::VerifyingKey<sha2::Sha256>),
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// A key prepared by [`RustCryptoVerifier`]: the RustCrypto verifying key (curve point
/// validated and decompressed, RSA modulus set up).
#[derive(Clone, Debug)]
pub struct RustCryptoKey(Inner);

impl RustCryptoVerifier {
    /// Whether `alg` is compiled in (also a `const` for the per-algorithm backend table).
    pub const fn supports_alg(alg: Algorithm) -> bool {
        match alg {
            Algorithm::Es256 => cfg!(feature = "p256"),
            Algorithm::Es384 => cfg!(feature = "p384"),
            Algorithm::Ps256 => cfg!(feature = "rsa"),
            Algorithm::Rs256 => cfg!(feature = "rs256"),
            Algorithm::EdDsa | Algorithm::Ed25519 => cfg!(feature = "ed25519"),
        }
    }
}

impl SignatureVerifier for RustCryptoVerifier {
    /// The `to_p256`/`to_p384`/`to_ed25519` conversions run keybound-jwk's cheap checks, and
    /// the RustCrypto key types check the curve equation and decompress.
    fn checks_keys(&self) -> bool {
        true
    }

    fn supports(&self, alg: Algorithm) -> bool {
        Self::supports_alg(alg)
    }

    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        let prepared = self.prepare(alg, key)?;
        self.verify_prepared(&prepared, msg, sig)
    }
}

impl PrepareKey for RustCryptoVerifier {
    type Prepared = RustCryptoKey;

    #[allow(
        unused_variables,
        unreachable_code,
        reason = "every algorithm may be compiled out"
    )]
    fn prepare(&self, alg: Algorithm, key: &Jwk<'_>) -> Result<RustCryptoKey, VerifyError> {
        let bad = |_: keybound_jwk::JwkError| VerifyError::InvalidKey;
        let inner = match alg {
            #[cfg(feature = "p256")]
            Algorithm::Es256 => Inner::Es256(key.to_p256().map_err(bad)?),
            #[cfg(feature = "p384")]
            Algorithm::Es384 => Inner::Es384(key.to_p384().map_err(bad)?),
            #[cfg(feature = "rsa")]
            Algorithm::Ps256 => {
                Inner::Ps256(rsa::pss::VerifyingKey::new(key.to_rsa().map_err(bad)?))
            }
            #[cfg(feature = "rs256")]
            Algorithm::Rs256 => {
                Inner::Rs256(rsa::pkcs1v15::VerifyingKey::new(key.to_rsa().map_err(bad)?))
            }
            #[cfg(feature = "ed25519")]
            Algorithm::EdDsa | Algorithm::Ed25519 => Inner::Ed25519(key.to_ed25519().map_err(bad)?),
            #[allow(
                unreachable_patterns,
                reason = "reachable when a backend feature is off"
            )]
            _ => return Err(VerifyError::UnsupportedAlgorithm),
        };
        Ok(RustCryptoKey(inner))
    }

    #[allow(unused_variables, reason = "every algorithm may be compiled out")]
    fn verify_prepared(
        &self,
        key: &RustCryptoKey,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        let bad = |_: signature::Error| VerifyError::BadSignature;
        match &key.0 {
            #[cfg(not(any(
                feature = "p256",
                feature = "p384",
                feature = "rsa",
                feature = "ed25519"
            )))]
            _ => match key.0 {},
            #[cfg(feature = "p256")]
            Inner::Es256(vk) => {
                use p256::ecdsa::signature::Verifier as _;
                let sig = p256::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &sig).map_err(bad)
            }
            #[cfg(feature = "p384")]
            Inner::Es384(vk) => {
                use p384::ecdsa::signature::Verifier as _;
                let sig = p384::ecdsa::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &sig).map_err(bad)
            }
            #[cfg(feature = "rsa")]
            Inner::Ps256(vk) => {
                use rsa::signature::Verifier as _;
                let sig = rsa::pss::Signature::try_from(sig).map_err(bad)?;
                vk.verify(msg, &sig).map_err(bad)
            }
            #[cfg(feature = "rs256")]
            Inner::Rs256(vk) => {
                use rsa::signature::Verifier as _;
                let sig = rsa::pkcs1v15::Signature::try_from(sig).map_err(bad)?;
                vk.verify(msg, &sig).map_err(bad)
            }
            #[cfg(feature = "ed25519")]
            Inner::Ed25519(vk) => {
                use ed25519_dalek::Verifier as _;
                let sig = ed25519_dalek::Signature::from_slice(sig).map_err(bad)?;
                vk.verify(msg, &sig).map_err(bad)
            }
        }
    }

    fn prepared_size(key: &RustCryptoKey) -> usize {
        let inline = core::mem::size_of::<RustCryptoKey>();
        match &key.0 {
            // The modulus and its Montgomery parameters live on the heap (about 4 × n).
            #[cfg(feature = "rsa")]
            Inner::Ps256(vk) => inline + 4 * rsa_len(vk.as_ref()),
            #[cfg(feature = "rs256")]
            Inner::Rs256(vk) => inline + 4 * rsa_len(vk.as_ref()),
            #[allow(unreachable_patterns, reason = "reachable when RSA is compiled out")]
            _ => inline,
        }
    }
}

#[cfg(feature = "rsa")]
fn rsa_len(key: &rsa::PublicKey) -> usize {
    use rsa::traits::PublicKeyParts as _;
    key.size()
}
