//! Profiles as data: required features, `RequiredAnyOf` groups, forbidden features and caps,
//! each tied to the rule (and specification section) that imposes it.

use core::fmt;

use keybound_dpop::AlgSet;

use crate::feature::{Feature, FeatureSet};

/// One rule of a profile: a stable identifier and the specification text that imposes it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Stable identifier, e.g. `fapi2.par-required` (for logs and tests).
    pub id: &'static str,
    /// Where the requirement comes from, e.g. `FAPI 2.0 Security Profile §5.3.2.2 items 2-3`.
    pub source: &'static str,
}

impl Rule {
    const fn new(id: &'static str, source: &'static str) -> Rule {
        Rule { id, source }
    }
}

impl fmt::Display for Rule {
    /// `rule <id> (<source>)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {} ({})", self.id, self.source)
    }
}

/// A feature that a profile requires or forbids, with the rule that says so.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FeatureRule {
    /// The feature.
    pub feature: Feature,
    /// Why.
    pub rule: Rule,
}

/// A `RequiredAnyOf` group: at least one member must be enabled; when none is (and the
/// first is not explicitly disabled) the first member is enabled as the default.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyOf {
    /// The members; the first is the default.
    pub members: &'static [Feature],
    /// Why.
    pub rule: Rule,
}

impl AnyOf {
    /// The default member (the first).
    pub fn default_member(&self) -> Option<Feature> {
        self.members.first().copied()
    }

    /// The members as a set.
    pub const fn set(&self) -> FeatureSet {
        FeatureSet::of(self.members)
    }
}

/// An inclusive range a numeric knob must stay in, with the rule that imposes it.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Range {
    /// Smallest allowed value.
    pub min: u64,
    /// Largest allowed value.
    pub max: u64,
    /// Why.
    pub rule: Rule,
}

/// A named profile: plain RFC behaviour, FAPI 2.0 Security Profile, FAPI 2.0 Message Signing.
///
/// All data is `'static`; profiles are compared by name.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub(crate) name: &'static str,
    pub(crate) title: &'static str,
    pub(crate) required: &'static [FeatureRule],
    pub(crate) any_of: &'static [AnyOf],
    pub(crate) forbidden: &'static [FeatureRule],
    /// DPoP `alg` values this profile permits, and why.
    pub(crate) algs: (AlgSet, Rule),
    /// Bounds on the future `iat` tolerance.
    pub(crate) leeway: Range,
    pub(crate) default_leeway: u64,
    pub(crate) default_max_age: u64,
    /// Floor for the RSA modulus size.
    pub(crate) min_rsa_bits: (usize, Rule),
    /// Whether `dpop_jkt` must be honoured when DPoP is enabled, and why.
    pub(crate) dpop_jkt: Option<Rule>,
    /// Whether every access token must be sender-constrained (no Bearer fallback), and why.
    pub(crate) sender_constrained_only: Option<Rule>,
}

impl PartialEq for Profile {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Profile {}

// ---- rule table -------------------------------------------------------------------------

const R_SENDER_CONSTRAINT_RFC: Rule = Rule::new(
    "rfc9449.sender-constraint",
    "keybound scope: a deployment sender-constrains its tokens with RFC 9449 or RFC 8705",
);
const R_RSA_RFC: Rule = Rule::new(
    "rfc7518.rsa-2048",
    "RFC 7518 §3.3 and §3.5: RSA keys of 2048 bits or larger MUST be used",
);
const R_ALGS_RFC: Rule = Rule::new(
    "rfc9449.asymmetric-algs",
    "RFC 9449 §4.2: an asymmetric JWS algorithm, never none or a MAC",
);
const R_LEEWAY_RFC: Rule = Rule::new(
    "rfc9449.iat-window",
    "RFC 9449 §11.1: accept iat only within a limited window; keybound caps the future leeway at 300 s",
);

const R_SENDER_CONSTRAINT: Rule = Rule::new(
    "fapi2.sender-constrained-tokens",
    "FAPI 2.0 Security Profile §5.3.2.1 items 4-5: only sender-constrained access tokens, via MTLS or DPoP",
);
const R_CLIENT_AUTH: Rule = Rule::new(
    "fapi2.client-authentication",
    "FAPI 2.0 Security Profile §5.3.2.1 item 6: clients authenticate with MTLS or private_key_jwt",
);
const R_CONFIDENTIAL_ONLY: Rule = Rule::new(
    "fapi2.confidential-clients-only",
    "FAPI 2.0 Security Profile §5.3.2.1 item 3: only confidential clients",
);
const R_PAR: Rule = Rule::new(
    "fapi2.par-required",
    "FAPI 2.0 Security Profile §5.3.2.2 items 2-3: pushed authorization requests are required",
);
const R_PKCE: Rule = Rule::new(
    "fapi2.pkce-s256",
    "FAPI 2.0 Security Profile §5.3.2.2 item 5: PKCE with S256 is required",
);
const R_ALGS_FAPI: Rule = Rule::new(
    "fapi2.jws-algs",
    "FAPI 2.0 Security Profile §5.4.1 item 1: PS256, ES256 or EdDSA (Ed25519) only",
);
const R_RSA_FAPI: Rule = Rule::new(
    "fapi2.rsa-2048",
    "FAPI 2.0 Security Profile §5.4.1 item 2: RSA keys of at least 2048 bits",
);
const R_CLOCK_SKEW: Rule = Rule::new(
    "fapi2.clock-skew",
    "FAPI 2.0 Security Profile §5.3.2.1 item 13: accept iat up to 10 s in the future, reject beyond 60 s",
);
const R_DPOP_JKT: Rule = Rule::new(
    "fapi2.dpop-code-binding",
    "FAPI 2.0 Security Profile §5.3.2.1 item 12: support authorization code binding to the DPoP key (RFC 9449 §10.1)",
);
const R_MESSAGE_SIGNING: Rule = Rule::new(
    "fapi2-ms.signed-messages",
    "FAPI 2.0 Message Signing §5.1: at least one of signed authorization requests, signed authorization responses, signed introspection responses",
);

const FAPI_REQUIRED: &[FeatureRule] = &[
    FeatureRule {
        feature: Feature::Par,
        rule: R_PAR,
    },
    FeatureRule {
        feature: Feature::PkceS256,
        rule: R_PKCE,
    },
];

const FAPI_FORBIDDEN: &[FeatureRule] = &[
    FeatureRule {
        feature: Feature::PublicClients,
        rule: R_CONFIDENTIAL_ONLY,
    },
    FeatureRule {
        feature: Feature::ClientSecret,
        rule: R_CLIENT_AUTH,
    },
];

const SENDER_CONSTRAINT_GROUP: &[Feature] = &[Feature::Dpop, Feature::Mtls];

const FAPI_ANY_OF: &[AnyOf] = &[
    AnyOf {
        members: SENDER_CONSTRAINT_GROUP,
        rule: R_SENDER_CONSTRAINT,
    },
    AnyOf {
        members: &[
            Feature::PrivateKeyJwt,
            Feature::TlsClientAuth,
            Feature::SelfSignedTlsClientAuth,
        ],
        rule: R_CLIENT_AUTH,
    },
];

const FAPI_MS_ANY_OF: &[AnyOf] = &[
    AnyOf {
        members: SENDER_CONSTRAINT_GROUP,
        rule: R_SENDER_CONSTRAINT,
    },
    AnyOf {
        members: &[
            Feature::PrivateKeyJwt,
            Feature::TlsClientAuth,
            Feature::SelfSignedTlsClientAuth,
        ],
        rule: R_CLIENT_AUTH,
    },
    AnyOf {
        members: &[Feature::Jar, Feature::Jarm, Feature::JwtIntrospection],
        rule: R_MESSAGE_SIGNING,
    },
];

/// FAPI 2.0 future-`iat` bounds (§5.3.2.1 item 13): at least 10 s must pass, more than 60 s
/// must fail.
pub const FAPI2_LEEWAY_MIN: u64 = 10;
/// See [`FAPI2_LEEWAY_MIN`].
pub const FAPI2_LEEWAY_MAX: u64 = 60;
/// `max_age` keybound uses under FAPI 2.0 (FAPI sets no number for DPoP proofs; 60 s matches
/// its other one-minute windows and keeps the replay store small).
pub const FAPI2_MAX_AGE: u64 = 60;

impl Profile {
    /// Plain RFC 9449 / RFC 8705 behaviour: every algorithm, `max_age` 300 s, leeway 10 s.
    pub const RFC9449: Profile = Profile {
        name: "rfc9449",
        title: "RFC 9449 / RFC 8705",
        required: &[],
        any_of: &[AnyOf {
            members: SENDER_CONSTRAINT_GROUP,
            rule: R_SENDER_CONSTRAINT_RFC,
        }],
        forbidden: &[],
        algs: (AlgSet::ALL, R_ALGS_RFC),
        leeway: Range {
            min: 0,
            max: 300,
            rule: R_LEEWAY_RFC,
        },
        default_leeway: keybound_dpop::DEFAULT_LEEWAY,
        default_max_age: keybound_dpop::DEFAULT_MAX_AGE,
        min_rsa_bits: (keybound_dpop::DEFAULT_MIN_RSA_BITS, R_RSA_RFC),
        dpop_jkt: None,
        // RFC 9449 §5 / RFC 8705 §3: a client that presents no proof gets a Bearer token,
        // unless the host requires binding for that client.
        sender_constrained_only: None,
    };

    /// FAPI 2.0 Security Profile (the "baseline" level).
    pub const FAPI2_BASELINE: Profile = Profile {
        name: "fapi2-baseline",
        title: "FAPI 2.0 Security Profile",
        required: FAPI_REQUIRED,
        any_of: FAPI_ANY_OF,
        forbidden: FAPI_FORBIDDEN,
        algs: (AlgSet::FAPI2, R_ALGS_FAPI),
        leeway: Range {
            min: FAPI2_LEEWAY_MIN,
            max: FAPI2_LEEWAY_MAX,
            rule: R_CLOCK_SKEW,
        },
        default_leeway: FAPI2_LEEWAY_MIN,
        default_max_age: FAPI2_MAX_AGE,
        min_rsa_bits: (2048, R_RSA_FAPI),
        dpop_jkt: Some(R_DPOP_JKT),
        sender_constrained_only: Some(R_SENDER_CONSTRAINT),
    };

    /// FAPI 2.0 Message Signing: the Security Profile plus at least one signed message type.
    pub const FAPI2_MESSAGE_SIGNING: Profile = Profile {
        name: "fapi2-message-signing",
        title: "FAPI 2.0 Message Signing",
        any_of: FAPI_MS_ANY_OF,
        ..Profile::FAPI2_BASELINE
    };

    /// Every profile, in the order [`Profile::NAMES`] lists them.
    pub const ALL: [Profile; 3] = [
        Profile::RFC9449,
        Profile::FAPI2_BASELINE,
        Profile::FAPI2_MESSAGE_SIGNING,
    ];

    /// The profile names accepted by [`Profile::from_name`] (and the CLI's `--profile`).
    pub const NAMES: [&'static str; 3] = ["rfc9449", "fapi2-baseline", "fapi2-message-signing"];

    /// The profile named `name` (exact match), e.g. `Profile::from_name("fapi2-baseline")`.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name == name)
    }

    /// The profile's name (`rfc9449`, `fapi2-baseline`, `fapi2-message-signing`).
    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// Human title of the specification the profile implements.
    pub const fn title(&self) -> &'static str {
        self.title
    }

    /// Features that must be enabled (they are enabled unless explicitly disabled, which fails).
    pub const fn required(&self) -> &'static [FeatureRule] {
        self.required
    }

    /// `RequiredAnyOf` groups; the first member of each is the default.
    pub const fn any_of(&self) -> &'static [AnyOf] {
        self.any_of
    }

    /// The rule that makes every access token sender-constrained (no Bearer tokens), if the
    /// profile has one: FAPI 2.0 §5.3.2.1 items 4-5. Plain RFC 9449 / RFC 8705 lets a client
    /// that presents no proof of possession get a Bearer token.
    pub const fn sender_constrained_only(&self) -> Option<Rule> {
        self.sender_constrained_only
    }

    /// Features that must not be enabled.
    pub const fn forbidden(&self) -> &'static [FeatureRule] {
        self.forbidden
    }

    /// DPoP `alg` values the profile permits (RFC 9449 §4.3 step 2 allow-list).
    pub const fn permitted_algs(&self) -> AlgSet {
        self.algs.0
    }

    /// The rule behind [`Profile::permitted_algs`].
    pub const fn algs_rule(&self) -> Rule {
        self.algs.1
    }

    /// Allowed range for the future `iat` leeway.
    pub const fn leeway_range(&self) -> Range {
        self.leeway
    }

    /// Default future `iat` leeway in seconds.
    pub const fn default_leeway(&self) -> u64 {
        self.default_leeway
    }

    /// Default `max_age` for `iat` in seconds (RFC 9449 §11.1).
    pub const fn default_max_age(&self) -> u64 {
        self.default_max_age
    }

    /// Floor for the RSA modulus size in bits, and the rule behind it.
    pub const fn min_rsa_bits(&self) -> (usize, Rule) {
        self.min_rsa_bits
    }

    /// Features the profile enables when the caller says nothing: the required ones and the
    /// default member of each `RequiredAnyOf` group.
    pub fn default_features(&self) -> FeatureSet {
        self.required
            .iter()
            .map(|r| r.feature)
            .chain(self.any_of.iter().filter_map(AnyOf::default_member))
            .collect()
    }
}

impl Default for Profile {
    /// [`Profile::RFC9449`], the CLI default.
    fn default() -> Self {
        Profile::RFC9449
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_table_matches_profiles() {
        for (p, n) in Profile::ALL.iter().zip(Profile::NAMES) {
            assert_eq!(p.name(), n);
            assert_eq!(Profile::from_name(n), Some(*p));
        }
        assert_eq!(Profile::from_name("FAPI2-baseline"), None);
        assert_eq!(Profile::default(), Profile::RFC9449);
    }

    #[test]
    fn no_feature_is_both_required_and_forbidden() {
        for p in Profile::ALL {
            for r in p.required() {
                assert!(!p.forbidden().iter().any(|f| f.feature == r.feature));
            }
            for g in p.any_of() {
                assert!(!g.members.is_empty());
                for m in g.members {
                    assert!(!p.forbidden().iter().any(|f| f.feature == *m));
                }
            }
            assert!(p.leeway.min <= p.default_leeway && p.default_leeway <= p.leeway.max);
        }
    }
}
