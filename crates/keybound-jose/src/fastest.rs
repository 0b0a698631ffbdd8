//! The fastest backend per algorithm among those compiled in, chosen by measurement on the
//! machines keybound is developed on (docs/performance.md has the figures of the run that
//! decided it):
//!
//! | algorithm | first choice | then | then |
//! |---|---|---|---|
//! | ES256, ES384, PS256, RS256 | aws-lc-rs (parsed keys) | *ring* | RustCrypto |
//! | EdDSA / Ed25519 | aws-lc-rs | RustCrypto (`ed25519-dalek`) | *ring* |
//!
//! The side-by-side run of 2026-12-03 (`cargo xtask bench batch`, µs of CPU per proof): for
//! Ed25519 aws-lc-rs verifies in 40.9 (41.3 with a prepared key), `ed25519-dalek` with its
//! basepoint tables in 50.0 (43.1 prepared: the decompressed point is kept), *ring* in 49.9
//! (49.7); for ECDSA and RSA the C libraries' assembly wins, and aws-lc-rs keeps a parsed
//! RSA key between calls (PS256 20.5 prepared against 22.6 parsed per call).

use keybound_jwk::Jwk;

use crate::alg::Algorithm;
use crate::rustcrypto::{RustCryptoKey, RustCryptoVerifier};
use crate::verify::{PrepareKey, SignatureVerifier, VerifyError};

/// A signature backend.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// RustCrypto (`p256`, `p384`, `rsa`, `ed25519-dalek`): [`RustCryptoVerifier`].
    RustCrypto,
    /// *ring* (feature `ring`).
    Ring,
    /// aws-lc-rs (feature `aws-lc-rs`).
    AwsLc,
}

impl Backend {
    /// Lower-case name for reports: `rustcrypto`, `ring`, `aws-lc-rs`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::RustCrypto => "rustcrypto",
            Backend::Ring => "ring",
            Backend::AwsLc => "aws-lc-rs",
        }
    }
}

/// Verifies each algorithm with the fastest backend compiled in (see the module table);
/// [`crate::DefaultVerifier`]. Every backend gives the same verdicts, so the choice is only a
/// matter of speed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FastestVerifier;

impl FastestVerifier {
    /// The backend used for `alg`, `None` when no compiled-in backend verifies it.
    pub const fn backend(alg: Algorithm) -> Option<Backend> {
        let c_first = matches!(
            alg,
            Algorithm::Es256 | Algorithm::Es384 | Algorithm::Ps256 | Algorithm::Rs256
        );
        let rust = RustCryptoVerifier::supports_alg(alg);
        let aws = cfg!(feature = "aws-lc-rs");
        let ring = cfg!(feature = "ring");
        if aws {
            Some(Backend::AwsLc)
        } else if c_first && ring {
            Some(Backend::Ring)
        } else if rust {
            Some(Backend::RustCrypto)
        } else if ring {
            Some(Backend::Ring)
        } else {
            None
        }
    }
}

#[allow(
    clippy::large_enum_variant,
    reason = "with ring, a prepared key lives on the stack for one verification or in the cache's Arc"
)]
#[derive(Debug)]
enum Inner {
    RustCrypto(RustCryptoKey),
    #[cfg(feature = "ring")]
    Ring(crate::ring_backend::RingKey),
    #[cfg(feature = "aws-lc-rs")]
    AwsLc(crate::aws_lc_backend::AwsLcKey),
}

/// A key prepared by [`FastestVerifier`]: the chosen backend's prepared key.
#[derive(Debug)]
pub struct FastKey(Inner);

impl FastKey {
    /// The backend that prepared it.
    pub fn backend(&self) -> Backend {
        match self.0 {
            Inner::RustCrypto(_) => Backend::RustCrypto,
            #[cfg(feature = "ring")]
            Inner::Ring(_) => Backend::Ring,
            #[cfg(feature = "aws-lc-rs")]
            Inner::AwsLc(_) => Backend::AwsLc,
        }
    }
}

impl SignatureVerifier for FastestVerifier {
    fn supports(&self, alg: Algorithm) -> bool {
        Self::backend(alg).is_some()
    }

    /// Every backend checks keys itself.
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
        match Self::backend(alg) {
            #[cfg(feature = "aws-lc-rs")]
            Some(Backend::AwsLc) => crate::aws_lc_backend::AwsLcVerifier.verify(alg, key, msg, sig),
            #[cfg(feature = "ring")]
            Some(Backend::Ring) => crate::ring_backend::RingVerifier.verify(alg, key, msg, sig),
            Some(_) => RustCryptoVerifier.verify(alg, key, msg, sig),
            None => Err(VerifyError::UnsupportedAlgorithm),
        }
    }
}

impl PrepareKey for FastestVerifier {
    type Prepared = FastKey;

    fn prepare(&self, alg: Algorithm, key: &Jwk<'_>) -> Result<FastKey, VerifyError> {
        let inner = match Self::backend(alg) {
            #[cfg(feature = "aws-lc-rs")]
            Some(Backend::AwsLc) => {
                Inner::AwsLc(crate::aws_lc_backend::AwsLcVerifier.prepare(alg, key)?)
            }
            #[cfg(feature = "ring")]
            Some(Backend::Ring) => {
                Inner::Ring(crate::ring_backend::RingVerifier.prepare(alg, key)?)
            }
            Some(_) => Inner::RustCrypto(RustCryptoVerifier.prepare(alg, key)?),
            None => return Err(VerifyError::UnsupportedAlgorithm),
        };
        Ok(FastKey(inner))
    }

    fn verify_prepared(&self, key: &FastKey, msg: &[u8], sig: &[u8]) -> Result<(), VerifyError> {
        match &key.0 {
            Inner::RustCrypto(k) => RustCryptoVerifier.verify_prepared(k, msg, sig),
            #[cfg(feature = "ring")]
            Inner::Ring(k) => crate::ring_backend::RingVerifier.verify_prepared(k, msg, sig),
            #[cfg(feature = "aws-lc-rs")]
            Inner::AwsLc(k) => crate::aws_lc_backend::AwsLcVerifier.verify_prepared(k, msg, sig),
        }
    }

    fn prepared_size(key: &FastKey) -> usize {
        match &key.0 {
            Inner::RustCrypto(k) => RustCryptoVerifier::prepared_size(k),
            #[cfg(feature = "ring")]
            Inner::Ring(k) => crate::ring_backend::RingVerifier::prepared_size(k),
            #[cfg(feature = "aws-lc-rs")]
            Inner::AwsLc(k) => crate::aws_lc_backend::AwsLcVerifier::prepared_size(k),
        }
    }
}
