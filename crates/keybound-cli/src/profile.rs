//! Profile names accepted by `--profile` and `profile show`, resolved by keybound-profile.

use keybound::dpop::Policy;
use keybound::profile::{Choices, Feature, Profile, ResolvedConfig};

use crate::error::CliError;

/// Every profile name, for messages and help.
pub(crate) const PROFILE_NAMES: &str = "rfc9449, fapi2-baseline or fapi2-message-signing";

/// The profile called `name`.
pub(crate) fn by_name(name: &str) -> Result<Profile, CliError> {
    Profile::from_name(name).ok_or_else(|| {
        CliError::usage(format!(
            "unknown profile \"{name}\": expected {PROFILE_NAMES}"
        ))
    })
}

/// Resolves `profile` with these features explicitly enabled.
pub(crate) fn resolve(profile: &Profile, enabled: &[Feature]) -> Result<ResolvedConfig, CliError> {
    let choices = enabled.iter().fold(Choices::new(), |c, f| c.enable(*f));
    profile
        .resolve(&choices)
        .map_err(|e| CliError::usage(format!("cannot resolve profile {}: {e}", profile.name())))
}

/// A profile's DPoP verification policy (DPoP enabled), named for messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DpopProfile {
    pub(crate) name: &'static str,
    pub(crate) policy: Policy<'static>,
}

impl DpopProfile {
    /// The DPoP policy of the profile called `name`.
    pub(crate) fn from_name(name: &str) -> Result<Self, CliError> {
        let profile = by_name(name)?;
        let resolved = resolve(&profile, &[Feature::Dpop])?;
        let policy = resolved.dpop_policy().map_err(|e| {
            CliError::usage(format!(
                "profile {} has no DPoP policy: {e}",
                profile.name()
            ))
        })?;
        Ok(DpopProfile {
            name: profile.name(),
            policy,
        })
    }
}
