//! Keys that are not valid points are refused by every backend with the same verdict
//! (issue 12 items 1 and 4): small-order Ed25519 keys (with the identity key, R = identity and
//! S = 0 "verifies" every message on a backend that does not refuse it) and off-curve EC keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(all(feature = "std", feature = "p256", feature = "ed25519"))]

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_jose::keybound_jwk::JwkError;
use keybound_jose::*;

fn verifiers() -> Vec<(&'static str, Box<dyn SignatureVerifier>)> {
    let mut v: Vec<(&'static str, Box<dyn SignatureVerifier>)> = vec![
        ("rustcrypto", Box::new(RustCryptoVerifier)),
        ("fastest", Box::new(FastestVerifier)),
        ("cached", Box::new(CachedVerifier::new(FastestVerifier))),
    ];
    #[cfg(feature = "ring")]
    v.push(("ring", Box::new(RingVerifier)));
    #[cfg(feature = "aws-lc-rs")]
    v.push(("aws-lc-rs", Box::new(AwsLcVerifier)));
    v
}

/// A verifier that delegates to another but does not say it checks keys: the shared check
/// in `verify_signature` must then run.
struct Plain<V>(V);

impl<V: SignatureVerifier> SignatureVerifier for Plain<V> {
    fn supports(&self, alg: Algorithm) -> bool {
        self.0.supports(alg)
    }
    fn verify(
        &self,
        alg: Algorithm,
        key: &Jwk<'_>,
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), VerifyError> {
        // Skips the backend's own key checks by verifying with the raw bytes only.
        self.0.verify(alg, key, msg, sig)
    }
}

fn okp(x: &[u8; 32]) -> String {
    format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        Base64UrlUnpadded::encode_string(x)
    )
}

/// The canonical encodings of the Ed25519 points of order 1, 2 and 4 (y = 1, y = −1, y = 0).
fn small_order_keys() -> Vec<[u8; 32]> {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let mut minus_one = [0xffu8; 32];
    minus_one[0] = 0xec;
    minus_one[31] = 0x7f;
    let zero = [0u8; 32];
    let mut zero_neg = [0u8; 32];
    zero_neg[31] = 0x80;
    vec![identity, minus_one, zero, zero_neg]
}

#[test]
fn rejects_the_forged_identity_key_signature_on_every_backend() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let text = okp(&identity);
    let jwk = Jwk::parse(text.as_bytes()).unwrap();
    // R = the identity point, S = 0.
    let mut sig = [0u8; 64];
    sig[0] = 1;
    for (name, v) in verifiers() {
        for msg in [&b"any message"[..], b"another one"] {
            let err = verify_signature(&*v, Algorithm::EdDsa, &jwk, msg, &sig).unwrap_err();
            assert_eq!(err.fault(), Fault::Key, "{name}: {err:?}");
        }
        let err = verify_signature(&Plain(&*v), Algorithm::EdDsa, &jwk, b"m", &sig).unwrap_err();
        assert!(
            matches!(err, JoseError::InvalidJwk(JwkError::InvalidPoint { .. })),
            "{name} behind a verifier that does not check keys: {err:?}"
        );
    }
}

#[test]
fn rejects_every_small_order_ed25519_key_on_every_backend() {
    for key in small_order_keys() {
        let text = okp(&key);
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        for (name, v) in verifiers() {
            let err = verify_signature(&*v, Algorithm::EdDsa, &jwk, b"m", &[0u8; 64]).unwrap_err();
            assert_eq!(err.fault(), Fault::Key, "{name} {text}: {err:?}");
        }
    }
}

#[test]
fn rejects_off_curve_and_unreduced_ec_keys_on_every_backend_as_key_faults() {
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let good = key.public_jwk();
    let jwk = Jwk::parse(good.as_bytes()).unwrap();
    let (x, y) = match jwk.params() {
        keybound_jose::keybound_jwk::PublicParams::Ec { x, y, .. } => (x.to_vec(), y.to_vec()),
        _ => unreachable!(),
    };
    let mut off = y.clone();
    off[31] ^= 1;
    let p256_p = [
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    let sig = key
        .sign(b"msg", &mut rand_core::UnwrapErr(getrandom::SysRng))
        .unwrap();
    for (xb, yb) in [
        (x.clone(), off),
        (p256_p.to_vec(), y.clone()),
        (vec![0; 32], vec![0; 32]),
    ] {
        let text = format!(
            r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
            Base64UrlUnpadded::encode_string(&xb),
            Base64UrlUnpadded::encode_string(&yb)
        );
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        for (name, v) in verifiers() {
            let err = verify_signature(&*v, Algorithm::Es256, &jwk, b"msg", &sig).unwrap_err();
            assert_eq!(err.fault(), Fault::Key, "{name} {text}: {err:?}");
        }
    }
}

/// An Ed25519 `x` whose `y` has no matching x (RFC 8032 §5.1.3 step 3 fails) is a key fault on
/// every backend, also where the decompression check runs only after the library failed the
/// signature (aws-lc-rs one-off verifications), and directly through each verifier.
#[test]
fn rejects_ed25519_keys_that_do_not_decompress_on_every_backend_as_key_faults() {
    let mut found = 0;
    for y in 2u8..=40 {
        let mut key = [0u8; 32];
        key[0] = y;
        if keybound_jose::keybound_jwk::ed25519_decompresses(&key) {
            continue;
        }
        found += 1;
        let text = okp(&key);
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        for sig in [[0u8; 64], [0x5a; 64]] {
            for (name, v) in verifiers() {
                let err = verify_signature(&*v, Algorithm::EdDsa, &jwk, b"m", &sig).unwrap_err();
                assert_eq!(err.fault(), Fault::Key, "{name} {text}: {err:?}");
                assert_eq!(
                    v.verify(Algorithm::EdDsa, &jwk, b"m", &sig),
                    Err(VerifyError::InvalidKey),
                    "{name} {text}"
                );
            }
        }
    }
    assert!(found >= 5, "only {found} non-decompressing y in 2..=40");
}
