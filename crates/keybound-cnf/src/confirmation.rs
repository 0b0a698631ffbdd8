//! The RFC 7800 `cnf` (confirmation) claim, with the members this project checks.

use core::fmt;

use keybound_json::{JsonError, Limits, Object, Value};

use crate::{CertThumbprint, JwkThumbprint, THUMBPRINT_B64_LEN, ThumbprintError};

/// Member name of the RFC 9449 §6.1 JWK SHA-256 thumbprint confirmation method.
pub const JKT: &str = "jkt";
/// Member name of the RFC 8705 §3.1 certificate SHA-256 thumbprint confirmation method.
pub const X5T_S256: &str = "x5t#S256";

/// What to do with `cnf` members that are neither `jkt`, `x5t#S256` nor one of the RFC 7800
/// §3.2–3.5 methods (`jwk`, `jwe`, `jku`, `kid`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnknownMembers {
    /// Ignore them, as RFC 7800 §3.1 requires absent a profile that says otherwise.
    #[default]
    Ignore,
    /// Refuse the claim with [`CnfError::UnknownMember`].
    Reject,
}

/// RFC 7800 confirmation methods present in a `cnf` claim that this crate records but does
/// not check (RFC 7800 §3.2–3.5), plus whether unrecognized members were ignored.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtherMethods {
    /// `jwk` (RFC 7800 §3.2) is present.
    pub jwk: bool,
    /// `jwe` (RFC 7800 §3.3) is present.
    pub jwe: bool,
    /// `kid` (RFC 7800 §3.4) is present.
    pub kid: bool,
    /// `jku` (RFC 7800 §3.5) is present.
    pub jku: bool,
    /// Members that no registered method names (e.g. `osc`, `x5t`, `x5t#S512`) were present
    /// and ignored.
    pub unrecognized: bool,
}

impl OtherMethods {
    /// Whether any method besides `jkt` and `x5t#S256` was present (RFC 7800 §3.1): one of
    /// §3.2–3.5 or an unrecognized member.
    pub const fn any(&self) -> bool {
        self.jwk || self.jwe || self.kid || self.jku || self.unrecognized
    }
}

/// Why a `cnf` claim was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CnfError {
    /// The claim is not a valid JSON object (RFC 7800 §3.1).
    Json(JsonError),
    /// A member has the wrong JSON type.
    WrongType {
        /// Member name.
        member: &'static str,
        /// JSON type expected.
        expected: &'static str,
        /// JSON type found.
        found: &'static str,
    },
    /// `jkt` or `x5t#S256` is not a SHA-256 thumbprint in canonical unpadded base64url.
    Thumbprint {
        /// Member name.
        member: &'static str,
        /// What is wrong with it.
        error: ThumbprintError,
    },
    /// A member no registered method names, under [`UnknownMembers::Reject`].
    UnknownMember,
    /// More than one of `jwk`, `jwe` and `jku`: RFC 7800 §3.1 allows a single key.
    ConflictingMethods,
}

impl fmt::Display for CnfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(e) => write!(f, "cnf claim: {e}"),
            Self::WrongType {
                member,
                expected,
                found,
            } => {
                write!(
                    f,
                    "cnf member `{member}` must be a {expected}, found a {found}"
                )
            }
            Self::Thumbprint { member, error } => write!(f, "cnf member `{member}`: {error}"),
            Self::UnknownMember => {
                f.write_str("cnf claim has a member this profile does not allow")
            }
            Self::ConflictingMethods => f.write_str(
                "cnf claim names more than one key (RFC 7800 §3.1: at most one of jwk, jwe, jku)",
            ),
        }
    }
}

impl core::error::Error for CnfError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Json(e) => Some(e),
            Self::Thumbprint { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl From<JsonError> for CnfError {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// Why a presented key or certificate does not satisfy a token's `cnf` claim.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingError {
    /// The claim is empty (or absent): the token is not sender-constrained.
    NotBound,
    /// The thumbprint of the presented key or certificate differs from the bound one.
    Mismatch,
    /// The token is bound by the other mechanism (a DPoP key where a certificate was
    /// checked, or the reverse).
    WrongKind,
    /// The token is bound to a certificate (RFC 8705 §3) but no client certificate was presented.
    NoCertificate,
    /// The claim has neither `jkt` nor `x5t#S256` but other members (RFC 7800 §3.1): the
    /// token is bound by a method this crate cannot check, so it is neither checkable nor
    /// unbound (see [`Confirmation::is_uncheckable`]).
    UnsupportedMethod,
}

impl fmt::Display for BindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotBound => "token is not sender-constrained (no cnf method)",
            Self::Mismatch => {
                "presented key or certificate does not match the token's cnf thumbprint"
            }
            Self::WrongKind => "token is bound by the other mechanism (jkt versus x5t#S256)",
            Self::NoCertificate => {
                "token is bound to a client certificate (cnf.x5t#S256) but none was presented"
            }
            Self::UnsupportedMethod => {
                "token is bound only by a cnf method this server cannot check (neither jkt nor x5t#S256)"
            }
        })
    }
}

impl core::error::Error for BindingError {}

/// The RFC 7800 `cnf` claim: the `jkt` (RFC 9449 §6.1) and `x5t#S256` (RFC 8705 §3.1)
/// methods, and which other methods were present.
///
/// # Which tokens are unbound
///
/// A claim is in one of three states, and a server must treat them differently:
///
/// - **checkable** ([`Confirmation::is_bound`]): `jkt` and/or `x5t#S256` is present. Those
///   are checked; other members beside them are ignored (RFC 7800 §3.1), so an extra method
///   this crate does not know neither binds nor unbinds the token.
/// - **unbound** ([`Confirmation::is_empty`]): no member at all (`{}`, or no `cnf` claim:
///   [`Confirmation::new`]). Only such a token may be accepted as a plain bearer token.
/// - **uncheckable** ([`Confirmation::is_uncheckable`]): members, but neither `jkt` nor
///   `x5t#S256` — `jwk`, `jwe`, `kid`, `jku` (RFC 7800 §3.2–3.5) or anything else (`osc`,
///   `x5t`, `x5t#S512`, …). The issuer bound the token to something this crate cannot
///   verify; treating it as unbound would turn a stolen sender-constrained token into a
///   bearer token, so it must be refused (fail closed). [`Confirmation::check_jkt`] and
///   [`Confirmation::check_x5t_s256`] answer [`BindingError::UnsupportedMethod`] for it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confirmation {
    jkt: Option<JwkThumbprint>,
    x5t_s256: Option<CertThumbprint>,
    others: OtherMethods,
}

impl Confirmation {
    /// An empty claim (binds nothing).
    pub const fn new() -> Self {
        Self {
            jkt: None,
            x5t_s256: None,
            others: OtherMethods {
                jwk: false,
                jwe: false,
                kid: false,
                jku: false,
                unrecognized: false,
            },
        }
    }

    /// A claim binding the token to a DPoP key (RFC 9449 §6.1).
    pub const fn from_jkt(jkt: JwkThumbprint) -> Self {
        Self::new().with_jkt(jkt)
    }

    /// A claim binding the token to a client certificate (RFC 8705 §3.1).
    pub const fn from_x5t_s256(x5t_s256: CertThumbprint) -> Self {
        Self::new().with_x5t_s256(x5t_s256)
    }

    /// This claim with `jkt` set (RFC 9449 §6.1).
    pub const fn with_jkt(mut self, jkt: JwkThumbprint) -> Self {
        self.jkt = Some(jkt);
        self
    }

    /// This claim with `x5t#S256` set (RFC 8705 §3.1).
    pub const fn with_x5t_s256(mut self, x5t_s256: CertThumbprint) -> Self {
        self.x5t_s256 = Some(x5t_s256);
        self
    }

    /// Parses a `cnf` claim value (RFC 7800 §3.1), ignoring members it does not know.
    pub fn parse(json: &[u8]) -> Result<Self, CnfError> {
        Self::parse_with(json, UnknownMembers::Ignore)
    }

    /// Parses a `cnf` claim value (RFC 7800 §3.1) with an explicit unknown-member policy.
    pub fn parse_with(json: &[u8], unknown: UnknownMembers) -> Result<Self, CnfError> {
        Self::from_object_with(Object::parse_with(json, &Limits::DEFAULT)?, unknown)
    }

    /// Reads a `cnf` claim from an already parsed object (e.g. a JWT claims set's `cnf`),
    /// ignoring members it does not know.
    pub fn from_object(obj: Object<'_>) -> Result<Self, CnfError> {
        Self::from_object_with(obj, UnknownMembers::Ignore)
    }

    /// Reads a `cnf` claim from an already parsed object with an explicit unknown-member policy.
    pub fn from_object_with(obj: Object<'_>, unknown: UnknownMembers) -> Result<Self, CnfError> {
        let mut cnf = Self::new();
        for (name, value) in obj.members() {
            if name.eq_str(JKT) {
                cnf.jkt = Some(thumbprint(JKT, value, JwkThumbprint::from_b64)?);
            } else if name.eq_str(X5T_S256) {
                cnf.x5t_s256 = Some(thumbprint(X5T_S256, value, CertThumbprint::from_b64)?);
            } else if name.eq_str("jwk") {
                expect_kind("jwk", "object", value, value.as_object().is_some())?;
                cnf.others.jwk = true;
            } else if name.eq_str("jwe") {
                expect_kind("jwe", "string", value, value.as_str().is_some())?;
                cnf.others.jwe = true;
            } else if name.eq_str("jku") {
                expect_kind("jku", "string", value, value.as_str().is_some())?;
                cnf.others.jku = true;
            } else if name.eq_str("kid") {
                expect_kind("kid", "string", value, value.as_str().is_some())?;
                cnf.others.kid = true;
            } else if unknown == UnknownMembers::Reject {
                return Err(CnfError::UnknownMember);
            } else {
                cnf.others.unrecognized = true;
            }
        }
        let keys = u8::from(cnf.others.jwk) + u8::from(cnf.others.jwe) + u8::from(cnf.others.jku);
        if keys > 1 {
            return Err(CnfError::ConflictingMethods);
        }
        Ok(cnf)
    }

    /// The RFC 9449 §6.1 `jkt` member.
    pub fn jkt(&self) -> Option<&JwkThumbprint> {
        self.jkt.as_ref()
    }

    /// The RFC 8705 §3.1 `x5t#S256` member.
    pub fn x5t_s256(&self) -> Option<&CertThumbprint> {
        self.x5t_s256.as_ref()
    }

    /// The RFC 7800 methods present besides `jkt` and `x5t#S256`.
    pub fn other_methods(&self) -> OtherMethods {
        self.others
    }

    /// Whether the claim binds the token by `jkt` or `x5t#S256`.
    pub fn is_bound(&self) -> bool {
        self.jkt.is_some() || self.x5t_s256.is_some()
    }

    /// Whether the claim has no member at all (RFC 7800 §3.1): the token is not
    /// sender-constrained, exactly as one without a `cnf` claim.
    pub fn is_empty(&self) -> bool {
        !self.is_bound() && !self.others.any()
    }

    /// Whether the claim holds a member besides `jkt` and `x5t#S256` (an RFC 7800 §3.2–3.5
    /// method or an unrecognized one), which this crate does not check.
    pub fn has_unchecked_methods(&self) -> bool {
        self.others.any()
    }

    /// Whether the claim binds the token only by methods this crate cannot check: members
    /// present, neither `jkt` nor `x5t#S256` (RFC 7800 §3.1). Such a token must be refused,
    /// never accepted as unbound (see the type's documentation).
    pub fn is_uncheckable(&self) -> bool {
        !self.is_bound() && self.others.any()
    }

    /// The error for a claim without `jkt` and `x5t#S256`: unbound, or bound by methods
    /// this crate cannot check.
    fn neither(&self) -> BindingError {
        if self.others.any() {
            BindingError::UnsupportedMethod
        } else {
            BindingError::NotBound
        }
    }

    /// Checks the thumbprint of the DPoP proof key against `jkt` (RFC 9449 §7.1), in constant time.
    pub fn check_jkt(&self, presented: &JwkThumbprint) -> Result<(), BindingError> {
        match (&self.jkt, &self.x5t_s256) {
            (Some(bound), _) if bound.ct_eq(presented) => Ok(()),
            (Some(_), _) => Err(BindingError::Mismatch),
            (None, Some(_)) => Err(BindingError::WrongKind),
            (None, None) => Err(self.neither()),
        }
    }

    /// Checks the presented client certificate's thumbprint against `x5t#S256` (RFC 8705 §3),
    /// in constant time; `None` when the client presented no certificate.
    pub fn check_x5t_s256(&self, presented: Option<&CertThumbprint>) -> Result<(), BindingError> {
        match (&self.x5t_s256, &self.jkt) {
            (Some(bound), _) => match presented {
                Some(p) if bound.ct_eq(p) => Ok(()),
                Some(_) => Err(BindingError::Mismatch),
                None => Err(BindingError::NoCertificate),
            },
            (None, Some(_)) => Err(BindingError::WrongKind),
            (None, None) => Err(self.neither()),
        }
    }

    /// Writes the claim as a JSON object holding `jkt` and `x5t#S256` when set (RFC 7800 §3.1);
    /// the other methods are not kept and so not written.
    ///
    /// An [uncheckable](Confirmation::is_uncheckable) claim therefore comes out as `{}`, which
    /// reads back as unbound: refuse such a claim where it arrives, never store it this way.
    pub fn write_json(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_char('{')?;
        let mut sep = "";
        if let Some(jkt) = &self.jkt {
            write!(out, "\"{JKT}\":\"{jkt}\"")?;
            sep = ",";
        }
        if let Some(x5t) = &self.x5t_s256 {
            write!(out, "{sep}\"{X5T_S256}\":\"{x5t}\"")?;
        }
        out.write_char('}')
    }

    /// The claim as JSON text (see [`Confirmation::write_json`]).
    #[cfg(feature = "alloc")]
    pub fn to_json_string(&self) -> alloc::string::String {
        let mut s = alloc::string::String::with_capacity(120);
        // Writing into a String cannot fail.
        let _ = self.write_json(&mut s);
        s
    }
}

/// A thumbprint member, read from its value after unescaping (RFC 8259 §7: `"\u0030…"` is
/// the same string as `"0…"`), which must then be canonical base64url like any other.
fn thumbprint<T>(
    member: &'static str,
    value: Value<'_>,
    parse: fn(&str) -> Result<T, ThumbprintError>,
) -> Result<T, CnfError> {
    let Some(s) = value.as_str() else {
        return Err(CnfError::WrongType {
            member,
            expected: "string",
            found: value.kind_name(),
        });
    };
    let mut buf = [0u8; THUMBPRINT_B64_LEN];
    let text = match s.as_plain() {
        Some(plain) => plain,
        // A value longer than a thumbprint does not fit the buffer: refused for its length.
        None => s
            .unescape_into(&mut buf)
            .map_err(|_| CnfError::Thumbprint {
                member,
                error: ThumbprintError::Length {
                    actual: s.unescaped_len(),
                },
            })?,
    };
    parse(text).map_err(|error| CnfError::Thumbprint { member, error })
}

fn expect_kind(
    member: &'static str,
    expected: &'static str,
    value: Value<'_>,
    ok: bool,
) -> Result<(), CnfError> {
    if ok {
        Ok(())
    } else {
        Err(CnfError::WrongType {
            member,
            expected,
            found: value.kind_name(),
        })
    }
}
