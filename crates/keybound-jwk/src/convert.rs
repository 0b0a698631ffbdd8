//! Conversions of a [`Jwk`] into the RustCrypto key types, behind features.

#[cfg(any(feature = "p256", feature = "p384"))]
use crate::EcCurve;
#[cfg(feature = "ed25519")]
use crate::OkpCurve;
use crate::{Jwk, JwkError, PublicParams};

impl Jwk<'_> {
    /// The SEC1 uncompressed point `04 || x || y` of an EC key on `curve` (SEC 1 §2.3.3).
    #[cfg(any(feature = "p256", feature = "p384"))]
    fn sec1_point<'b>(&self, curve: EcCurve, buf: &'b mut [u8; 97]) -> Result<&'b [u8], JwkError> {
        let PublicParams::Ec { crv, x, y } = self.params() else {
            return Err(JwkError::WrongKeyType {
                expected: curve_desc(curve),
                found: self.params().describe(),
            });
        };
        if *crv != curve {
            return Err(JwkError::UnsupportedCurve { crv: crv.name() });
        }
        // The same verdict (`InvalidPoint`) as `check_key` and every other backend.
        self.check_key_without_decompression()?;
        let len = curve.coordinate_len();
        let (tag, rest) = buf.split_first_mut().ok_or(JwkError::InvalidKey)?;
        *tag = 0x04;
        let (xb, rest) = rest.split_at_mut_checked(len).ok_or(JwkError::InvalidKey)?;
        let yb = rest.get_mut(..len).ok_or(JwkError::InvalidKey)?;
        x.decode_into(xb)?;
        y.decode_into(yb)?;
        buf.get(..1 + 2 * len).ok_or(JwkError::InvalidKey)
    }

    /// The P-256 ECDSA verifying key of an `EC` `P-256` JWK (RFC 7518 §3.4, §6.2.1), after the
    /// checks of [`Jwk::check_key`] (coordinates below p, point on the curve).
    #[cfg(feature = "p256")]
    pub fn to_p256(&self) -> Result<p256::ecdsa::VerifyingKey, JwkError> {
        let mut buf = [0u8; 97];
        let point = self.sec1_point(EcCurve::P256, &mut buf)?;
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| JwkError::InvalidKey)
    }

    /// The P-384 ECDSA verifying key of an `EC` `P-384` JWK (RFC 7518 §3.4, §6.2.1), after the
    /// checks of [`Jwk::check_key`] (coordinates below p, point on the curve).
    #[cfg(feature = "p384")]
    pub fn to_p384(&self) -> Result<p384::ecdsa::VerifyingKey, JwkError> {
        let mut buf = [0u8; 97];
        let point = self.sec1_point(EcCurve::P384, &mut buf)?;
        p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| JwkError::InvalidKey)
    }

    /// The RSA public key of an `RSA` JWK (RFC 7518 §6.3.1); the `rsa` crate's own size
    /// limits apply (1024 to 8192 bits), callers enforce their policy minimum on top.
    #[cfg(feature = "rsa")]
    pub fn to_rsa(&self) -> Result<rsa::PublicKey, JwkError> {
        let PublicParams::Rsa { n, e } = self.params() else {
            return Err(JwkError::WrongKeyType {
                expected: "RSA",
                found: self.params().describe(),
            });
        };
        let n = rsa::BoxedUint::from_be_slice_vartime(&n.to_vec());
        let e = rsa::BoxedUint::from_be_slice_vartime(&e.to_vec());
        rsa::PublicKey::new(n, e).map_err(|_| JwkError::InvalidKey)
    }

    /// The Ed25519 verifying key of an `OKP` `Ed25519` JWK (RFC 8037 §2), after the checks of
    /// [`Jwk::check_key`]: non-canonical encodings, points of small order and encodings that do
    /// not decompress are refused with [`JwkError::InvalidPoint`].
    #[cfg(feature = "ed25519")]
    pub fn to_ed25519(&self) -> Result<ed25519_dalek::VerifyingKey, JwkError> {
        let PublicParams::Okp { crv, x } = self.params() else {
            return Err(JwkError::WrongKeyType {
                expected: "OKP Ed25519",
                found: self.params().describe(),
            });
        };
        if *crv != OkpCurve::Ed25519 {
            return Err(JwkError::UnsupportedCurve { crv: crv.name() });
        }
        // Canonical and not of small order here; ed25519-dalek decompresses next, so the
        // decompression is not done twice.
        self.check_key_without_decompression()?;
        let mut bytes = [0u8; 32];
        x.decode_into(&mut bytes)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes).map_err(|_| {
            JwkError::InvalidPoint {
                crv: OkpCurve::Ed25519.name(),
                member: "x",
                fault: crate::PointFault::NotOnCurve,
            }
        })?;
        // Unreachable after the small-order check above; kept as a second line of defence.
        if key.is_weak() {
            Err(JwkError::InvalidKey)
        } else {
            Ok(key)
        }
    }
}

#[cfg(any(feature = "p256", feature = "p384"))]
const fn curve_desc(c: EcCurve) -> &'static str {
    match c {
        EcCurve::P256 => "EC P-256",
        EcCurve::P384 => "EC P-384",
        EcCurve::P521 => "EC P-521",
    }
}
