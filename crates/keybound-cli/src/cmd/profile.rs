//! `keybound profile show NAME [--enable dpop,mtls]`.

use keybound::profile::Feature;

use crate::error::CliError;
use crate::json_out::pretty_text;
use crate::profile::{by_name, resolve};

/// Resolved policy and discovery metadata of a profile, as pretty JSON.
pub(crate) fn show(name: &str, enable: &[String]) -> Result<String, CliError> {
    let profile = by_name(name)?;
    let mut features = Vec::new();
    for item in enable.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let feature = Feature::from_name(item).ok_or_else(|| {
            let known: Vec<&str> = Feature::ALL.iter().map(|f| f.name()).collect();
            CliError::usage(format!(
                "unknown feature \"{item}\" in --enable: expected a comma-separated list of {}",
                known.join(", ")
            ))
        })?;
        features.push(feature);
    }
    let resolved = resolve(&profile, &features)?;
    let json = resolved.to_json();
    // The library writes compact JSON; show it indented, members in the library's order.
    Ok(pretty_text(&json).unwrap_or(json))
}
