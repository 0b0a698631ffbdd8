//! RFC 9728 protected-resource metadata, from the same configuration the layer enforces.

use core::fmt::{self, Write as _};

use keybound::jose::AlgSet;

/// The well-known path suffix (RFC 9728 §3): `/.well-known/oauth-protected-resource`.
pub const METADATA_WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 §2 protected-resource metadata document.
///
/// Built by [`crate::GateConfig`] from what the layer enforces, so what is advertised is what
/// is accepted: `dpop_signing_alg_values_supported` is the DPoP challenge's `algs`,
/// `dpop_bound_access_tokens_required` and `tls_client_certificate_bound_access_tokens` follow
/// the profile's mechanisms, and `bearer_methods_supported` is `["header"]` (tokens are read
/// from `Authorization` only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtectedResourceMetadata {
    resource: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    dpop_algs: Option<AlgSet>,
    dpop_required: bool,
    mtls_bound: bool,
    resource_name: Option<String>,
}

impl ProtectedResourceMetadata {
    /// Metadata for the resource identified by `resource` (RFC 9728 §1.2: an `https` URL
    /// without fragment; a trailing `/` after the host is removed, §3.1).
    pub fn new(resource: &str) -> Self {
        ProtectedResourceMetadata {
            resource: trim_host_slash(resource).to_owned(),
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            dpop_algs: None,
            dpop_required: false,
            mtls_bound: false,
            resource_name: None,
        }
    }

    /// Adds an issuer whose tokens this resource accepts (`authorization_servers`).
    #[must_use]
    pub fn with_authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    /// With `scopes_supported`.
    #[must_use]
    pub fn with_scopes<I: IntoIterator<Item = S>, S: Into<String>>(mut self, scopes: I) -> Self {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// With a human-readable `resource_name`.
    #[must_use]
    pub fn with_resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// `dpop_signing_alg_values_supported` (`None`: DPoP not accepted) and
    /// `dpop_bound_access_tokens_required` (RFC 9728 §2).
    #[must_use]
    pub fn with_dpop(mut self, algs: Option<AlgSet>, required: bool) -> Self {
        self.dpop_algs = algs;
        self.dpop_required = required && algs.is_some();
        self
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3, RFC 9728 §2).
    #[must_use]
    pub fn with_mtls_bound_tokens(mut self, bound: bool) -> Self {
        self.mtls_bound = bound;
        self
    }

    /// The resource identifier (`resource`).
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The path the document is served at on the resource's host (RFC 9728 §3.1: the
    /// well-known suffix inserted before the resource identifier's path).
    pub fn well_known_path(&self) -> String {
        let mut path = String::from(METADATA_WELL_KNOWN);
        path.push_str(resource_path(&self.resource));
        path
    }

    /// The document's URL, for `resource_metadata` in challenges (RFC 9728 §5.1).
    pub fn url(&self) -> String {
        let path = resource_path(&self.resource);
        let origin = self.resource.strip_suffix(path).unwrap_or(&self.resource);
        let mut url = String::with_capacity(origin.len() + METADATA_WELL_KNOWN.len() + path.len());
        url.push_str(origin);
        url.push_str(METADATA_WELL_KNOWN);
        url.push_str(path);
        url
    }

    /// The JSON document (RFC 9728 §3.2).
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = self.write_json(&mut s);
        s
    }

    fn write_json(&self, out: &mut String) -> fmt::Result {
        out.push_str("{\"resource\":");
        keybound::json::write_str(out, &self.resource)?;
        if !self.authorization_servers.is_empty() {
            out.push_str(",\"authorization_servers\":");
            write_array(out, self.authorization_servers.iter().map(String::as_str))?;
        }
        if !self.scopes_supported.is_empty() {
            out.push_str(",\"scopes_supported\":");
            write_array(out, self.scopes_supported.iter().map(String::as_str))?;
        }
        out.push_str(",\"bearer_methods_supported\":[\"header\"]");
        if let Some(algs) = self.dpop_algs {
            out.push_str(",\"dpop_signing_alg_values_supported\":");
            keybound::dpop::write_signing_alg_values_json(algs, out)?;
        }
        write!(
            out,
            ",\"dpop_bound_access_tokens_required\":{}",
            self.dpop_required
        )?;
        write!(
            out,
            ",\"tls_client_certificate_bound_access_tokens\":{}",
            self.mtls_bound
        )?;
        if let Some(name) = &self.resource_name {
            out.push_str(",\"resource_name\":");
            keybound::json::write_str(out, name)?;
        }
        out.push('}');
        Ok(())
    }
}

fn write_array<'s>(out: &mut String, items: impl Iterator<Item = &'s str>) -> fmt::Result {
    out.push('[');
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(',');
        }
        keybound::json::write_str(out, item)?;
    }
    out.push(']');
    Ok(())
}

/// The path of an absolute URL (`""` when it has none), without query or fragment.
fn resource_path(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let rest = url.get(after_scheme..).unwrap_or_default();
    let path_start = rest.find('/').map_or(rest.len(), |i| i);
    let path = rest.get(path_start..).unwrap_or_default();
    let end = path.find(['?', '#']).unwrap_or(path.len());
    path.get(..end).unwrap_or_default()
}

/// `url` without a lone `/` path.
fn trim_host_slash(url: &str) -> &str {
    if resource_path(url) == "/" {
        url.strip_suffix('/').unwrap_or(url)
    } else {
        url
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn well_known_url_inserts_the_suffix_before_the_path() {
        let m = ProtectedResourceMetadata::new("https://api.example.com/");
        assert_eq!(m.resource(), "https://api.example.com");
        assert_eq!(
            m.url(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        let m = ProtectedResourceMetadata::new("https://api.example.com:8443/v1/accounts");
        assert_eq!(
            m.url(),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/v1/accounts"
        );
        assert_eq!(
            m.well_known_path(),
            "/.well-known/oauth-protected-resource/v1/accounts"
        );
    }

    #[test]
    fn document_names_the_rfc_9728_members() {
        let m = ProtectedResourceMetadata::new("https://rs.example")
            .with_authorization_server("https://as.example")
            .with_dpop(Some(AlgSet::FAPI2), true)
            .with_mtls_bound_tokens(false);
        let json = m.to_json();
        let obj = keybound::json::Object::parse(json.as_bytes()).unwrap();
        assert!(obj.get("resource").is_some());
        assert!(obj.get("authorization_servers").is_some());
        assert!(obj.get("bearer_methods_supported").is_some());
        assert!(obj.get("dpop_signing_alg_values_supported").is_some());
        assert_eq!(
            obj.get("dpop_bound_access_tokens_required")
                .and_then(|v| v.as_bool()),
            Some(true)
        );
        assert_eq!(
            obj.get("tls_client_certificate_bound_access_tokens")
                .and_then(|v| v.as_bool()),
            Some(false)
        );
    }
}
