//! Parsing a public JWK (RFC 7517) and its RFC 7638 thumbprint.

use core::fmt;

use keybound_cnf::JwkThumbprint;
use keybound_json::{Object, Str, Value};

use crate::params::Piece;
use crate::{B64, EcCurve, JwkError, MAX_RSA_MODULUS_BITS, OkpCurve, PublicParams};

/// Members that carry private or symmetric key material (RFC 7518 §6.2.2, §6.3.2, §6.4.1;
/// RFC 8037 §2).
pub const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Longest base64url text read for any key member: an 8192-bit modulus.
const MAX_B64_LEN: usize = MAX_RSA_MODULUS_BITS / 8 * 4 / 3 + 4;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    Kty,
    Crv,
    X,
    Y,
    N,
    E,
    Private(&'static str),
    /// Registered (RFC 7517 §4) members whose type is checked.
    Str(&'static str),
    StrArray(&'static str),
    Other,
}

fn classify(plain: &str) -> Member {
    match plain {
        "kty" => Member::Kty,
        "crv" => Member::Crv,
        "x" => Member::X,
        "y" => Member::Y,
        "n" => Member::N,
        "e" => Member::E,
        "d" => Member::Private("d"),
        "p" => Member::Private("p"),
        "q" => Member::Private("q"),
        "dp" => Member::Private("dp"),
        "dq" => Member::Private("dq"),
        "qi" => Member::Private("qi"),
        "oth" => Member::Private("oth"),
        "k" => Member::Private("k"),
        "use" => Member::Str("use"),
        "alg" => Member::Str("alg"),
        "kid" => Member::Str("kid"),
        "x5u" => Member::Str("x5u"),
        "x5t" => Member::Str("x5t"),
        "x5t#S256" => Member::Str("x5t#S256"),
        "key_ops" => Member::StrArray("key_ops"),
        "x5c" => Member::StrArray("x5c"),
        _ => Member::Other,
    }
}

/// Every name `classify` knows, for names written with escapes.
const KNOWN: [&str; 22] = [
    "kty", "crv", "x", "y", "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth", "k", "use", "alg",
    "kid", "x5u", "x5t", "x5t#S256", "key_ops", "x5c",
];

fn classify_str(name: Str<'_>) -> Member {
    match name.as_plain() {
        Some(plain) => classify(plain),
        None => KNOWN
            .iter()
            .find(|k| name.eq_str(k))
            .map_or(Member::Other, |k| classify(k)),
    }
}

fn wrong_type(member: &'static str, expected: &'static str, value: Value<'_>) -> JwkError {
    JwkError::WrongType {
        member,
        expected,
        found: value.kind_name(),
    }
}

fn required<'a>(member: &'static str, value: Option<Value<'a>>) -> Result<Str<'a>, JwkError> {
    let value = value.ok_or(JwkError::MissingMember { member })?;
    value
        .as_str()
        .ok_or_else(|| wrong_type(member, "string", value))
}

/// A base64url member: canonical after unescaping (RFC 8259 §7), bounded length.
fn b64<'a>(member: &'static str, value: Option<Value<'a>>) -> Result<B64<'a>, JwkError> {
    let s = required(member, value)?;
    let len = match s.as_plain() {
        Some(text) => text.len(),
        None => s.unescaped_len(),
    };
    if len > MAX_B64_LEN {
        return Err(JwkError::CoordinateLength {
            member,
            expected: MAX_RSA_MODULUS_BITS / 8,
            actual: len / 4 * 3,
        });
    }
    B64::from_json(s).ok_or(JwkError::Base64 { member })
}

fn fixed_len<'a>(
    member: &'static str,
    value: Option<Value<'a>>,
    len: usize,
) -> Result<B64<'a>, JwkError> {
    let v = b64(member, value)?;
    if v.decoded_len() == len {
        Ok(v)
    } else {
        Err(JwkError::CoordinateLength {
            member,
            expected: len,
            actual: v.decoded_len(),
        })
    }
}

/// A Base64urlUInt (RFC 7518 §2): non-empty, no leading zero octet.
fn uint<'a>(member: &'static str, value: Option<Value<'a>>) -> Result<B64<'a>, JwkError> {
    let v = b64(member, value)?;
    match v.first_byte() {
        Some(0) if v.decoded_len() > 1 => Err(JwkError::NonMinimalInteger { member }),
        _ => Ok(v),
    }
}

fn ec_curve(name: Str<'_>) -> Option<EcCurve> {
    [EcCurve::P256, EcCurve::P384, EcCurve::P521]
        .into_iter()
        .find(|c| name.eq_str(c.name()))
}

fn okp_curve(name: Str<'_>) -> Option<OkpCurve> {
    [
        OkpCurve::Ed25519,
        OkpCurve::Ed448,
        OkpCurve::X25519,
        OkpCurve::X448,
    ]
    .into_iter()
    .find(|c| name.eq_str(c.name()))
}

fn bit_len(v: &B64<'_>) -> usize {
    match v.first_byte() {
        None | Some(0) => 0,
        Some(b) => (v.decoded_len() - 1) * 8 + (8 - b.leading_zeros() as usize),
    }
}

/// A public key in JWK form (RFC 7517 §4), validated, borrowed from the JSON text.
///
/// Parsing checks the members RFC 7638 hashes (their types, curves, lengths and base64url
/// form) and notes private members without refusing them, so the thumbprint of a private
/// JWK's public part is available; call [`Jwk::require_public`] where only a public key may
/// appear (RFC 9449 §4.3 for the DPoP header `jwk`).
#[derive(Clone, Copy)]
pub struct Jwk<'a> {
    object: Object<'a>,
    params: PublicParams<'a>,
    private: Option<&'static str>,
}

impl<'a> Jwk<'a> {
    /// Parses a JWK from JSON text (RFC 7517 §4).
    pub fn parse(json: &'a [u8]) -> Result<Self, JwkError> {
        Self::from_object(Object::parse(json)?)
    }

    /// Reads a JWK from an already parsed JSON object, such as a DPoP header's `jwk`
    /// (RFC 9449 §4.2).
    pub fn from_object(object: Object<'a>) -> Result<Self, JwkError> {
        let (mut kty, mut crv, mut x, mut y, mut n, mut e) = (None, None, None, None, None, None);
        let mut private = None;
        for (name, value) in object.members() {
            match classify_str(name) {
                Member::Kty => kty = Some(value),
                Member::Crv => crv = Some(value),
                Member::X => x = Some(value),
                Member::Y => y = Some(value),
                Member::N => n = Some(value),
                Member::E => e = Some(value),
                Member::Private(m) => {
                    private = private.or(Some(m));
                }
                Member::Str(m) => {
                    if value.as_str().is_none() {
                        return Err(wrong_type(m, "string", value));
                    }
                }
                Member::StrArray(m) => {
                    let ok = value
                        .as_array()
                        .is_some_and(|a| a.iter().all(|v| v.as_str().is_some()));
                    if !ok {
                        return Err(wrong_type(m, "array of strings", value));
                    }
                }
                Member::Other => {}
            }
        }
        let kty = required("kty", kty)?;
        let params = if kty.eq_str("EC") {
            let crv_s = required("crv", crv)?;
            let crv = match ec_curve(crv_s) {
                Some(c) => c,
                None => {
                    return Err(match okp_curve(crv_s) {
                        Some(o) => JwkError::CurveMismatch {
                            kty: "EC",
                            crv: o.name(),
                        },
                        None => JwkError::UnknownCurve { kty: "EC" },
                    });
                }
            };
            let len = crv.coordinate_len();
            PublicParams::Ec {
                crv,
                x: fixed_len("x", x, len)?,
                y: fixed_len("y", y, len)?,
            }
        } else if kty.eq_str("RSA") {
            let n = uint("n", n)?;
            let bits = bit_len(&n);
            if bits == 0 || bits > MAX_RSA_MODULUS_BITS || n.last_byte().is_some_and(|b| b & 1 == 0)
            {
                return Err(JwkError::InvalidRsaModulus);
            }
            let e = uint("e", e)?;
            if e.decoded_len() > 8 || e.last_byte().is_none_or(|b| b & 1 == 0) || bit_len(&e) < 2 {
                return Err(JwkError::InvalidRsaExponent);
            }
            PublicParams::Rsa { n, e }
        } else if kty.eq_str("OKP") {
            let crv_s = required("crv", crv)?;
            let crv = match okp_curve(crv_s) {
                Some(c) => c,
                None => {
                    return Err(match ec_curve(crv_s) {
                        Some(c) => JwkError::CurveMismatch {
                            kty: "OKP",
                            crv: c.name(),
                        },
                        None => JwkError::UnknownCurve { kty: "OKP" },
                    });
                }
            };
            PublicParams::Okp {
                crv,
                x: fixed_len("x", x, crv.key_len())?,
            }
        } else if kty.eq_str("oct") {
            return Err(JwkError::SymmetricKey);
        } else {
            return Err(JwkError::UnknownKeyType);
        };
        Ok(Self {
            object,
            params,
            private,
        })
    }

    /// The public parameters (RFC 7638 §3.2 required members).
    pub fn params(&self) -> &PublicParams<'a> {
        &self.params
    }

    /// The JWK object as parsed, for `alg`, `kid`, `x5c` and other lookups.
    pub fn object(&self) -> Object<'a> {
        self.object
    }

    /// Whether a private-key member (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth` or `k`) is present.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// The first private-key member found, if any.
    pub fn private_member(&self) -> Option<&'static str> {
        self.private
    }

    /// Refuses a JWK that carries private-key members (RFC 9449 §4.3 check 7; RFC 7517 §9.2).
    pub fn require_public(&self) -> Result<(), JwkError> {
        match self.private {
            Some(member) => Err(JwkError::PrivateKey { member }),
            None => Ok(()),
        }
    }

    /// Writes the RFC 7638 §3.2 canonical JSON that the thumbprint hashes (member values
    /// unescaped, §3.3).
    pub fn write_thumbprint_input(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let (pieces, count) = self.params.canonical_pieces();
        pieces.iter().take(count).try_for_each(|p| match p {
            Piece::Text(t) => out.write_str(t),
            Piece::Value(v) => write!(out, "{v}"),
        })
    }

    /// The RFC 7638 thumbprint under digest `D` (§3.1), hashed incrementally without a heap,
    /// over the unescaped member values (§3.3).
    pub fn thumbprint_with<D: digest::Digest>(&self) -> digest::Output<D> {
        let mut d = D::new();
        let (pieces, count) = self.params.canonical_pieces();
        for piece in pieces.iter().take(count) {
            match piece {
                Piece::Text(t) => d.update(t.as_bytes()),
                Piece::Value(v) => v.for_each_chunk(|chunk| d.update(chunk)),
            }
        }
        d.finalize()
    }

    /// The RFC 7638 SHA-256 thumbprint, as used in RFC 9449 `jkt` (§6.1) and RFC 9278 URIs.
    pub fn thumbprint(&self) -> JwkThumbprint {
        JwkThumbprint::from_bytes(self.thumbprint_with::<sha2::Sha256>().into())
    }

    /// Size of the RSA modulus in bits (RFC 7518 §6.3.1.1), `None` for other key types.
    pub fn rsa_modulus_bits(&self) -> Option<usize> {
        match &self.params {
            PublicParams::Rsa { n, .. } => Some(bit_len(n)),
            _ => None,
        }
    }
}

impl fmt::Debug for Jwk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("params", &self.params)
            .field("private_member", &self.private)
            .finish_non_exhaustive()
    }
}

impl PartialEq for Jwk<'_> {
    /// Same public key: equal RFC 7638 parameters (other members not compared).
    fn eq(&self, other: &Self) -> bool {
        self.params == other.params
    }
}

impl Eq for Jwk<'_> {}
