//! Features a profile can require, default, or forbid, and a `Copy` set of them.

use core::fmt;

/// A protocol feature of an authorization server deployment.
///
/// Each names the specification that defines it; [`Feature::name`] is the stable
/// lower-case name used on the command line (`--enable dpop,mtls`) and in JSON output.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// DPoP-bound access tokens (RFC 9449).
    Dpop,
    /// Certificate-bound access tokens over mutual TLS (RFC 8705 §3).
    Mtls,
    /// Pushed authorization requests, required for every authorization request (RFC 9126 §5).
    Par,
    /// PKCE with the `S256` code challenge method (RFC 7636 §4.2).
    PkceS256,
    /// `private_key_jwt` client authentication (OpenID Connect Core §9, RFC 7523).
    PrivateKeyJwt,
    /// `tls_client_auth`: mutual-TLS client authentication, PKI method (RFC 8705 §2.1).
    TlsClientAuth,
    /// `self_signed_tls_client_auth`: mutual-TLS client authentication, self-signed method
    /// (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
    /// `client_secret_basic` and `client_secret_post` shared-secret authentication
    /// (RFC 6749 §2.3.1).
    ClientSecret,
    /// Public clients, token endpoint auth method `none` (RFC 6749 §2.1, RFC 7591 §2).
    PublicClients,
    /// Signed request objects (JAR, RFC 9101) required at the PAR endpoint
    /// (FAPI 2.0 Message Signing §5.3.1).
    Jar,
    /// Signed authorization responses (JARM) required (FAPI 2.0 Message Signing §5.4.1).
    Jarm,
    /// Signed JWT introspection responses (RFC 9701; FAPI 2.0 Message Signing §5.5.1).
    JwtIntrospection,
}

impl Feature {
    /// Every feature, in canonical (output) order.
    pub const ALL: [Feature; 12] = [
        Feature::Dpop,
        Feature::Mtls,
        Feature::Par,
        Feature::PkceS256,
        Feature::PrivateKeyJwt,
        Feature::TlsClientAuth,
        Feature::SelfSignedTlsClientAuth,
        Feature::ClientSecret,
        Feature::PublicClients,
        Feature::Jar,
        Feature::Jarm,
        Feature::JwtIntrospection,
    ];

    /// The stable name: `dpop`, `mtls`, `par`, `pkce-s256`, `private-key-jwt`,
    /// `tls-client-auth`, `self-signed-tls-client-auth`, `client-secret`, `public-clients`,
    /// `jar`, `jarm`, `jwt-introspection`.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::Dpop => "dpop",
            Feature::Mtls => "mtls",
            Feature::Par => "par",
            Feature::PkceS256 => "pkce-s256",
            Feature::PrivateKeyJwt => "private-key-jwt",
            Feature::TlsClientAuth => "tls-client-auth",
            Feature::SelfSignedTlsClientAuth => "self-signed-tls-client-auth",
            Feature::ClientSecret => "client-secret",
            Feature::PublicClients => "public-clients",
            Feature::Jar => "jar",
            Feature::Jarm => "jarm",
            Feature::JwtIntrospection => "jwt-introspection",
        }
    }

    /// The feature named `name` (exact, lower-case; `_` is accepted for `-`).
    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| {
            let canonical = f.name().as_bytes();
            canonical.len() == name.len()
                && canonical
                    .iter()
                    .zip(name.bytes())
                    .all(|(c, n)| *c == n || (*c == b'-' && n == b'_'))
        })
    }

    /// The specification (and section) that defines the feature.
    pub const fn spec(self) -> &'static str {
        match self {
            Feature::Dpop => "RFC 9449",
            Feature::Mtls => "RFC 8705 §3",
            Feature::Par => "RFC 9126",
            Feature::PkceS256 => "RFC 7636 §4.2",
            Feature::PrivateKeyJwt => "OpenID Connect Core §9",
            Feature::TlsClientAuth => "RFC 8705 §2.1",
            Feature::SelfSignedTlsClientAuth => "RFC 8705 §2.2",
            Feature::ClientSecret => "RFC 6749 §2.3.1",
            Feature::PublicClients => "RFC 6749 §2.1",
            Feature::Jar => "RFC 9101",
            Feature::Jarm => "JARM",
            Feature::JwtIntrospection => "RFC 9701",
        }
    }

    /// The `token_endpoint_auth_methods_supported` values this feature contributes
    /// (RFC 8414 §2, RFC 8705 §2.1.1 / §2.2.1); empty for features that are not client
    /// authentication methods.
    pub const fn token_endpoint_auth_methods(self) -> &'static [&'static str] {
        match self {
            Feature::PrivateKeyJwt => &["private_key_jwt"],
            Feature::TlsClientAuth => &[keybound_mtls::metadata::TLS_CLIENT_AUTH],
            Feature::SelfSignedTlsClientAuth => {
                &[keybound_mtls::metadata::SELF_SIGNED_TLS_CLIENT_AUTH]
            }
            Feature::ClientSecret => &["client_secret_basic", "client_secret_post"],
            Feature::PublicClients => &["none"],
            _ => &[],
        }
    }

    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Feature`] (from [`FeatureSet::parse_list`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnknownFeature;

impl fmt::Display for UnknownFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown feature name; known features are ")?;
        write_feature_list(f, Feature::ALL.iter().copied(), ", ")
    }
}

impl core::error::Error for UnknownFeature {}

/// A set of [`Feature`]s; `Copy`, no allocation, iterates in [`Feature::ALL`] order.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct FeatureSet(u16);

impl FeatureSet {
    /// No feature.
    pub const EMPTY: FeatureSet = FeatureSet(0);

    /// The set of the given features.
    pub const fn of(features: &[Feature]) -> FeatureSet {
        let mut set = FeatureSet::EMPTY;
        let mut rest = features;
        while let [first, tail @ ..] = rest {
            set = set.with(*first);
            rest = tail;
        }
        set
    }

    /// This set plus `feature`.
    #[must_use]
    pub const fn with(self, feature: Feature) -> FeatureSet {
        FeatureSet(self.0 | feature.bit())
    }

    /// This set without `feature`.
    #[must_use]
    pub const fn without(self, feature: Feature) -> FeatureSet {
        FeatureSet(self.0 & !feature.bit())
    }

    /// The union of both sets.
    #[must_use]
    pub const fn union(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 | other.0)
    }

    /// The features in both sets.
    #[must_use]
    pub const fn intersection(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 & other.0)
    }

    /// The features of this set that are not in `other`.
    #[must_use]
    pub const fn difference(self, other: FeatureSet) -> FeatureSet {
        FeatureSet(self.0 & !other.0)
    }

    /// Whether `feature` is in the set.
    pub const fn contains(self, feature: Feature) -> bool {
        self.0 & feature.bit() != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of features in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The members, in [`Feature::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Feature> {
        Feature::ALL.into_iter().filter(move |f| self.contains(*f))
    }

    /// Parses a comma-separated list of feature names (`"dpop,mtls"`); blanks around names
    /// and empty items are ignored.
    pub fn parse_list(list: &str) -> Result<FeatureSet, UnknownFeature> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .try_fold(FeatureSet::EMPTY, |set, name| {
                Feature::from_name(name)
                    .map(|f| set.with(f))
                    .ok_or(UnknownFeature)
            })
    }
}

impl FromIterator<Feature> for FeatureSet {
    fn from_iter<T: IntoIterator<Item = Feature>>(iter: T) -> Self {
        iter.into_iter().fold(FeatureSet::EMPTY, FeatureSet::with)
    }
}

impl fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for FeatureSet {
    /// Comma-separated names, e.g. `dpop, par`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_feature_list(f, self.iter(), ", ")
    }
}

pub(crate) fn write_feature_list(
    out: &mut impl fmt::Write,
    features: impl Iterator<Item = Feature>,
    sep: &str,
) -> fmt::Result {
    for (i, feature) in features.enumerate() {
        if i > 0 {
            out.write_str(sep)?;
        }
        out.write_str(feature.name())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_accept_underscores() {
        for f in Feature::ALL {
            assert_eq!(Feature::from_name(f.name()), Some(f));
        }
        assert_eq!(Feature::from_name("pkce_s256"), Some(Feature::PkceS256));
        assert_eq!(Feature::from_name("DPoP"), None);
        assert_eq!(Feature::from_name("dpo"), None);
    }

    #[test]
    fn bits_are_distinct_and_fit() {
        let all: FeatureSet = Feature::ALL.into_iter().collect();
        assert_eq!(all.len(), Feature::ALL.len());
    }

    #[test]
    fn parse_list_reads_cli_syntax() {
        let set = FeatureSet::parse_list(" dpop, mtls,,").unwrap_or_default();
        assert_eq!(set, FeatureSet::of(&[Feature::Dpop, Feature::Mtls]));
        assert_eq!(FeatureSet::parse_list("dpop,nope"), Err(UnknownFeature));
        assert_eq!(FeatureSet::parse_list(""), Ok(FeatureSet::EMPTY));
    }
}
