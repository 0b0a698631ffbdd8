//! Resolution: (profile, explicit choices) → [`ResolvedConfig`] or a [`ResolveError`] naming
//! the violated rule. A pure function: no global state, no clock, no allocation.

use core::fmt;

use keybound_dpop::nonce::NonceSource;
use keybound_dpop::{AlgSet, Algorithm, Policy};

use crate::feature::{Feature, FeatureSet, write_feature_list};
use crate::profile::{Profile, Rule};

/// What the deployer chose explicitly; everything left `None` / empty takes the profile
/// default. Build with the `enable` / `disable` / `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choices {
    /// Features explicitly enabled.
    pub enabled: FeatureSet,
    /// Features explicitly disabled.
    pub disabled: FeatureSet,
    /// DPoP `alg` allow-list; must be a non-empty subset of the profile's permitted set.
    pub algs: Option<AlgSet>,
    /// Oldest accepted DPoP `iat`, seconds before now (RFC 9449 §11.1).
    pub max_age: Option<u64>,
    /// Newest accepted DPoP `iat`, seconds after now (must stay in the profile's range).
    pub leeway: Option<u64>,
    /// Minimum RSA modulus bits (may only be raised above the profile floor).
    pub min_rsa_bits: Option<usize>,
    /// Require a server nonce in every proof (RFC 9449 §8, §9); never required by a profile.
    pub nonce_required: Option<bool>,
    /// Honour the `dpop_jkt` authorization request parameter (RFC 9449 §10).
    pub dpop_jkt: Option<bool>,
    /// Bind refresh tokens of confidential clients to the DPoP key too (RFC 9449 §5 leaves
    /// them unbound).
    pub bind_confidential_refresh_tokens: Option<bool>,
}

impl Choices {
    /// No explicit choice: the profile's defaults.
    pub const fn new() -> Self {
        Choices {
            enabled: FeatureSet::EMPTY,
            disabled: FeatureSet::EMPTY,
            algs: None,
            max_age: None,
            leeway: None,
            min_rsa_bits: None,
            nonce_required: None,
            dpop_jkt: None,
            bind_confidential_refresh_tokens: None,
        }
    }

    /// Explicitly enabling `feature`.
    #[must_use]
    pub const fn enable(mut self, feature: Feature) -> Self {
        self.enabled = self.enabled.with(feature);
        self
    }

    /// Explicitly enabling every feature in `features` (e.g. from [`FeatureSet::parse_list`]).
    #[must_use]
    pub const fn enable_all(mut self, features: FeatureSet) -> Self {
        self.enabled = self.enabled.union(features);
        self
    }

    /// Explicitly disabling `feature`.
    #[must_use]
    pub const fn disable(mut self, feature: Feature) -> Self {
        self.disabled = self.disabled.with(feature);
        self
    }

    /// Explicitly disabling every feature in `features`.
    #[must_use]
    pub const fn disable_all(mut self, features: FeatureSet) -> Self {
        self.disabled = self.disabled.union(features);
        self
    }

    /// With this DPoP `alg` allow-list.
    #[must_use]
    pub const fn with_algs(mut self, algs: AlgSet) -> Self {
        self.algs = Some(algs);
        self
    }

    /// With this `max_age` in seconds.
    #[must_use]
    pub const fn with_max_age(mut self, secs: u64) -> Self {
        self.max_age = Some(secs);
        self
    }

    /// With this future `iat` leeway in seconds.
    #[must_use]
    pub const fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway = Some(secs);
        self
    }

    /// With this minimum RSA modulus size.
    #[must_use]
    pub const fn with_min_rsa_bits(mut self, bits: usize) -> Self {
        self.min_rsa_bits = Some(bits);
        self
    }

    /// Requiring (or not) a server nonce in every proof.
    #[must_use]
    pub const fn with_nonce_required(mut self, required: bool) -> Self {
        self.nonce_required = Some(required);
        self
    }

    /// Honouring (or not) `dpop_jkt`.
    #[must_use]
    pub const fn with_dpop_jkt(mut self, honour: bool) -> Self {
        self.dpop_jkt = Some(honour);
        self
    }

    /// Binding (or not) confidential clients' refresh tokens to their key.
    #[must_use]
    pub const fn with_confidential_refresh_binding(mut self, bind: bool) -> Self {
        self.bind_confidential_refresh_tokens = Some(bind);
        self
    }

    fn any_dpop_setting(&self) -> Option<&'static str> {
        [
            (self.algs.is_some(), "algs"),
            (self.max_age.is_some(), "max_age"),
            (self.leeway.is_some(), "leeway"),
            (self.min_rsa_bits.is_some(), "min_rsa_bits"),
            (self.nonce_required == Some(true), "nonce_required"),
            (self.dpop_jkt == Some(true), "dpop_jkt"),
        ]
        .into_iter()
        .find_map(|(set, name)| set.then_some(name))
    }
}

/// Why a profile could not be resolved: the violated rule and the profile, in one sentence.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResolveError {
    /// The same feature was explicitly enabled and disabled.
    Contradiction {
        /// Profile name.
        profile: &'static str,
        /// The feature.
        feature: Feature,
    },
    /// An explicitly enabled feature is forbidden by the profile.
    ForbiddenFeatureEnabled {
        /// Profile name.
        profile: &'static str,
        /// The feature.
        feature: Feature,
        /// The rule that forbids it.
        rule: Rule,
    },
    /// A feature the profile requires was explicitly disabled.
    RequiredFeatureDisabled {
        /// Profile name.
        profile: &'static str,
        /// The feature.
        feature: Feature,
        /// The rule that requires it.
        rule: Rule,
    },
    /// No member of a `RequiredAnyOf` group is enabled and its default was disabled.
    RequiredAnyOfUnsatisfied {
        /// Profile name.
        profile: &'static str,
        /// The group (first member is the default).
        members: &'static [Feature],
        /// The rule behind the group.
        rule: Rule,
    },
    /// An explicitly allowed DPoP algorithm is outside the profile's permitted set.
    AlgNotPermitted {
        /// Profile name.
        profile: &'static str,
        /// The algorithm.
        alg: Algorithm,
        /// The rule that limits algorithms.
        rule: Rule,
    },
    /// The explicit DPoP algorithm allow-list is empty.
    NoAlgorithms {
        /// Profile name.
        profile: &'static str,
    },
    /// The future `iat` leeway is outside the profile's range.
    LeewayOutOfRange {
        /// Profile name.
        profile: &'static str,
        /// Requested leeway (s).
        leeway: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
        /// The rule that bounds it.
        rule: Rule,
    },
    /// The minimum RSA size was set below the profile floor.
    RsaBitsBelowMinimum {
        /// Requested bits.
        bits: usize,
        /// Profile name.
        profile: &'static str,
        /// Floor.
        min: usize,
        /// The rule behind the floor.
        rule: Rule,
    },
    /// `dpop_jkt` support was switched off where the profile requires it.
    DpopJktRequired {
        /// Profile name.
        profile: &'static str,
        /// The rule that requires it.
        rule: Rule,
    },
    /// A DPoP setting was given although DPoP is not enabled.
    SettingNeedsDpop {
        /// Profile name.
        profile: &'static str,
        /// The setting (`algs`, `max_age`, `leeway`, `min_rsa_bits`, `nonce_required`, `dpop_jkt`).
        setting: &'static str,
    },
}

impl ResolveError {
    /// The profile that was being resolved.
    pub const fn profile(&self) -> &'static str {
        match self {
            ResolveError::Contradiction { profile, .. }
            | ResolveError::ForbiddenFeatureEnabled { profile, .. }
            | ResolveError::RequiredFeatureDisabled { profile, .. }
            | ResolveError::RequiredAnyOfUnsatisfied { profile, .. }
            | ResolveError::AlgNotPermitted { profile, .. }
            | ResolveError::NoAlgorithms { profile }
            | ResolveError::LeewayOutOfRange { profile, .. }
            | ResolveError::RsaBitsBelowMinimum { profile, .. }
            | ResolveError::DpopJktRequired { profile, .. }
            | ResolveError::SettingNeedsDpop { profile, .. } => profile,
        }
    }

    /// The profile rule that was violated, when the failure is one.
    pub const fn rule(&self) -> Option<Rule> {
        match self {
            ResolveError::ForbiddenFeatureEnabled { rule, .. }
            | ResolveError::RequiredFeatureDisabled { rule, .. }
            | ResolveError::RequiredAnyOfUnsatisfied { rule, .. }
            | ResolveError::AlgNotPermitted { rule, .. }
            | ResolveError::LeewayOutOfRange { rule, .. }
            | ResolveError::RsaBitsBelowMinimum { rule, .. }
            | ResolveError::DpopJktRequired { rule, .. } => Some(*rule),
            ResolveError::Contradiction { .. }
            | ResolveError::NoAlgorithms { .. }
            | ResolveError::SettingNeedsDpop { .. } => None,
        }
    }
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::Contradiction { profile, feature } => write!(
                f,
                "profile {profile}: feature {feature} was both enabled and disabled"
            ),
            ResolveError::ForbiddenFeatureEnabled {
                profile,
                feature,
                rule,
            } => write!(
                f,
                "profile {profile} forbids enabling {feature} under {rule}"
            ),
            ResolveError::RequiredFeatureDisabled {
                profile,
                feature,
                rule,
            } => write!(
                f,
                "profile {profile} requires {feature}, which was disabled, under {rule}"
            ),
            ResolveError::RequiredAnyOfUnsatisfied {
                profile,
                members,
                rule,
            } => {
                write!(f, "profile {profile} requires one of ")?;
                write_feature_list(f, members.iter().copied(), ", ")?;
                write!(
                    f,
                    ", but none was enabled and the default was disabled, under {rule}"
                )
            }
            ResolveError::AlgNotPermitted { profile, alg, rule } => write!(
                f,
                "profile {profile} does not permit DPoP algorithm {alg} under {rule}"
            ),
            ResolveError::NoAlgorithms { profile } => write!(
                f,
                "profile {profile}: the DPoP algorithm allow-list is empty, so no proof could pass"
            ),
            ResolveError::LeewayOutOfRange {
                profile,
                leeway,
                min,
                max,
                rule,
            } => write!(
                f,
                "profile {profile} needs an iat leeway between {min} and {max} s, not {leeway} s, under {rule}"
            ),
            ResolveError::RsaBitsBelowMinimum {
                bits,
                profile,
                min,
                rule,
            } => write!(
                f,
                "profile {profile} needs RSA keys of at least {min} bits, not {bits}, under {rule}"
            ),
            ResolveError::DpopJktRequired { profile, rule } => write!(
                f,
                "profile {profile} requires honouring dpop_jkt when DPoP is enabled, under {rule}"
            ),
            ResolveError::SettingNeedsDpop { profile, setting } => write!(
                f,
                "profile {profile}: the DPoP setting {setting} was given but DPoP is not enabled"
            ),
        }
    }
}

impl core::error::Error for ResolveError {}

/// Why a DPoP [`Policy`] could not be derived from a [`ResolvedConfig`].
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// DPoP is not enabled in this configuration.
    DpopDisabled {
        /// Profile name.
        profile: &'static str,
    },
    /// The configuration requires server nonces but no [`NonceSource`] was supplied.
    NonceSourceRequired {
        /// Profile name.
        profile: &'static str,
    },
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::DpopDisabled { profile } => {
                write!(
                    f,
                    "profile {profile}: DPoP is not enabled in this configuration"
                )
            }
            PolicyError::NonceSourceRequired { profile } => write!(
                f,
                "profile {profile}: nonces are required, so the DPoP policy needs a nonce source"
            ),
        }
    }
}

impl core::error::Error for PolicyError {}

/// Whether a client authenticates at the token endpoint (RFC 6749 §2.1); defined in
/// keybound-dpop so every layer shares one type.
pub use keybound_dpop::ClientKind;

/// How a refresh token is sender-constrained (RFC 9449 §5, RFC 8705 §4 and §7.1).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RefreshTokenBinding {
    /// Bound to the key of the token request: the DPoP proof key (`jkt`) or the client
    /// certificate (`x5t#S256`); every refresh must use the same key.
    Key,
    /// Bound to the client and its authentication only (the RFC 6749 §6 default).
    ClientAuthentication,
}

impl RefreshTokenBinding {
    /// `key` or `client_authentication` (JSON output).
    pub const fn as_str(self) -> &'static str {
        match self {
            RefreshTokenBinding::Key => "key",
            RefreshTokenBinding::ClientAuthentication => "client_authentication",
        }
    }
}

impl fmt::Display for RefreshTokenBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A profile with every choice made: the features in force and the DPoP parameters.
/// Derive the verifier policy with [`ResolvedConfig::dpop_policy`] and the discovery
/// metadata with [`ResolvedConfig::metadata`] — both from the same values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResolvedConfig {
    profile: Profile,
    features: FeatureSet,
    explicit: FeatureSet,
    algs: AlgSet,
    max_age: u64,
    leeway: u64,
    min_rsa_bits: usize,
    nonce_required: bool,
    dpop_jkt: bool,
    bind_confidential_refresh_tokens: bool,
}

impl Profile {
    /// Resolves the profile against explicit choices; a pure function.
    ///
    /// Checks run in this order and the first failure is returned: contradictions, forbidden
    /// features enabled, required features disabled, `RequiredAnyOf` groups (enabling the
    /// default member when no member is enabled), then the DPoP settings (algorithms,
    /// leeway, RSA size, `dpop_jkt`, settings given without DPoP).
    pub fn resolve(&self, choices: &Choices) -> Result<ResolvedConfig, ResolveError> {
        let profile = self.name;
        let (enabled, disabled) = (choices.enabled, choices.disabled);

        if let Some(feature) = enabled.intersection(disabled).iter().next() {
            return Err(ResolveError::Contradiction { profile, feature });
        }
        if let Some(r) = self.forbidden.iter().find(|r| enabled.contains(r.feature)) {
            return Err(ResolveError::ForbiddenFeatureEnabled {
                profile,
                feature: r.feature,
                rule: r.rule,
            });
        }
        if let Some(r) = self.required.iter().find(|r| disabled.contains(r.feature)) {
            return Err(ResolveError::RequiredFeatureDisabled {
                profile,
                feature: r.feature,
                rule: r.rule,
            });
        }

        let mut features = self
            .required
            .iter()
            .fold(enabled, |set, r| set.with(r.feature));
        for group in self.any_of {
            if !features.intersection(group.set()).is_empty() {
                continue;
            }
            match group.default_member() {
                Some(default) if !disabled.contains(default) => {
                    features = features.with(default);
                }
                _ => {
                    return Err(ResolveError::RequiredAnyOfUnsatisfied {
                        profile,
                        members: group.members,
                        rule: group.rule,
                    });
                }
            }
        }

        let dpop = features.contains(Feature::Dpop);
        if !dpop && let Some(setting) = choices.any_dpop_setting() {
            return Err(ResolveError::SettingNeedsDpop { profile, setting });
        }

        let (permitted, algs_rule) = self.algs;
        let algs = match choices.algs {
            None => permitted,
            Some(algs) => {
                if let Some(alg) = algs.iter().find(|a| !permitted.contains(*a)) {
                    return Err(ResolveError::AlgNotPermitted {
                        profile,
                        alg,
                        rule: algs_rule,
                    });
                }
                if algs.is_empty() {
                    return Err(ResolveError::NoAlgorithms { profile });
                }
                algs
            }
        };

        let leeway = choices.leeway.unwrap_or(self.default_leeway);
        let range = self.leeway;
        if leeway < range.min || leeway > range.max {
            return Err(ResolveError::LeewayOutOfRange {
                profile,
                leeway,
                min: range.min,
                max: range.max,
                rule: range.rule,
            });
        }

        let (floor, rsa_rule) = self.min_rsa_bits;
        let min_rsa_bits = choices.min_rsa_bits.unwrap_or(floor);
        if min_rsa_bits < floor {
            return Err(ResolveError::RsaBitsBelowMinimum {
                bits: min_rsa_bits,
                profile,
                min: floor,
                rule: rsa_rule,
            });
        }

        let dpop_jkt = match (self.dpop_jkt, choices.dpop_jkt) {
            (Some(rule), Some(false)) if dpop => {
                return Err(ResolveError::DpopJktRequired { profile, rule });
            }
            (required, choice) => dpop && choice.unwrap_or(required.is_some()),
        };

        Ok(ResolvedConfig {
            profile: *self,
            features,
            explicit: enabled,
            algs,
            max_age: choices.max_age.unwrap_or(self.default_max_age),
            leeway,
            min_rsa_bits,
            nonce_required: dpop && choices.nonce_required.unwrap_or(false),
            dpop_jkt,
            bind_confidential_refresh_tokens: choices
                .bind_confidential_refresh_tokens
                .unwrap_or(false),
        })
    }
}

impl ResolvedConfig {
    /// The profile this configuration was resolved from.
    pub const fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The features in force.
    pub const fn features(&self) -> FeatureSet {
        self.features
    }

    /// Features in force that were not explicitly enabled (profile requirements and
    /// `RequiredAnyOf` defaults).
    pub const fn defaulted_features(&self) -> FeatureSet {
        self.features.difference(self.explicit)
    }

    /// Whether `feature` is in force.
    pub const fn is_enabled(&self, feature: Feature) -> bool {
        self.features.contains(feature)
    }

    /// DPoP `alg` allow-list of the derived policy (RFC 9449 §4.3 step 2).
    pub const fn dpop_algs(&self) -> AlgSet {
        self.algs
    }

    /// Oldest accepted `iat`, seconds before now (RFC 9449 §11.1).
    pub const fn max_age(&self) -> u64 {
        self.max_age
    }

    /// Newest accepted `iat`, seconds after now (FAPI 2.0 §5.3.2.1 item 13 under FAPI).
    pub const fn leeway(&self) -> u64 {
        self.leeway
    }

    /// How long a `jti` must be remembered: `max_age + leeway` (RFC 9449 §11.1).
    pub const fn replay_window(&self) -> u64 {
        self.max_age.saturating_add(self.leeway)
    }

    /// Minimum RSA modulus bits (RFC 7518 §3.3/§3.5; FAPI 2.0 §5.4.1 item 2).
    pub const fn min_rsa_bits(&self) -> usize {
        self.min_rsa_bits
    }

    /// Smallest elliptic-curve key size any allowed algorithm admits (FAPI 2.0 §5.4.1 item 3
    /// asks for ≥ 224): 256 for ES256 and Ed25519, 384 for ES384; `None` without EC algorithms.
    pub fn min_ec_bits(&self) -> Option<usize> {
        self.algs
            .iter()
            .filter_map(|a| match a {
                Algorithm::Es256 | Algorithm::EdDsa | Algorithm::Ed25519 => Some(256),
                Algorithm::Es384 => Some(384),
                _ => None,
            })
            .min()
    }

    /// Whether every proof must carry a server nonce (RFC 9449 §8, §9). No profile requires
    /// it; FAPI 2.0 §5.3.2.1 item 10 makes it optional, Message Signing adds nothing.
    pub const fn nonce_required(&self) -> bool {
        self.nonce_required
    }

    /// Whether the authorization server must honour `dpop_jkt` and bind the authorization code
    /// to that key (RFC 9449 §10; required by FAPI 2.0 §5.3.2.1 item 12).
    pub const fn dpop_jkt_required(&self) -> bool {
        self.dpop_jkt
    }

    /// Whether every authorization request must be pushed (RFC 9126 §5).
    pub const fn require_pushed_authorization_requests(&self) -> bool {
        self.features.contains(Feature::Par)
    }

    /// How refresh tokens issued to `client` are sender-constrained: public clients are bound
    /// to their key (RFC 9449 §5 MUST; RFC 8705 §4 SHOULD), confidential clients by their
    /// authentication unless [`Choices::with_confidential_refresh_binding`] was set.
    pub const fn refresh_token_binding(&self, client: ClientKind) -> RefreshTokenBinding {
        match client {
            ClientKind::Public => RefreshTokenBinding::Key,
            ClientKind::Confidential if self.bind_confidential_refresh_tokens => {
                RefreshTokenBinding::Key
            }
            ClientKind::Confidential => RefreshTokenBinding::ClientAuthentication,
        }
    }

    /// The DPoP verifier policy (RFC 9449 §4.3) for this configuration, without a nonce
    /// source; fails when DPoP is off or nonces are required.
    pub fn dpop_policy(&self) -> Result<Policy<'static>, PolicyError> {
        self.check_dpop()?;
        if self.nonce_required {
            return Err(PolicyError::NonceSourceRequired {
                profile: self.profile.name,
            });
        }
        Ok(self.base_policy())
    }

    /// The DPoP verifier policy requiring a nonce accepted by `source` (RFC 9449 §8, §9).
    pub fn dpop_policy_with_nonce<'a>(
        &self,
        source: &'a dyn NonceSource,
    ) -> Result<Policy<'a>, PolicyError> {
        self.check_dpop()?;
        Ok(self.base_policy().with_nonce(source))
    }

    fn check_dpop(&self) -> Result<(), PolicyError> {
        if self.features.contains(Feature::Dpop) {
            Ok(())
        } else {
            Err(PolicyError::DpopDisabled {
                profile: self.profile.name,
            })
        }
    }

    /// The DPoP verifier policy without a nonce source (algorithms, `iat` window, RSA
    /// minimum), for hosts that attach their own nonce source; check [`Self::nonce_required`].
    pub const fn dpop_base_policy(&self) -> Policy<'static> {
        self.base_policy()
    }

    /// Whether every access token must be sender-constrained, i.e. a token request without a
    /// DPoP proof or a client certificate is refused (FAPI 2.0 §5.3.2.1 items 4-5).
    pub const fn sender_constrained_tokens_required(&self) -> bool {
        self.profile.sender_constrained_only.is_some()
    }

    const fn base_policy(&self) -> Policy<'static> {
        Policy::new()
            .with_algs(self.algs)
            .with_max_age(self.max_age)
            .with_leeway(self.leeway)
            .with_min_rsa_bits(self.min_rsa_bits)
    }
}
