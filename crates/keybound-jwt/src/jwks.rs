//! A JWK Set (RFC 7517 §5) of verification keys, parsed strictly once and looked up per token
//! by `kid` (or by `alg` when the token has none) without allocating.

use alloc::string::String;
use alloc::vec::Vec;

use keybound_cnf::JwkThumbprint;
use keybound_jose::{AlgSet, Algorithm};
use keybound_json::{Limits, Object, Value};
use keybound_jwk::{EcCurve, Jwk, JwkError, OkpCurve, PublicParams};

use crate::error::{JwksError, TokenError};

/// Cap on a JWKS document in bytes: 100 RSA-4096 keys with certificates fit.
pub const MAX_JWKS_LEN: usize = 512 * 1024;
/// Cap on the number of keys in a JWKS.
pub const MAX_JWKS_KEYS: usize = 100;

/// Why a well-formed JWKS entry is not used for verification (it is still a valid public key).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// `use` is not `sig` (an encryption key, RFC 7517 §4.2).
    NotForSignatures,
    /// `key_ops` does not include `verify` (RFC 7517 §4.3).
    NoVerifyOp,
    /// `alg` names an algorithm outside this crate's table (e.g. `RS512`, `ES512`, `ECDH-ES`).
    OtherAlgorithm,
    /// The key type or curve has no algorithm here (P-521, Ed448, X25519, X448).
    UnsupportedKeyType,
    /// RSA modulus under 2048 bits: no verifier here accepts it.
    RsaTooSmall,
}

/// A JWKS entry that was left out, for the host's logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// Index in `keys`.
    pub index: usize,
    /// Its `kid`, when it has one.
    pub kid: Option<String>,
    /// Why it is not used.
    pub reason: SkipReason,
}

/// One verification key of a [`Jwks`].
#[derive(Clone, Debug)]
pub struct JwksKey {
    /// The key object's JSON text as received (a validated public JWK).
    json: String,
    kid: Option<String>,
    algs: AlgSet,
    thumbprint: JwkThumbprint,
}

impl JwksKey {
    /// The key as a [`Jwk`], borrowed from the stored text (validated when the set was parsed).
    pub fn jwk(&self) -> Result<Jwk<'_>, JwkError> {
        Jwk::parse(self.json.as_bytes())
    }

    /// The key's JSON text.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// Its `kid`, if any (RFC 7517 §4.5).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify: those of its type (and size), narrowed by its own
    /// `alg` member.
    pub fn algs(&self) -> AlgSet {
        self.algs
    }

    /// Its RFC 7638 thumbprint.
    pub fn thumbprint(&self) -> &JwkThumbprint {
        &self.thumbprint
    }
}

/// A JWK Set for verifying signatures (RFC 7517 §5), strictly parsed: public keys only, `kid`s
/// unique among the verification keys, each key's `use`, `key_ops` and `alg` respected, key
/// material validated (canonical base64url, lengths, RSA ≥ 2048 bits to be usable).
#[derive(Clone, Debug, Default)]
pub struct Jwks {
    keys: Vec<JwksKey>,
    skipped: Vec<SkippedKey>,
}

impl Jwks {
    /// Parses a JWKS document (RFC 7517 §5): `{"keys":[…]}`, at most [`MAX_JWKS_LEN`] bytes and
    /// [`MAX_JWKS_KEYS`] keys. Keys that are valid but not for verification here (encryption
    /// keys, other algorithms, other curves) are skipped and listed in [`Jwks::skipped`];
    /// malformed keys, private or symmetric key material and duplicate `kid`s refuse the set.
    pub fn parse(json: &[u8]) -> Result<Jwks, JwksError> {
        if json.len() > MAX_JWKS_LEN {
            return Err(JwksError::TooLarge {
                len: json.len(),
                max: MAX_JWKS_LEN,
            });
        }
        let limits = Limits {
            max_len: MAX_JWKS_LEN,
            ..Limits::DEFAULT
        };
        let (_, [keys]) =
            Object::parse_picking(json, &limits, ["keys"]).map_err(JwksError::Json)?;
        let keys = match keys {
            Some(Value::Array(a)) => a,
            _ => return Err(JwksError::MissingKeys),
        };
        if keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys { max: MAX_JWKS_KEYS });
        }
        let mut set = Jwks::default();
        for (index, value) in keys.iter().enumerate() {
            let Value::Object(obj) = value else {
                return Err(JwksError::NotAnObject { index });
            };
            set.admit(index, obj)?;
        }
        Ok(set)
    }

    /// A set of the given public JWKs (each a JSON object text), under the rules of
    /// [`Jwks::parse`].
    pub fn from_jwks<'j, I: IntoIterator<Item = &'j str>>(jwks: I) -> Result<Jwks, JwksError> {
        let mut set = Jwks::default();
        for (index, text) in jwks.into_iter().enumerate() {
            if index >= MAX_JWKS_KEYS {
                return Err(JwksError::TooManyKeys { max: MAX_JWKS_KEYS });
            }
            let obj = Object::parse(text.as_bytes()).map_err(JwksError::Json)?;
            set.admit(index, obj)?;
        }
        Ok(set)
    }

    fn admit(&mut self, index: usize, obj: Object<'_>) -> Result<(), JwksError> {
        let jwk = match Jwk::from_object(obj) {
            Ok(jwk) => jwk,
            Err(JwkError::SymmetricKey) => return Err(JwksError::PrivateKey { index }),
            Err(error) => return Err(JwksError::Key { index, error }),
        };
        if jwk.is_private() {
            return Err(JwksError::PrivateKey { index });
        }
        // Weak or invalid points are refused as for proofs (small-order Ed25519, off-curve EC).
        jwk.check_key()
            .map_err(|error| JwksError::Key { index, error })?;
        let [kid, key_use, key_ops, key_alg] = obj.pick(["kid", "use", "key_ops", "alg"]);
        let kid = match kid {
            None => None,
            Some(v) => Some(
                v.as_str()
                    .ok_or(JwksError::InvalidKid { index })?
                    .to_cow()
                    .into_owned(),
            ),
        };
        let skip = |reason| SkippedKey {
            index,
            kid: kid.clone(),
            reason,
        };
        if key_use.is_some_and(|v| !v.as_str().is_some_and(|s| s.eq_str("sig"))) {
            self.skipped.push(skip(SkipReason::NotForSignatures));
            return Ok(());
        }
        if key_ops.is_some_and(|v| {
            !v.as_array().is_some_and(|a| {
                a.iter()
                    .any(|op| op.as_str().is_some_and(|s| s.eq_str("verify")))
            })
        }) {
            self.skipped.push(skip(SkipReason::NoVerifyOp));
            return Ok(());
        }
        let mut algs = match jwk.params() {
            PublicParams::Ec {
                crv: EcCurve::P256, ..
            } => AlgSet::EMPTY.with(Algorithm::Es256),
            PublicParams::Ec {
                crv: EcCurve::P384, ..
            } => AlgSet::EMPTY.with(Algorithm::Es384),
            PublicParams::Okp {
                crv: OkpCurve::Ed25519,
                ..
            } => AlgSet::EMPTY
                .with(Algorithm::EdDsa)
                .with(Algorithm::Ed25519),
            PublicParams::Rsa { .. } => {
                if jwk.rsa_modulus_bits().unwrap_or(0) < keybound_jose::MIN_RSA_BITS_FLOOR {
                    self.skipped.push(skip(SkipReason::RsaTooSmall));
                    return Ok(());
                }
                AlgSet::EMPTY.with(Algorithm::Ps256).with(Algorithm::Rs256)
            }
            _ => {
                self.skipped.push(skip(SkipReason::UnsupportedKeyType));
                return Ok(());
            }
        };
        if let Some(v) = key_alg {
            let named = match Algorithm::from_json(&v) {
                Some(Algorithm::EdDsa | Algorithm::Ed25519) => AlgSet::EMPTY
                    .with(Algorithm::EdDsa)
                    .with(Algorithm::Ed25519),
                Some(a) => AlgSet::EMPTY.with(a),
                None => AlgSet::EMPTY,
            };
            algs = algs.intersection(named);
            if algs.is_empty() {
                self.skipped.push(skip(SkipReason::OtherAlgorithm));
                return Ok(());
            }
        }
        if let Some(k) = &kid
            && self
                .keys
                .iter()
                .any(|e| e.kid.as_deref() == Some(k.as_str()))
        {
            return Err(JwksError::DuplicateKid { index });
        }
        self.keys.push(JwksKey {
            json: String::from(obj.as_str()),
            kid,
            algs,
            thumbprint: jwk.thumbprint(),
        });
        Ok(())
    }

    /// The verification keys, in document order.
    pub fn keys(&self) -> &[JwksKey] {
        &self.keys
    }

    /// The entries left out, with why.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// Number of verification keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is no verification key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&JwksKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key a token with header `kid` and `alg` names (RFC 7515 §4.1.4): by `kid` when
    /// given, else the one key that can verify `alg` (none or several refuse the token).
    pub fn select(&self, kid: Option<&str>, alg: Algorithm) -> Result<&JwksKey, TokenError> {
        match kid {
            Some(kid) => self.get(kid).ok_or(TokenError::UnknownKid),
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.algs.contains(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(TokenError::NoKeyForAlg { alg }),
                    (Some(_), Some(_)) => Err(TokenError::AmbiguousKey { alg }),
                }
            }
        }
    }
}
