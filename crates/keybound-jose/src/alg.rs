//! Asymmetric JWS algorithms (RFC 7518 §3, RFC 8037 §3.1, RFC 9864 §2.2).
//!
//! One table ([`Algorithm::ALL`]) drives the verifiers, the policy allow-lists and the
//! `*_signing_alg_values_supported` metadata (RFC 9449 §5.1, RFC 8414 §2), so they can never
//! disagree.

use core::fmt;

/// An asymmetric JWS algorithm (never `none`, never a MAC: RFC 9449 §4.2, RFC 9068 §4).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256, fixed-length `r‖s` (RFC 7518 §3.4).
    Es256,
    /// ECDSA P-384 with SHA-384, fixed-length `r‖s` (RFC 7518 §3.4).
    Es384,
    /// RSASSA-PSS with SHA-256, MGF1-SHA-256, 32-byte salt (RFC 7518 §3.5).
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 7518 §3.3).
    Rs256,
    /// Edwards-curve signature, curve from the key (RFC 8037 §3.1; Ed25519 only here).
    EdDsa,
    /// Ed25519 under its fully specified name (RFC 9864 §2.2).
    Ed25519,
}

/// The kind of key an algorithm needs (RFC 7518 §3.1; RFC 9449 §4.3 step 2: key consistent
/// with `alg`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `kty` `EC`, `crv` `P-256`.
    EcP256,
    /// `kty` `EC`, `crv` `P-384`.
    EcP384,
    /// `kty` `RSA`.
    Rsa,
    /// `kty` `OKP`, `crv` `Ed25519`.
    Ed25519,
}

impl KeyKind {
    /// Key type and curve for messages: `"EC P-256"`, `"EC P-384"`, `"RSA"`, `"OKP Ed25519"`.
    pub const fn describe(self) -> &'static str {
        match self {
            KeyKind::EcP256 => "EC P-256",
            KeyKind::EcP384 => "EC P-384",
            KeyKind::Rsa => "RSA",
            KeyKind::Ed25519 => "OKP Ed25519",
        }
    }
}

impl Algorithm {
    /// Every algorithm this crate knows, in metadata order (RFC 9449 §5.1).
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::Ps256,
        Algorithm::Rs256,
        Algorithm::EdDsa,
        Algorithm::Ed25519,
    ];

    /// The JWS `alg` name (RFC 7518 §3.1, RFC 8037 §3.1).
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Ps256 => "PS256",
            Algorithm::Rs256 => "RS256",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }

    /// The algorithm named `name` (exact, case-sensitive match as JWS requires).
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The algorithm named by a JSON string value (escapes resolved), if any.
    pub fn from_json(value: &keybound_json::Value<'_>) -> Option<Algorithm> {
        let s = value.as_str()?;
        match s.as_plain() {
            Some(plain) => Algorithm::from_name(plain),
            None => {
                let mut buf = [0u8; 16];
                Algorithm::from_name(s.unescape_into(&mut buf).ok()?)
            }
        }
    }

    /// The key kind this algorithm needs.
    pub const fn key_kind(self) -> KeyKind {
        match self {
            Algorithm::Es256 => KeyKind::EcP256,
            Algorithm::Es384 => KeyKind::EcP384,
            Algorithm::Ps256 | Algorithm::Rs256 => KeyKind::Rsa,
            Algorithm::EdDsa | Algorithm::Ed25519 => KeyKind::Ed25519,
        }
    }

    /// Exact signature length in bytes, when it does not depend on the key
    /// (ECDSA `r‖s` per RFC 7518 §3.4, Ed25519 per RFC 8032); `None` for RSA (modulus length).
    pub const fn fixed_signature_len(self) -> Option<usize> {
        match self {
            Algorithm::Es256 | Algorithm::EdDsa | Algorithm::Ed25519 => Some(64),
            Algorithm::Es384 => Some(96),
            Algorithm::Ps256 | Algorithm::Rs256 => None,
        }
    }

    const fn bit(self) -> u8 {
        match self {
            Algorithm::Es256 => 1,
            Algorithm::Es384 => 1 << 1,
            Algorithm::Ps256 => 1 << 2,
            Algorithm::Rs256 => 1 << 3,
            Algorithm::EdDsa => 1 << 4,
            Algorithm::Ed25519 => 1 << 5,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of algorithms: a policy allow-list (RFC 9449 §4.3 step 2, RFC 9068 §4). `Copy`, no
/// allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlgSet(u8);

impl AlgSet {
    /// No algorithm.
    pub const EMPTY: AlgSet = AlgSet(0);
    /// Every algorithm in [`Algorithm::ALL`].
    pub const ALL: AlgSet = AlgSet(0b11_1111);
    /// FAPI 2.0 Security Profile §5.4.1: PS256, ES256, EdDSA (and its fully specified name Ed25519).
    pub const FAPI2: AlgSet = AlgSet::EMPTY
        .with(Algorithm::Ps256)
        .with(Algorithm::Es256)
        .with(Algorithm::EdDsa)
        .with(Algorithm::Ed25519);

    /// This set plus `alg`.
    #[must_use]
    pub const fn with(self, alg: Algorithm) -> AlgSet {
        AlgSet(self.0 | alg.bit())
    }

    /// This set without `alg`.
    #[must_use]
    pub const fn without(self, alg: Algorithm) -> AlgSet {
        AlgSet(self.0 & !alg.bit())
    }

    /// The algorithms in both sets.
    #[must_use]
    pub const fn intersection(self, other: AlgSet) -> AlgSet {
        AlgSet(self.0 & other.0)
    }

    /// Whether `alg` is in the set.
    pub const fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set's members, in [`Algorithm::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        Algorithm::ALL
            .into_iter()
            .filter(move |a| self.contains(*a))
    }

    /// The set of the named algorithms; unknown names are returned as the error.
    pub fn from_names<'n, I: IntoIterator<Item = &'n str>>(names: I) -> Result<AlgSet, &'n str> {
        let mut set = AlgSet::EMPTY;
        for name in names {
            set = set.with(Algorithm::from_name(name).ok_or(name)?);
        }
        Ok(set)
    }

    /// Writes the names space-separated (the `algs` parameter of RFC 9449 §7.1).
    pub fn write_names(self, out: &mut impl fmt::Write) -> fmt::Result {
        for (i, alg) in self.iter().enumerate() {
            if i > 0 {
                out.write_char(' ')?;
            }
            out.write_str(alg.name())?;
        }
        Ok(())
    }
}

impl Default for AlgSet {
    fn default() -> Self {
        AlgSet::ALL
    }
}

impl FromIterator<Algorithm> for AlgSet {
    fn from_iter<T: IntoIterator<Item = Algorithm>>(iter: T) -> Self {
        iter.into_iter().fold(AlgSet::EMPTY, AlgSet::with)
    }
}

impl fmt::Debug for AlgSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

/// The allowed algorithms the verifier can check, from the same table validation uses: the
/// value of `dpop_signing_alg_values_supported` (RFC 9449 §5.1) and similar metadata.
pub fn signing_alg_values_supported<V: crate::SignatureVerifier + ?Sized>(
    allowed: AlgSet,
    verifier: &V,
) -> AlgSet {
    allowed.iter().filter(|a| verifier.supports(*a)).collect()
}

/// Writes an algorithm set as a JSON array of names, as discovery metadata lists them
/// (RFC 9449 §5.1, RFC 8414 §2).
pub fn write_signing_alg_values_json(algs: AlgSet, out: &mut impl fmt::Write) -> fmt::Result {
    out.write_char('[')?;
    for (i, alg) in algs.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        out.write_char('"')?;
        out.write_str(alg.name())?;
        out.write_char('"')?;
    }
    out.write_char(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(a.name()), Some(a));
        }
        assert_eq!(Algorithm::from_name("es256"), None);
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("HS256"), None);
    }

    #[test]
    fn alg_set_operations() {
        let s = AlgSet::EMPTY.with(Algorithm::Es256).with(Algorithm::EdDsa);
        assert!(s.contains(Algorithm::Es256));
        assert!(!s.contains(Algorithm::Rs256));
        assert!(!s.without(Algorithm::Es256).contains(Algorithm::Es256));
        assert_eq!(AlgSet::ALL.iter().count(), 6);
        assert!(!AlgSet::FAPI2.contains(Algorithm::Rs256));
        assert_eq!(AlgSet::from_names(["ES256", "nope"]), Err("nope"));
        let mut out = heapless_string::S::default();
        s.write_names(&mut out).ok();
        assert_eq!(out.as_str(), "ES256 EdDSA");
    }

    mod heapless_string {
        #[derive(Default)]
        pub(super) struct S {
            buf: [u8; 32],
            len: usize,
        }
        impl S {
            pub(super) fn as_str(&self) -> &str {
                core::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or("")
            }
        }
        impl core::fmt::Write for S {
            fn write_str(&mut self, s: &str) -> core::fmt::Result {
                let end = self.len + s.len();
                self.buf
                    .get_mut(self.len..end)
                    .ok_or(core::fmt::Error)?
                    .copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
        }
    }
}
