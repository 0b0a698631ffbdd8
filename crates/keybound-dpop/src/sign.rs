//! Client side: proof creation (RFC 9449 §4.2) with a [`SigningKey`].
//!
//! The key itself (loading a private JWK, generation, JWK export, compact-JWS signing) lives in
//! `keybound-jose`; this crate's [`SigningKey`] wraps it and adds the proof methods, so keys
//! load and sign the same way for proofs, access tokens and client assertions. Proofs get a
//! fresh random `jti` (128 bits) from the caller's RNG.

use alloc::string::String;
use core::fmt::{self, Write as _};
use core::ops::Deref;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_jose::{Algorithm, KeyError};
use rand_core::CryptoRng;

use crate::jws::DPOP_TYP;
use crate::wire::ath;

/// A private key that signs DPoP proofs (and, through [`Deref`], any compact JWS) with one
/// algorithm: a [`keybound_jose::SigningKey`] with the proof methods of RFC 9449 §4.2.
#[derive(Clone, Debug)]
pub struct SigningKey(keybound_jose::SigningKey);

impl Deref for SigningKey {
    type Target = keybound_jose::SigningKey;
    fn deref(&self) -> &keybound_jose::SigningKey {
        &self.0
    }
}

impl From<keybound_jose::SigningKey> for SigningKey {
    fn from(key: keybound_jose::SigningKey) -> Self {
        SigningKey(key)
    }
}

impl From<SigningKey> for keybound_jose::SigningKey {
    fn from(key: SigningKey) -> Self {
        key.0
    }
}

impl AsRef<keybound_jose::SigningKey> for SigningKey {
    fn as_ref(&self) -> &keybound_jose::SigningKey {
        &self.0
    }
}

/// What a proof says (RFC 9449 §4.2). `iat` comes from the caller's clock.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct ProofParams<'a> {
    /// HTTP method.
    pub htm: &'a str,
    /// Target URI (query and fragment are stripped before signing, RFC 9449 §4.2).
    pub htu: &'a str,
    /// Creation time, Unix seconds.
    pub iat: u64,
    /// Access token to bind with `ath`.
    pub access_token: Option<&'a str>,
    /// Server-provided nonce.
    pub nonce: Option<&'a str>,
}

impl<'a> ProofParams<'a> {
    /// A proof for `htm` `htu` at `iat`.
    pub const fn new(htm: &'a str, htu: &'a str, iat: u64) -> Self {
        ProofParams {
            htm,
            htu,
            iat,
            access_token: None,
            nonce: None,
        }
    }

    /// Binding an access token (`ath`).
    #[must_use]
    pub const fn with_access_token(mut self, token: &'a str) -> Self {
        self.access_token = Some(token);
        self
    }

    /// Carrying a server nonce.
    #[must_use]
    pub const fn with_nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }
}

impl SigningKey {
    /// Generates a key for `alg` (RSA: 2048 bits) from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(alg: Algorithm, rng: &mut R) -> Result<Self, KeyError> {
        keybound_jose::SigningKey::generate(alg, rng).map(SigningKey)
    }

    /// Generates a key for `alg`; RSA keys get `rsa_bits` bits (at least 2048).
    pub fn generate_with_rsa_bits<R: CryptoRng + ?Sized>(
        alg: Algorithm,
        rsa_bits: usize,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        keybound_jose::SigningKey::generate_with_rsa_bits(alg, rsa_bits, rng).map(SigningKey)
    }

    /// Loads a private JWK. The algorithm is the JWK's `alg` member when present, else the
    /// key's natural one (EC by curve, OKP → EdDSA, RSA → PS256).
    pub fn from_jwk(json: &[u8]) -> Result<Self, KeyError> {
        keybound_jose::SigningKey::from_jwk(json).map(SigningKey)
    }

    /// Loads a private JWK for `alg` (or the default algorithm when `None`).
    pub fn from_jwk_with_alg(json: &[u8], alg: Option<Algorithm>) -> Result<Self, KeyError> {
        keybound_jose::SigningKey::from_jwk_with_alg(json, alg).map(SigningKey)
    }

    /// [`SigningKey::generate`] with the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn generate_os_rng(alg: Algorithm) -> Result<Self, KeyError> {
        keybound_jose::SigningKey::generate_os_rng(alg).map(SigningKey)
    }

    /// The JOSE key this proof key wraps.
    pub fn jose(&self) -> &keybound_jose::SigningKey {
        &self.0
    }

    /// Builds and signs a proof (RFC 9449 §4.2) with a fresh 128-bit `jti` from `rng`.
    pub fn sign_proof<R: CryptoRng + ?Sized>(
        &self,
        params: &ProofParams<'_>,
        rng: &mut R,
    ) -> Result<String, KeyError> {
        let mut jti_bytes = [0u8; 16];
        rng.fill_bytes(&mut jti_bytes);
        let mut jti_buf = [0u8; 22];
        let jti =
            Base64UrlUnpadded::encode(&jti_bytes, &mut jti_buf).map_err(|_| KeyError::Backend)?;
        self.sign_proof_with_jti(params, jti, rng)
    }

    /// Builds and signs a proof with the given `jti` (tests, deterministic tooling).
    pub fn sign_proof_with_jti<R: CryptoRng + ?Sized>(
        &self,
        params: &ProofParams<'_>,
        jti: &str,
        rng: &mut R,
    ) -> Result<String, KeyError> {
        let header = self.header_json();
        let payload = payload_json(params, jti).map_err(|_| KeyError::Backend)?;
        self.sign_compact(header.as_bytes(), payload.as_bytes(), rng)
    }

    /// The proof header JSON: `{"typ":"dpop+jwt","alg":…,"jwk":…}` (RFC 9449 §4.2).
    pub fn header_json(&self) -> String {
        let mut extra = String::with_capacity(140);
        let _ = write!(extra, r#""jwk":{}"#, self.public_jwk());
        self.0.jws_header_json(DPOP_TYP, &extra)
    }

    /// [`SigningKey::sign_proof`] with the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn sign_proof_os_rng(&self, params: &ProofParams<'_>) -> Result<String, KeyError> {
        self.sign_proof(params, &mut rand_core::UnwrapErr(getrandom::SysRng))
    }
}

/// The claims JSON of a proof; `htu` is sent without query and fragment (RFC 9449 §4.2).
pub fn payload_json(params: &ProofParams<'_>, jti: &str) -> Result<String, fmt::Error> {
    let htu = params.htu.split(['?', '#']).next().unwrap_or(params.htu);
    let mut p = String::with_capacity(160);
    p.push_str(r#"{"jti":"#);
    keybound_json::write_str(&mut p, jti)?;
    p.push_str(r#","htm":"#);
    keybound_json::write_str(&mut p, params.htm)?;
    p.push_str(r#","htu":"#);
    keybound_json::write_str(&mut p, htu)?;
    write!(p, r#","iat":{}"#, params.iat)?;
    if let Some(token) = params.access_token {
        let mut buf = [0u8; crate::wire::ATH_LEN];
        write!(p, r#","ath":"{}""#, ath(token, &mut buf))?;
    }
    if let Some(nonce) = params.nonce {
        p.push_str(r#","nonce":"#);
        keybound_json::write_str(&mut p, nonce)?;
    }
    p.push('}');
    Ok(p)
}
