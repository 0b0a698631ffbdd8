//! Profile names accepted by `--profile` and `profile show`, and the DPoP validation policy
//! each one implies.

use keybound::dpop::Policy;

use crate::error::CliError;

/// A named policy profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Profile {
    /// Plain RFC 9449 behaviour (the default).
    Rfc9449,
    /// FAPI 2.0 Security Profile.
    Fapi2Baseline,
    /// FAPI 2.0 Message Signing.
    Fapi2MessageSigning,
}

/// Every profile name, for messages and help.
pub(crate) const PROFILE_NAMES: &str = "rfc9449, fapi2-baseline or fapi2-message-signing";

impl Profile {
    /// Parses a profile name.
    pub(crate) fn from_name(name: &str) -> Result<Self, CliError> {
        match name {
            "rfc9449" => Ok(Profile::Rfc9449),
            "fapi2-baseline" => Ok(Profile::Fapi2Baseline),
            "fapi2-message-signing" => Ok(Profile::Fapi2MessageSigning),
            other => Err(CliError::usage(format!(
                "unknown profile \"{other}\": expected {PROFILE_NAMES}"
            ))),
        }
    }

    /// The name as written on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Rfc9449 => "rfc9449",
            Profile::Fapi2Baseline => "fapi2-baseline",
            Profile::Fapi2MessageSigning => "fapi2-message-signing",
        }
    }

    /// The DPoP validation policy of the profile (no nonce: `--nonce` adds one).
    pub(crate) fn dpop_policy(self) -> Policy<'static> {
        match self {
            Profile::Rfc9449 => Policy::new(),
            Profile::Fapi2Baseline | Profile::Fapi2MessageSigning => Policy::fapi2(),
        }
    }
}
