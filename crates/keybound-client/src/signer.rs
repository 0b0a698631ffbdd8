//! Signing behind a trait: DPoP proofs (RFC 9449 §4.2) and `private_key_jwt` client
//! assertions (RFC 7523 §2.2) are JWS compact serializations (RFC 7515 §7.1) whose signature
//! comes from a [`JwsSigner`] — keybound's in-memory [`SigningKey`], or an HSM / KMS key.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::boxed::Box;
use std::string::String;
use std::sync::Arc;
use std::vec::Vec;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound::JwkThumbprint;
use keybound::dpop::{Algorithm, DPOP_TYP, ProofParams, SigningKey};

/// The future a [`JwsSigner`] returns: the signature bytes.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Vec<u8>, SignerError>> + Send + 'a>>;

/// A private key that signs JWS (RFC 7515) for the client: DPoP proofs and client assertions.
///
/// Implement it for an external signer (PKCS#11 HSM, cloud KMS, a TPM): `sign` is async so a
/// remote call does not block the runtime. The in-memory [`SigningKey`] implements it.
pub trait JwsSigner: Send + Sync {
    /// The JWS algorithm (RFC 7518 §3.1; EdDSA per RFC 8037).
    fn alg(&self) -> Algorithm;

    /// The public key as a JWK JSON object (RFC 7517 §4), no private members; it goes into
    /// the proof header's `jwk` (RFC 9449 §4.2).
    fn public_jwk(&self) -> String;

    /// The RFC 7638 SHA-256 thumbprint of the public key (`jkt`, RFC 9449 §6.1).
    fn thumbprint(&self) -> JwkThumbprint;

    /// Signs the JWS signing input `ASCII(b64(header) '.' b64(payload))` (RFC 7515 §5.1).
    /// ECDSA signatures are the fixed-size `r‖s` form (RFC 7518 §3.4), not DER.
    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a>;
}

impl JwsSigner for keybound::jose::SigningKey {
    fn alg(&self) -> Algorithm {
        keybound::jose::SigningKey::alg(self)
    }

    fn public_jwk(&self) -> String {
        keybound::jose::SigningKey::public_jwk(self)
    }

    fn thumbprint(&self) -> JwkThumbprint {
        keybound::jose::SigningKey::thumbprint(self)
    }

    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a> {
        // PSS salts and RSA blinding come from the OS RNG.
        let result = keybound::jose::SigningKey::sign(
            self,
            signing_input,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .map_err(|e| SignerError::new(format!("in-memory key: {e}")));
        Box::pin(core::future::ready(result))
    }
}

/// keybound-dpop's proof key is the JOSE key with proof methods: it signs the same way.
impl JwsSigner for SigningKey {
    fn alg(&self) -> Algorithm {
        JwsSigner::alg(self.jose())
    }

    fn public_jwk(&self) -> String {
        JwsSigner::public_jwk(self.jose())
    }

    fn thumbprint(&self) -> JwkThumbprint {
        JwsSigner::thumbprint(self.jose())
    }

    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a> {
        JwsSigner::sign(self.jose(), signing_input)
    }
}

impl<T: JwsSigner + ?Sized> JwsSigner for Arc<T> {
    fn alg(&self) -> Algorithm {
        (**self).alg()
    }

    fn public_jwk(&self) -> String {
        (**self).public_jwk()
    }

    fn thumbprint(&self) -> JwkThumbprint {
        (**self).thumbprint()
    }

    fn sign<'a>(&'a self, signing_input: &'a [u8]) -> SignFuture<'a> {
        (**self).sign(signing_input)
    }
}

/// Why a signer produced no usable signature.
#[derive(Debug)]
pub struct SignerError {
    message: String,
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

impl SignerError {
    /// A failure described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        SignerError {
            message: message.into(),
            source: None,
        }
    }

    /// A failure with its underlying cause (an HSM or KMS client error).
    pub fn with_source(
        message: impl Into<String>,
        source: impl Into<Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        SignerError {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl core::error::Error for SignerError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn core::error::Error + 'static))
    }
}

/// The signature length a JWS algorithm fixes (RFC 7518 §3.4, RFC 8037 §3.1), if it fixes one.
fn fixed_signature_len(alg: Algorithm) -> Option<usize> {
    match alg {
        Algorithm::Es256 | Algorithm::EdDsa | Algorithm::Ed25519 => Some(64),
        Algorithm::Es384 => Some(96),
        _ => None,
    }
}

/// Random bytes from the operating system.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], SignerError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf)
        .map_err(|e| SignerError::new(format!("operating system RNG failed: {e}")))?;
    Ok(buf)
}

/// A fresh `jti`: 128 random bits, base64url (22 characters; RFC 9449 §4.2 asks for at least
/// 96 bits).
pub(crate) fn new_jti() -> Result<String, SignerError> {
    Ok(Base64UrlUnpadded::encode_string(&random::<16>()?))
}

/// Signs `header` and `payload` (JSON texts) as a compact JWS with `signer`.
pub(crate) async fn sign_compact(
    signer: &dyn JwsSigner,
    header: &str,
    payload: &str,
) -> Result<String, SignerError> {
    let mut out = Base64UrlUnpadded::encode_string(header.as_bytes());
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(payload.as_bytes()));
    let sig = signer.sign(out.as_bytes()).await?;
    let alg = signer.alg();
    if let Some(len) = fixed_signature_len(alg)
        && sig.len() != len
    {
        return Err(SignerError::new(format!(
            "signer returned {} bytes for {alg}, expected {len} (JWS r‖s form)",
            sig.len()
        )));
    }
    out.push('.');
    out.push_str(&Base64UrlUnpadded::encode_string(&sig));
    Ok(out)
}

/// A signed DPoP proof and the `jti` it carries.
#[derive(Clone, Debug)]
pub(crate) struct SignedProof {
    pub(crate) proof: String,
    pub(crate) jti: String,
}

/// Builds and signs a DPoP proof (RFC 9449 §4.2): header `typ`, `alg`, `jwk`; claims `jti`
/// (fresh), `htm`, `htu` (query and fragment removed), `iat`, `ath`, `nonce`.
pub(crate) async fn sign_proof(
    signer: &dyn JwsSigner,
    params: &ProofParams<'_>,
) -> Result<SignedProof, SignerError> {
    let jti = new_jti()?;
    let mut header = String::with_capacity(200);
    header.push_str("{\"typ\":\"");
    header.push_str(DPOP_TYP);
    header.push_str("\",\"alg\":\"");
    header.push_str(signer.alg().name());
    header.push_str("\",\"jwk\":");
    header.push_str(&signer.public_jwk());
    header.push('}');
    let payload = keybound::dpop::payload_json(params, &jti)
        .map_err(|_| SignerError::new("cannot serialize the proof claims"))?;
    let proof = sign_compact(signer, &header, &payload).await?;
    Ok(SignedProof { proof, jti })
}
