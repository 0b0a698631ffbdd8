//! Private keys and compact-JWS signing (RFC 7515 §5.1): DPoP proofs (RFC 9449 §4.2), JWT
//! access tokens (RFC 9068 §2) and client assertions are all signed through [`SigningKey`].
//!
//! Keys come from a private JWK (RFC 7518 §6.2.2, §6.3.2; RFC 8037 §2) or are generated from
//! a caller-supplied RNG.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::{self, Write as _};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_cnf::JwkThumbprint;
use keybound_json::JsonError;
use keybound_jwk::{Jwk, JwkError};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::alg::Algorithm;

/// Why a key could not be loaded or generated, or a JWS not signed.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq)]
pub enum KeyError {
    /// The JWK is not valid JSON / not a valid JWK.
    Jwk(JwkError),
    /// A private member is missing (`d`, or an RSA CRT member).
    MissingPrivate {
        /// Member name.
        member: &'static str,
    },
    /// A private member is not canonical base64url or has the wrong length.
    InvalidPrivate {
        /// Member name.
        member: &'static str,
    },
    /// The private key does not match the public members.
    Inconsistent,
    /// The algorithm does not fit the key, or its backend feature is off.
    UnsupportedAlgorithm {
        /// The algorithm.
        alg: Algorithm,
    },
    /// The JWK's `alg` member names no algorithm usable for this key.
    UnknownAlg,
    /// The key type or curve has no signing support here.
    UnsupportedKey,
    /// Key generation or signing failed in the backend.
    Backend,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Jwk(e) => write!(f, "invalid JWK: {e}"),
            KeyError::MissingPrivate { member } => write!(f, "private JWK member {member} missing"),
            KeyError::InvalidPrivate { member } => write!(f, "private JWK member {member} invalid"),
            KeyError::Inconsistent => f.write_str("private key does not match the public members"),
            KeyError::UnsupportedAlgorithm { alg } => {
                write!(f, "algorithm {alg} not available for this key")
            }
            KeyError::UnknownAlg => f.write_str("JWK alg member not usable for this key"),
            KeyError::UnsupportedKey => f.write_str("key type or curve not supported for signing"),
            KeyError::Backend => f.write_str("crypto backend failure"),
        }
    }
}

impl core::error::Error for KeyError {}

impl From<JwkError> for KeyError {
    fn from(e: JwkError) -> Self {
        KeyError::Jwk(e)
    }
}

impl From<JsonError> for KeyError {
    fn from(e: JsonError) -> Self {
        KeyError::Jwk(JwkError::from(e))
    }
}

#[derive(Clone)]
enum Inner {
    #[cfg(feature = "p256")]
    Es256(p256::ecdsa::SigningKey),
    #[cfg(feature = "p384")]
    Es384(p384::ecdsa::SigningKey),
    #[cfg(feature = "rsa")]
    Ps256(rsa::pss::SigningKey<sha2::Sha256>),
    #[cfg(feature = "rs256")]
    Rs256(rsa::pkcs1v15::SigningKey<sha2::Sha256>),
    #[cfg(feature = "ed25519")]
    Ed25519(ed25519_dalek::SigningKey, Algorithm),
}

/// A private key that signs compact JWS (RFC 7515 §7.1) with one algorithm.
#[derive(Clone)]
pub struct SigningKey {
    inner: Inner,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg())
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

#[allow(dead_code, reason = "unused when every key backend is compiled out")]
fn member_bytes(jwk: &Jwk<'_>, member: &'static str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let v = jwk
        .object()
        .get(member)
        .ok_or(KeyError::MissingPrivate { member })?;
    let s = v
        .as_str()
        .and_then(|s| s.as_plain())
        .ok_or(KeyError::InvalidPrivate { member })?;
    Base64UrlUnpadded::decode_vec(s)
        .map(Zeroizing::new)
        .map_err(|_| KeyError::InvalidPrivate { member })
}

#[allow(dead_code, reason = "unused when every key backend is compiled out")]
fn trim_leading_zeros(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
    b.get(start..).unwrap_or_default()
}

impl SigningKey {
    /// The algorithm this key signs with.
    pub fn alg(&self) -> Algorithm {
        match &self.inner {
            // With no signing backend compiled in, `Inner` has no variant.
            #[cfg(not(any(
                feature = "p256",
                feature = "p384",
                feature = "rsa",
                feature = "ed25519"
            )))]
            _ => match self.inner {},
            #[cfg(feature = "p256")]
            Inner::Es256(_) => Algorithm::Es256,
            #[cfg(feature = "p384")]
            Inner::Es384(_) => Algorithm::Es384,
            #[cfg(feature = "rsa")]
            Inner::Ps256(_) => Algorithm::Ps256,
            #[cfg(feature = "rs256")]
            Inner::Rs256(_) => Algorithm::Rs256,
            #[cfg(feature = "ed25519")]
            Inner::Ed25519(_, alg) => *alg,
        }
    }

    /// Generates a key for `alg` (RSA: 2048 bits) from `rng`.
    pub fn generate<R: CryptoRng + ?Sized>(alg: Algorithm, rng: &mut R) -> Result<Self, KeyError> {
        Self::generate_with_rsa_bits(alg, 2048, rng)
    }

    /// Generates a key for `alg`; RSA keys get `rsa_bits` bits (at least 2048).
    #[allow(
        unused_variables,
        unreachable_code,
        reason = "backends may be compiled out"
    )]
    pub fn generate_with_rsa_bits<R: CryptoRng + ?Sized>(
        alg: Algorithm,
        rsa_bits: usize,
        rng: &mut R,
    ) -> Result<Self, KeyError> {
        let inner = match alg {
            #[cfg(feature = "p256")]
            Algorithm::Es256 => {
                use p256::elliptic_curve::Generate as _;
                Inner::Es256(p256::ecdsa::SigningKey::generate_from_rng(rng))
            }
            #[cfg(feature = "p384")]
            Algorithm::Es384 => {
                use p384::elliptic_curve::Generate as _;
                Inner::Es384(p384::ecdsa::SigningKey::generate_from_rng(rng))
            }
            #[cfg(feature = "rsa")]
            Algorithm::Ps256 => {
                let key =
                    rsa::PrivateKey::new(rng, rsa_bits.max(2048)).map_err(|_| KeyError::Backend)?;
                Inner::Ps256(rsa::pss::SigningKey::new(key))
            }
            #[cfg(feature = "rs256")]
            Algorithm::Rs256 => {
                let key =
                    rsa::PrivateKey::new(rng, rsa_bits.max(2048)).map_err(|_| KeyError::Backend)?;
                Inner::Rs256(rsa::pkcs1v15::SigningKey::new(key))
            }
            #[cfg(feature = "ed25519")]
            Algorithm::EdDsa | Algorithm::Ed25519 => {
                Inner::Ed25519(ed25519_dalek::SigningKey::generate(rng), alg)
            }
            #[allow(
                unreachable_patterns,
                reason = "reachable when a backend feature is off"
            )]
            _ => return Err(KeyError::UnsupportedAlgorithm { alg }),
        };
        Ok(SigningKey { inner })
    }

    /// Loads a private JWK. The algorithm is the JWK's `alg` member when present, else the
    /// key's natural one (EC by curve, OKP → EdDSA, RSA → PS256).
    pub fn from_jwk(json: &[u8]) -> Result<Self, KeyError> {
        Self::from_jwk_with_alg(json, None)
    }

    /// Loads a private JWK for `alg` (or the default algorithm when `None`).
    pub fn from_jwk_with_alg(json: &[u8], alg: Option<Algorithm>) -> Result<Self, KeyError> {
        let jwk = Jwk::parse(json)?;
        let alg = match alg {
            Some(a) => a,
            None => match jwk.object().get("alg") {
                Some(v) => Algorithm::from_json(&v).ok_or(KeyError::UnknownAlg)?,
                None => default_alg(&jwk)?,
            },
        };
        Self::from_parsed_jwk(&jwk, alg)
    }

    #[allow(
        unused_variables,
        unreachable_code,
        reason = "backends may be compiled out"
    )]
    fn from_parsed_jwk(jwk: &Jwk<'_>, alg: Algorithm) -> Result<Self, KeyError> {
        crate::key::check_key_shape(alg, jwk, 0)
            .map_err(|_| KeyError::UnsupportedAlgorithm { alg })?;
        let inner = match alg {
            #[cfg(feature = "p256")]
            Algorithm::Es256 => {
                let d = member_bytes(jwk, "d")?;
                if d.len() != 32 {
                    return Err(KeyError::InvalidPrivate { member: "d" });
                }
                let sk = p256::ecdsa::SigningKey::from_slice(&d)
                    .map_err(|_| KeyError::InvalidPrivate { member: "d" })?;
                if jwk.to_p256()? != *sk.verifying_key() {
                    return Err(KeyError::Inconsistent);
                }
                Inner::Es256(sk)
            }
            #[cfg(feature = "p384")]
            Algorithm::Es384 => {
                let d = member_bytes(jwk, "d")?;
                if d.len() != 48 {
                    return Err(KeyError::InvalidPrivate { member: "d" });
                }
                let sk = p384::ecdsa::SigningKey::from_slice(&d)
                    .map_err(|_| KeyError::InvalidPrivate { member: "d" })?;
                if jwk.to_p384()? != *sk.verifying_key() {
                    return Err(KeyError::Inconsistent);
                }
                Inner::Es384(sk)
            }
            #[cfg(feature = "rsa")]
            Algorithm::Ps256 => Inner::Ps256(rsa::pss::SigningKey::new(rsa_private(jwk)?)),
            #[cfg(feature = "rs256")]
            Algorithm::Rs256 => Inner::Rs256(rsa::pkcs1v15::SigningKey::new(rsa_private(jwk)?)),
            #[cfg(feature = "ed25519")]
            Algorithm::EdDsa | Algorithm::Ed25519 => {
                let d = member_bytes(jwk, "d")?;
                let d: [u8; 32] = d
                    .as_slice()
                    .try_into()
                    .map_err(|_| KeyError::InvalidPrivate { member: "d" })?;
                let sk = ed25519_dalek::SigningKey::from_bytes(&d);
                if jwk.to_ed25519()? != sk.verifying_key() {
                    return Err(KeyError::Inconsistent);
                }
                Inner::Ed25519(sk, alg)
            }
            #[allow(
                unreachable_patterns,
                reason = "reachable when a backend feature is off"
            )]
            _ => return Err(KeyError::UnsupportedAlgorithm { alg }),
        };
        Ok(SigningKey { inner })
    }

    /// The public JWK as JSON text, members in RFC 7638 order (so its SHA-256 is the thumbprint).
    pub fn public_jwk(&self) -> String {
        let mut s = String::new();
        let _ = self.write_jwk(&mut s, false);
        s
    }

    /// The private JWK as JSON text, with `alg`; zeroized on drop.
    pub fn private_jwk(&self) -> Zeroizing<String> {
        let mut s = Zeroizing::new(String::new());
        let _ = self.write_jwk(&mut s, true);
        s
    }

    /// RFC 7638 thumbprint of the public key (the `jkt` a server binds tokens to).
    pub fn thumbprint(&self) -> JwkThumbprint {
        let public = self.public_jwk();
        match Jwk::parse(public.as_bytes()) {
            Ok(jwk) => jwk.thumbprint(),
            // The text is built here from valid keys; reaching this is a bug, not input.
            Err(_) => JwkThumbprint::from_bytes([0; 32]),
        }
    }

    #[allow(
        unused_variables,
        unreachable_code,
        reason = "backends may be compiled out"
    )]
    fn write_jwk(&self, out: &mut String, private: bool) -> fmt::Result {
        match &self.inner {
            // With no signing backend compiled in, `Inner` has no variant.
            #[cfg(not(any(
                feature = "p256",
                feature = "p384",
                feature = "rsa",
                feature = "ed25519"
            )))]
            _ => match self.inner {},
            #[cfg(feature = "p256")]
            Inner::Es256(sk) => {
                let pt = sk.verifying_key().to_sec1_point(false);
                let d = private.then(|| sk.to_bytes());
                write_ec_jwk(
                    out,
                    "P-256",
                    pt.x().map(AsRef::as_ref),
                    pt.y().map(AsRef::as_ref),
                    d.as_ref().map(|d| (d.as_ref(), Algorithm::Es256)),
                )?
            }
            #[cfg(feature = "p384")]
            Inner::Es384(sk) => {
                let pt = sk.verifying_key().to_sec1_point(false);
                let d = private.then(|| sk.to_bytes());
                write_ec_jwk(
                    out,
                    "P-384",
                    pt.x().map(AsRef::as_ref),
                    pt.y().map(AsRef::as_ref),
                    d.as_ref().map(|d| (d.as_ref(), Algorithm::Es384)),
                )?
            }
            #[cfg(feature = "rsa")]
            Inner::Ps256(sk) => {
                write_rsa_jwk(out, sk.as_ref(), private.then_some(Algorithm::Ps256))?
            }
            #[cfg(feature = "rs256")]
            Inner::Rs256(sk) => {
                write_rsa_jwk(out, sk.as_ref(), private.then_some(Algorithm::Rs256))?
            }
            #[cfg(feature = "ed25519")]
            Inner::Ed25519(sk, alg) => {
                write!(
                    out,
                    r#"{{"crv":"Ed25519","kty":"OKP","x":"{}""#,
                    b64(sk.verifying_key().as_bytes())
                )?;
                if private {
                    let d = Zeroizing::new(b64(sk.as_bytes()));
                    write!(out, r#","d":"{}","alg":"{}""#, d.as_str(), alg.name())?;
                }
            }
        }
        out.write_char('}')
    }

    /// Signs `msg` (JWS form: ECDSA `r‖s`); `rng` feeds PSS salts and RSA blinding.
    #[allow(unused_variables, reason = "backends may be compiled out")]
    pub fn sign<R: CryptoRng + ?Sized>(
        &self,
        msg: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, KeyError> {
        match &self.inner {
            // With no signing backend compiled in, `Inner` has no variant.
            #[cfg(not(any(
                feature = "p256",
                feature = "p384",
                feature = "rsa",
                feature = "ed25519"
            )))]
            _ => match self.inner {},
            #[cfg(feature = "p256")]
            Inner::Es256(sk) => {
                use p256::ecdsa::signature::Signer as _;
                let sig: p256::ecdsa::Signature =
                    sk.try_sign(msg).map_err(|_| KeyError::Backend)?;
                Ok(sig.to_bytes().to_vec())
            }
            #[cfg(feature = "p384")]
            Inner::Es384(sk) => {
                use p384::ecdsa::signature::Signer as _;
                let sig: p384::ecdsa::Signature =
                    sk.try_sign(msg).map_err(|_| KeyError::Backend)?;
                Ok(sig.to_bytes().to_vec())
            }
            #[cfg(feature = "rsa")]
            Inner::Ps256(sk) => {
                use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
                let sig = sk
                    .try_sign_with_rng(rng, msg)
                    .map_err(|_| KeyError::Backend)?;
                Ok(sig.to_vec())
            }
            #[cfg(feature = "rs256")]
            Inner::Rs256(sk) => {
                use rsa::signature::{RandomizedSigner as _, SignatureEncoding as _};
                let sig = sk
                    .try_sign_with_rng(rng, msg)
                    .map_err(|_| KeyError::Backend)?;
                Ok(sig.to_vec())
            }
            #[cfg(feature = "ed25519")]
            Inner::Ed25519(sk, _) => {
                use ed25519_dalek::Signer as _;
                Ok(sk.sign(msg).to_bytes().to_vec())
            }
        }
    }

    /// The JWS header JSON for this key: `{"typ":…,"alg":…}` plus `extra` members (a JSON
    /// object's inside, such as `"kid":"k1"` or `"jwk":{…}`, written as given).
    pub fn jws_header_json(&self, typ: &str, extra: &str) -> String {
        let mut h = String::with_capacity(48 + extra.len());
        h.push_str(r#"{"typ":"#);
        let _ = keybound_json::write_str(&mut h, typ);
        let _ = write!(h, r#","alg":"{}""#, self.alg().name());
        if !extra.is_empty() {
            h.push(',');
            h.push_str(extra);
        }
        h.push('}');
        h
    }

    /// Signs header and payload JSON as a compact JWS (RFC 7515 §7.1): the bytes are signed
    /// exactly as given.
    pub fn sign_compact<R: CryptoRng + ?Sized>(
        &self,
        header: &[u8],
        payload: &[u8],
        rng: &mut R,
    ) -> Result<String, KeyError> {
        let mut out = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 700);
        out.push_str(&b64(header));
        out.push('.');
        out.push_str(&b64(payload));
        let sig = self.sign(out.as_bytes(), rng)?;
        out.push('.');
        out.push_str(&b64(&sig));
        Ok(out)
    }

    /// [`SigningKey::sign_compact`] with the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn sign_compact_os_rng(&self, header: &[u8], payload: &[u8]) -> Result<String, KeyError> {
        self.sign_compact(
            header,
            payload,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
    }

    /// [`SigningKey::generate`] with the operating system's RNG.
    #[cfg(feature = "std")]
    pub fn generate_os_rng(alg: Algorithm) -> Result<Self, KeyError> {
        Self::generate(alg, &mut rand_core::UnwrapErr(getrandom::SysRng))
    }
}

fn default_alg(jwk: &Jwk<'_>) -> Result<Algorithm, KeyError> {
    use keybound_jwk::{EcCurve, OkpCurve, PublicParams};
    match jwk.params() {
        PublicParams::Ec {
            crv: EcCurve::P256, ..
        } => Ok(Algorithm::Es256),
        PublicParams::Ec {
            crv: EcCurve::P384, ..
        } => Ok(Algorithm::Es384),
        PublicParams::Rsa { .. } => Ok(Algorithm::Ps256),
        PublicParams::Okp {
            crv: OkpCurve::Ed25519,
            ..
        } => Ok(Algorithm::EdDsa),
        _ => Err(KeyError::UnsupportedKey),
    }
}

#[cfg(feature = "rsa")]
fn rsa_private(jwk: &Jwk<'_>) -> Result<rsa::PrivateKey, KeyError> {
    use rsa::BoxedUint;
    let n = member_bytes(jwk, "n")?;
    let e = member_bytes(jwk, "e")?;
    let d = member_bytes(jwk, "d")?;
    let p = member_bytes(jwk, "p")?;
    let q = member_bytes(jwk, "q")?;
    let bits = u32::try_from(n.len().saturating_mul(8))
        .map_err(|_| KeyError::InvalidPrivate { member: "n" })?;
    let bits_e = u32::try_from(e.len().saturating_mul(8))
        .map_err(|_| KeyError::InvalidPrivate { member: "e" })?;
    let uint = |b: &[u8], bits: u32, member: &'static str| {
        BoxedUint::from_be_slice(b, bits).map_err(|_| KeyError::InvalidPrivate { member })
    };
    let key = rsa::PrivateKey::from_components(
        uint(&n, bits, "n")?,
        uint(&e, bits_e, "e")?,
        uint(&d, bits, "d")?,
        alloc::vec![uint(&p, bits, "p")?, uint(&q, bits, "q")?],
    )
    .map_err(|_| KeyError::Inconsistent)?;
    Ok(key)
}

/// Writes an EC JWK without its closing brace, members in RFC 7638 order (`crv`, `kty`,
/// `x`, `y`), then `d` and `alg` for a private export.
#[allow(dead_code, reason = "unused when both EC backends are compiled out")]
fn write_ec_jwk(
    out: &mut String,
    crv: &str,
    x: Option<&[u8]>,
    y: Option<&[u8]>,
    private: Option<(&[u8], Algorithm)>,
) -> fmt::Result {
    write!(
        out,
        r#"{{"crv":"{crv}","kty":"EC","x":"{}","y":"{}""#,
        x.map(b64).unwrap_or_default(),
        y.map(b64).unwrap_or_default()
    )?;
    if let Some((d, alg)) = private {
        let d = Zeroizing::new(b64(d));
        write!(out, r#","d":"{}","alg":"{}""#, d.as_str(), alg.name())?;
    }
    Ok(())
}

#[cfg(feature = "rsa")]
fn write_rsa_jwk(
    out: &mut String,
    key: &rsa::PrivateKey,
    private: Option<Algorithm>,
) -> fmt::Result {
    use rsa::traits::{PrivateKeyParts as _, PublicKeyParts as _};
    write!(
        out,
        r#"{{"e":"{}","kty":"RSA","n":"{}""#,
        b64(&key.e_bytes()),
        b64(&key.n_bytes())
    )?;
    if let Some(alg) = private {
        let enc = |v: &rsa::BoxedUint| {
            Zeroizing::new(b64(trim_leading_zeros(&Zeroizing::new(v.to_be_bytes()))))
        };
        write!(out, r#","d":"{}""#, enc(key.d()).as_str())?;
        let primes = key.primes();
        if let (Some(p), Some(q)) = (primes.first(), primes.get(1)) {
            write!(
                out,
                r#","p":"{}","q":"{}""#,
                enc(p.as_ref()).as_str(),
                enc(q.as_ref()).as_str()
            )?;
        }
        if let (Some(dp), Some(dq), Some(qi)) = (key.dp(), key.dq(), key.crt_coefficient()) {
            write!(
                out,
                r#","dp":"{}","dq":"{}","qi":"{}""#,
                enc(dp).as_str(),
                enc(dq).as_str(),
                enc(&qi).as_str()
            )?;
        }
        write!(out, r#","alg":"{}""#, alg.name())?;
    }
    Ok(())
}
