//! `keybound profile show NAME [--enable dpop,mtls]`.

use crate::error::CliError;
use crate::profile::Profile;

/// Resolved policy and discovery metadata of a profile, as pretty JSON.
pub(crate) fn show(name: &str, enable: &[String]) -> Result<String, CliError> {
    let profile = Profile::from_name(name)?;
    let _ = (profile, enable);
    Err(CliError::failure(
        "profile show is not available in this build yet",
    ))
}
