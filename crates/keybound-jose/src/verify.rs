//! Pluggable signature verification (RFC 7515 §5.2 step 8, RFC 7518 §3).
//!
//! [`SignatureVerifier`] is the seam between the JWS checks and a crypto backend, like
//! rustls' `SignatureVerificationAlgorithm`: the validator has already checked that the key
//! fits the algorithm (type, curve, RSA size and exponent) and that fixed-length signatures
//! have the right length, so a backend only turns the JWK into its own key type and verifies.

use core::fmt;

use keybound_cnf::JwkThumbprint;
use keybound_jwk::Jwk;

use crate::alg::Algorithm;
use crate::error::JoseError;

/// Why a backend refused a signature.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerifyError {
    /// This backend does not implement the algorithm (feature off).
    UnsupportedAlgorithm,
    /// The key is not usable for the algorithm (e.g. EC point not on the curve).
    InvalidKey,
    /// The signature does not verify.
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyError::UnsupportedAlgorithm => "algorithm not supported by this verifier",
            VerifyError::InvalidKey => "key not usable for the algorithm",
            VerifyError::BadSignature => "signature does not verify",
        })
    }
}

impl core::error::Error for VerifyError {}

/// A JWS signature verification backend (RustCrypto, ring, an HSM, …).
///
/// `msg` is the received `BASE64URL(header) || '.' || BASE64URL(payload)` bytes; `sig` the
/// decoded signature (JWS form: ECDSA `r‖s`, never DER).
///
/// # Key validity
///
/// A key that is not a valid point (EC off the curve or with a coordinate ≥ p; Ed25519
/// non-canonical, of small order, or not decompressing) must be refused with
/// [`VerifyError::InvalidKey`] on every backend: a small-order Ed25519 key lets one signature
/// verify every message. [`verify_signature`] runs keybound-jwk's checks
/// ([`Jwk::check_key_without_decompression`]) before calling a verifier unless the verifier
/// says, through [`SignatureVerifier::checks_keys`], that it validates keys itself (the
/// provided backends do, each as cheaply as its library allows).
pub trait SignatureVerifier {
    /// Whether `alg` can be verified (drives `dpop_signing_alg_values_supported`).
    fn supports(&self, alg: Algorithm) -> bool;

    /// Whether [`SignatureVerifier::verify`] refuses every invalid key point itself (see
    /// "Key validity"). `false` (the default) makes [`verify_signature`] check the key first.
    fn checks_keys(&self) -> bool {
        false
    }

    /// Verifies `sig` over `msg` with `key` under `alg`.
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError>;

    /// [`SignatureVerifier::verify`] for a caller that already holds `key`'s RFC 7638 SHA-256
    /// thumbprint (DPoP computes it for `jkt`, RFC 9449 §6.1): [`crate::CachedVerifier`] finds
    /// the key by it instead of hashing the key again, and still compares the whole key. A
    /// thumbprint that is not `key`'s only costs a cache miss. The default ignores it.
    fn verify_with_thumbprint(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        let _ = thumbprint;
        self.verify(alg, key, msg, sig)
    }
}

impl<T: SignatureVerifier + ?Sized> SignatureVerifier for &T {
    fn supports(&self, alg: Algorithm) -> bool {
        (**self).supports(alg)
    }
    fn checks_keys(&self) -> bool {
        (**self).checks_keys()
    }
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify(alg, key, msg, sig)
    }
    fn verify_with_thumbprint(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify_with_thumbprint(alg, key, thumbprint, msg, sig)
    }
}

#[cfg(feature = "alloc")]
impl<T: SignatureVerifier + ?Sized> SignatureVerifier for alloc::boxed::Box<T> {
    fn supports(&self, alg: Algorithm) -> bool {
        (**self).supports(alg)
    }
    fn checks_keys(&self) -> bool {
        (**self).checks_keys()
    }
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify(alg, key, msg, sig)
    }
    fn verify_with_thumbprint(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify_with_thumbprint(alg, key, thumbprint, msg, sig)
    }
}

#[cfg(feature = "alloc")]
impl<T: SignatureVerifier + ?Sized> SignatureVerifier for alloc::sync::Arc<T> {
    fn supports(&self, alg: Algorithm) -> bool {
        (**self).supports(alg)
    }
    fn checks_keys(&self) -> bool {
        (**self).checks_keys()
    }
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify(alg, key, msg, sig)
    }
    fn verify_with_thumbprint(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        thumbprint: &JwkThumbprint,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        (**self).verify_with_thumbprint(alg, key, thumbprint, msg, sig)
    }
}

/// A verifier that can import a key once ("prepare" it: every key check, decoding, the
/// backend's own parsing and precomputation) and then verify many signatures with it.
///
/// [`SignatureVerifier::verify`] of such a backend is `prepare` followed by `verify_prepared`;
/// [`crate::CachedVerifier`] keeps prepared keys so the same client key is imported once.
/// `prepare` must refuse every key [`SignatureVerifier::verify`] refuses, with the same error.
pub trait PrepareKey: SignatureVerifier {
    /// The backend's prepared key for one algorithm.
    type Prepared: Send + Sync;

    /// Checks and imports `key` for `alg` ([`VerifyError::InvalidKey`] for an unusable key,
    /// [`VerifyError::UnsupportedAlgorithm`] when this backend cannot verify `alg`).
    fn prepare(&self, alg: Algorithm, key: &Jwk<'_>) -> Result<Self::Prepared, VerifyError>;

    /// Verifies `sig` over `msg` with a prepared key (its algorithm is the one it was
    /// prepared for).
    fn verify_prepared(
        &self,
        key: &Self::Prepared,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError>;

    /// About how many bytes a prepared key occupies (inline and on the heap), for cache
    /// bounds.
    fn prepared_size(key: &Self::Prepared) -> usize;
}

/// The fastest verifier compiled in, chosen per algorithm by measurement (see
/// [`crate::FastestVerifier`]).
pub type DefaultVerifier = crate::fastest::FastestVerifier;

/// Accepts every signature. Compiled only under `cfg(fuzzing)` so fuzzers reach the checks
/// after the signature; never present in normal builds.
#[cfg(fuzzing)]
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptAllVerifier;

#[cfg(fuzzing)]
impl SignatureVerifier for AcceptAllVerifier {
    fn supports(&self, _alg: Algorithm) -> bool {
        true
    }
    fn verify(
        &self,
        _alg: Algorithm,
        _key: &Jwk<'_>,
        _msg: &[u8],
        _sig: &[u8],
    ) -> Result<(), VerifyError> {
        Ok(())
    }
}

/// The signature step of JWS validation (RFC 7515 §5.2 step 8): `sig` over `msg` with `key`
/// under `alg`. The signature length is checked first (ECDSA `r‖s` and Ed25519 fixed lengths,
/// RSA the modulus length), so DER ECDSA signatures and empty signature segments fail as
/// [`JoseError::SignatureLength`] on every backend. Does not check that the key fits `alg`;
/// see [`crate::check_key_fits`].
pub fn verify_signature<V: SignatureVerifier + ?Sized>(
    verifier: &V,
    alg: Algorithm,
    key: &Jwk<'_>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), JoseError> {
    verify_checked(verifier, alg, key, None, msg, sig)
}

/// [`verify_signature`] for a caller that already holds `key`'s RFC 7638 SHA-256 thumbprint
/// (see [`SignatureVerifier::verify_with_thumbprint`]); the same verdicts.
pub fn verify_signature_with_thumbprint<V: SignatureVerifier + ?Sized>(
    verifier: &V,
    alg: Algorithm,
    key: &Jwk<'_>,
    thumbprint: &JwkThumbprint,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), JoseError> {
    verify_checked(verifier, alg, key, Some(thumbprint), msg, sig)
}

fn verify_checked<V: SignatureVerifier + ?Sized>(
    verifier: &V,
    alg: Algorithm,
    key: &Jwk<'_>,
    thumbprint: Option<&JwkThumbprint>,
    msg: &[u8],
    sig: &[u8],
) -> Result<(), JoseError> {
    let expected = match alg.fixed_signature_len() {
        Some(len) => Some(len),
        None => key.rsa_modulus_bits().map(|bits| bits.div_ceil(8)),
    };
    if let Some(expected) = expected
        && sig.len() != expected
    {
        return Err(JoseError::SignatureLength {
            expected,
            actual: sig.len(),
        });
    }
    if !verifier.checks_keys() {
        key.check_key_without_decompression()
            .map_err(JoseError::InvalidJwk)?;
    }
    let verdict = match thumbprint {
        Some(t) => verifier.verify_with_thumbprint(alg, key, t, msg, sig),
        None => verifier.verify(alg, key, msg, sig),
    };
    verdict.map_err(|e| match e {
        VerifyError::UnsupportedAlgorithm => JoseError::AlgNotAllowed { alg },
        VerifyError::InvalidKey => JoseError::UnusableKey,
        _ => JoseError::BadSignature,
    })
}
