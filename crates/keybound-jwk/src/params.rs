//! Key types, curves and the public parameters of a JWK.

use crate::B64;

/// Largest RSA modulus accepted, in bits (the `rsa` crate's default maximum too).
pub const MAX_RSA_MODULUS_BITS: usize = 8192;

/// Elliptic curves of `kty` `EC` (RFC 7518 §6.2.1.1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// `P-256` (secp256r1).
    P256,
    /// `P-384` (secp384r1).
    P384,
    /// `P-521` (secp521r1).
    P521,
}

impl EcCurve {
    /// The registered `crv` name (RFC 7518 §6.2.1.1).
    pub const fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Length in bytes of `x` and `y` (RFC 7518 §6.2.1.2: the full size of a coordinate).
    pub const fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// The curve for a registered `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::P256, Self::P384, Self::P521]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Curves of `kty` `OKP` (RFC 8037 §2).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OkpCurve {
    /// `Ed25519` signatures (RFC 8037 §3.1).
    Ed25519,
    /// `Ed448` signatures (RFC 8037 §3.1); recognized, not supported for verification.
    Ed448,
    /// `X25519` key agreement (RFC 8037 §3.2); recognized, not a signature key.
    X25519,
    /// `X448` key agreement (RFC 8037 §3.2); recognized, not a signature key.
    X448,
}

impl OkpCurve {
    /// The registered `crv` name (RFC 8037 §5).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "Ed25519",
            Self::Ed448 => "Ed448",
            Self::X25519 => "X25519",
            Self::X448 => "X448",
        }
    }

    /// Length in bytes of the public key `x` (RFC 8032 §5.1.5, §5.2.5; RFC 7748 §5).
    pub const fn key_len(self) -> usize {
        match self {
            Self::Ed25519 | Self::X25519 => 32,
            Self::Ed448 => 57,
            Self::X448 => 56,
        }
    }

    /// The curve for a registered `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Ed25519, Self::Ed448, Self::X25519, Self::X448]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// The public parameters of a JWK: exactly the members RFC 7638 §3.2 hashes.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicParams<'a> {
    /// `kty` `EC` (RFC 7518 §6.2.1).
    Ec {
        /// `crv`.
        crv: EcCurve,
        /// `x`, the full-size coordinate.
        x: B64<'a>,
        /// `y`, the full-size coordinate.
        y: B64<'a>,
    },
    /// `kty` `RSA` (RFC 7518 §6.3.1).
    Rsa {
        /// `n`, minimal Base64urlUInt.
        n: B64<'a>,
        /// `e`, minimal Base64urlUInt.
        e: B64<'a>,
    },
    /// `kty` `OKP` (RFC 8037 §2).
    Okp {
        /// `crv`.
        crv: OkpCurve,
        /// `x`, the public key.
        x: B64<'a>,
    },
}

impl<'a> PublicParams<'a> {
    /// The `kty` value (RFC 7517 §4.1).
    pub const fn kty(&self) -> &'static str {
        match self {
            Self::Ec { .. } => "EC",
            Self::Rsa { .. } => "RSA",
            Self::Okp { .. } => "OKP",
        }
    }

    /// Key type and curve for messages, such as `"EC P-256"`, `"RSA"`, `"OKP Ed448"`.
    pub const fn describe(&self) -> &'static str {
        match self {
            Self::Ec {
                crv: EcCurve::P256, ..
            } => "EC P-256",
            Self::Ec {
                crv: EcCurve::P384, ..
            } => "EC P-384",
            Self::Ec {
                crv: EcCurve::P521, ..
            } => "EC P-521",
            Self::Rsa { .. } => "RSA",
            Self::Okp {
                crv: OkpCurve::Ed25519,
                ..
            } => "OKP Ed25519",
            Self::Okp {
                crv: OkpCurve::Ed448,
                ..
            } => "OKP Ed448",
            Self::Okp {
                crv: OkpCurve::X25519,
                ..
            } => "OKP X25519",
            Self::Okp {
                crv: OkpCurve::X448,
                ..
            } => "OKP X448",
        }
    }

    /// The RFC 7638 §3.2 canonical JSON of these parameters, as pieces to concatenate (the
    /// first `count`): required members only, in lexicographic order, no whitespace. Fixed
    /// text is merged into as few pieces as possible: each is one digest update.
    pub(crate) fn canonical_pieces(&self) -> ([Piece<'a>; 5], usize) {
        use Piece::{Text, Value};
        macro_rules! head {
            ($crv:literal, $kty:literal) => {
                concat!(r#"{"crv":""#, $crv, r#"","kty":""#, $kty, r#"","x":""#)
            };
        }
        match *self {
            Self::Ec { crv, x, y } => {
                let head = match crv {
                    EcCurve::P256 => head!("P-256", "EC"),
                    EcCurve::P384 => head!("P-384", "EC"),
                    EcCurve::P521 => head!("P-521", "EC"),
                };
                let mid = r#"","y":""#;
                (
                    [Text(head), Value(x), Text(mid), Value(y), Text(r#""}"#)],
                    5,
                )
            }
            Self::Rsa { n, e } => {
                let mid = r#"","kty":"RSA","n":""#;
                (
                    [
                        Text(r#"{"e":""#),
                        Value(e),
                        Text(mid),
                        Value(n),
                        Text(r#""}"#),
                    ],
                    5,
                )
            }
            Self::Okp { crv, x } => {
                let head = match crv {
                    OkpCurve::Ed25519 => head!("Ed25519", "OKP"),
                    OkpCurve::Ed448 => head!("Ed448", "OKP"),
                    OkpCurve::X25519 => head!("X25519", "OKP"),
                    OkpCurve::X448 => head!("X448", "OKP"),
                };
                ([Text(head), Value(x), Text(r#""}"#), Text(""), Text("")], 3)
            }
        }
    }
}

/// A piece of the RFC 7638 canonical JSON: fixed text, or a member value (unescaped when it
/// was written with JSON escapes; base64url never needs escaping in the output).
#[derive(Clone, Copy)]
pub(crate) enum Piece<'a> {
    Text(&'static str),
    Value(B64<'a>),
}
