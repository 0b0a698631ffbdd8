//! RFC 9449 §8/§9: server-provided nonces (`DPoP-Nonce`), step 8 of validation.
//!
//! A server that wants proofs to be fresh hands out a nonce in the `DPoP-Nonce` response
//! header and requires it back in the proof's `nonce` claim (`use_dpop_nonce` otherwise).
//! Nonce values are `1*NQCHAR` (RFC 9449 §8.1). [`NonceSource`] is the seam; two sources
//! ship here:
//!
//! - [`HmacNonceSource`]: stateless and self-verifying, `base64url(step ‖ MAC)` over a time
//!   step, valid for the current and the previous step, shared across replicas by sharing
//!   the secret;
//! - [`FixedNonce`]: one expected value (tests, the CLI's `--nonce`).

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Whether every character of `s` is an RFC 9449 §8.1 `NQCHAR` (`%x21 / %x23-5B / %x5D-7E`).
///
/// True for the empty string; a nonce value is `1*NQCHAR`, see [`is_valid_nonce`].
pub fn is_nqchar(s: &str) -> bool {
    s.bytes()
        .all(|c| matches!(c, 0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// Whether `s` is a syntactically valid nonce value, `1*NQCHAR` (RFC 9449 §8.1).
pub fn is_valid_nonce(s: &str) -> bool {
    !s.is_empty() && is_nqchar(s)
}

/// Why a proof's `nonce` was not accepted (RFC 9449 §8, answered with `use_dpop_nonce`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonceError {
    /// The proof carries no nonce (or an empty one) where one is required.
    Missing,
    /// The nonce was not issued by this source (bad syntax, wrong MAC, future time step,
    /// or not the expected value).
    Invalid,
    /// The nonce was issued by this source but is too old.
    Expired,
    /// The caller's buffer cannot hold the nonce being issued.
    BufferTooSmall,
}

impl fmt::Display for NonceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Missing => "DPoP nonce is missing",
            Self::Invalid => "DPoP nonce is invalid",
            Self::Expired => "DPoP nonce has expired",
            Self::BufferTooSmall => "buffer too small for the DPoP nonce",
        })
    }
}

impl core::error::Error for NonceError {}

/// Longest nonce the default `NonceSource::issue` (feature `alloc`) can return, in bytes.
pub const MAX_NONCE_LEN: usize = 256;

/// Issues and checks server nonces (RFC 9449 §8 for authorization servers, §9 for resource
/// servers).
pub trait NonceSource {
    /// Accepts `nonce` if this source issued it and it is still fresh at `now` (Unix
    /// seconds); secret-dependent comparisons are constant time. An empty `nonce` is
    /// [`NonceError::Missing`].
    fn check(&self, nonce: &str, now: u64) -> Result<(), NonceError>;

    /// Writes a fresh nonce (`1*NQCHAR`, RFC 9449 §8.1) for time `now` into `buf`, without
    /// allocating.
    fn issue_into<'b>(&self, now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError>;

    /// A fresh nonce for the `DPoP-Nonce` header (RFC 9449 §8.1).
    ///
    /// The default calls [`NonceSource::issue_into`] with a [`MAX_NONCE_LEN`]-byte buffer
    /// and returns an empty string (which [`NonceSource::check`] never accepts) if that
    /// fails; sources with longer nonces override it.
    #[cfg(feature = "alloc")]
    fn issue(&self, now: u64) -> alloc::string::String {
        let mut buf = [0u8; MAX_NONCE_LEN];
        self.issue_into(now, &mut buf)
            .map(alloc::borrow::ToOwned::to_owned)
            .unwrap_or_default()
    }
}

impl<T: NonceSource + ?Sized> NonceSource for &T {
    fn check(&self, nonce: &str, now: u64) -> Result<(), NonceError> {
        (**self).check(nonce, now)
    }

    fn issue_into<'b>(&self, now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
        (**self).issue_into(now, buf)
    }

    #[cfg(feature = "alloc")]
    fn issue(&self, now: u64) -> alloc::string::String {
        (**self).issue(now)
    }
}

/// Domain separation for the MAC input, so the secret's MACs mean nothing elsewhere.
const MAC_DOMAIN: &[u8] = b"keybound-dpop nonce v1\0";
/// Bytes of the time step, big-endian, at the start of the decoded nonce.
const STEP_LEN: usize = 8;
/// Bytes of truncated HMAC-SHA-256 after the step.
const TAG_LEN: usize = 16;
const RAW_LEN: usize = STEP_LEN + TAG_LEN;

/// Stateless, self-verifying nonces (RFC 9449 §8, §9): `base64url(step ‖ HMAC-SHA-256(secret,
/// domain ‖ step)[..16])` with `step = now / step_secs`.
///
/// A nonce is accepted during its own time step and the next one, so it lives between
/// `step_secs` and `2 × step_secs`; nonces from a later step than `now` are rejected as
/// [`NonceError::Invalid`]. Any replica holding the same secret checks another's nonces with
/// no shared storage (keep their clocks within a step of each other). The output is 32
/// characters of the base64url alphabet, which is all `NQCHAR`.
///
/// A nonce does not stop replay on its own: keep the `jti` replay check.
#[derive(Clone)]
pub struct HmacNonceSource {
    mac: Hmac<Sha256>,
    step_secs: u64,
}

impl fmt::Debug for HmacNonceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacNonceSource")
            .field("step_secs", &self.step_secs)
            .finish_non_exhaustive()
    }
}

impl HmacNonceSource {
    /// Length of every nonce this source issues, in characters.
    pub const NONCE_LEN: usize = 32;

    /// A source keyed by `secret` (32 random bytes shared by the replicas) with time steps of
    /// `step_secs` seconds (0 is taken as 1).
    pub fn new(secret: [u8; 32], step_secs: u64) -> Self {
        // HMAC pads keys shorter than the block with zeros (RFC 2104 §2), so this is the
        // same key as `secret` itself, without a fallible constructor.
        let mut key = [0u8; 64];
        for (k, s) in key.iter_mut().zip(secret) {
            *k = s;
        }
        Self {
            mac: Hmac::<Sha256>::new(&key.into()),
            step_secs: step_secs.max(1),
        }
    }

    /// The time-step length in seconds.
    pub fn step_secs(&self) -> u64 {
        self.step_secs
    }

    fn tag(&self, step: u64) -> [u8; TAG_LEN] {
        let mut mac = self.mac.clone();
        mac.update(MAC_DOMAIN);
        mac.update(&step.to_be_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; TAG_LEN];
        for (t, m) in tag.iter_mut().zip(full.iter()) {
            *t = *m;
        }
        tag
    }
}

impl NonceSource for HmacNonceSource {
    fn check(&self, nonce: &str, now: u64) -> Result<(), NonceError> {
        if nonce.is_empty() {
            return Err(NonceError::Missing);
        }
        if nonce.len() != Self::NONCE_LEN {
            return Err(NonceError::Invalid);
        }
        let mut raw = [0u8; RAW_LEN];
        let decoded =
            Base64UrlUnpadded::decode(nonce, &mut raw).map_err(|_| NonceError::Invalid)?;
        if decoded.len() != RAW_LEN {
            return Err(NonceError::Invalid);
        }
        let (step_bytes, tag) = raw.split_at(STEP_LEN);
        let mut step = [0u8; STEP_LEN];
        step.copy_from_slice(step_bytes);
        let step = u64::from_be_bytes(step);
        // Authenticity first, so a forged nonce is never reported as merely expired.
        if !keybound_cnf::ct_eq(&self.tag(step), tag) {
            return Err(NonceError::Invalid);
        }
        let current = now / self.step_secs;
        if step > current {
            return Err(NonceError::Invalid);
        }
        if current - step > 1 {
            return Err(NonceError::Expired);
        }
        Ok(())
    }

    fn issue_into<'b>(&self, now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
        let step = now / self.step_secs;
        let mut raw = [0u8; RAW_LEN];
        for (r, b) in raw
            .iter_mut()
            .zip(step.to_be_bytes().into_iter().chain(self.tag(step)))
        {
            *r = b;
        }
        Base64UrlUnpadded::encode(&raw, buf).map_err(|_| NonceError::BufferTooSmall)
    }
}

/// A single expected nonce (RFC 9449 §8), e.g. the CLI's `--nonce`: [`NonceSource::check`]
/// accepts exactly this string (constant-time comparison), `issue` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedNonce<'a>(pub &'a str);

impl NonceSource for FixedNonce<'_> {
    fn check(&self, nonce: &str, _now: u64) -> Result<(), NonceError> {
        if nonce.is_empty() {
            return Err(NonceError::Missing);
        }
        if keybound_cnf::ct_eq(nonce.as_bytes(), self.0.as_bytes()) {
            Ok(())
        } else {
            Err(NonceError::Invalid)
        }
    }

    fn issue_into<'b>(&self, _now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
        let out = buf
            .get_mut(..self.0.len())
            .ok_or(NonceError::BufferTooSmall)?;
        out.copy_from_slice(self.0.as_bytes());
        core::str::from_utf8(out).map_err(|_| NonceError::BufferTooSmall)
    }

    #[cfg(feature = "alloc")]
    fn issue(&self, _now: u64) -> alloc::string::String {
        alloc::borrow::ToOwned::to_owned(self.0)
    }
}
