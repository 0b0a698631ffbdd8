//! Discovery metadata for mutual TLS (RFC 8705 §3.3 and §5, RFC 8414 §2).

use core::fmt;

/// Server and client metadata flag for certificate-bound access tokens (RFC 8705 §3.3, §3.4).
pub const TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS: &str =
    "tls_client_certificate_bound_access_tokens";
/// Server metadata object of mTLS endpoint aliases (RFC 8705 §5).
pub const MTLS_ENDPOINT_ALIASES: &str = "mtls_endpoint_aliases";
/// Server metadata list of client authentication methods (RFC 8414 §2).
pub const TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED: &str = "token_endpoint_auth_methods_supported";

/// The `token_endpoint_auth_methods_supported` entries mutual TLS adds (RFC 8705 §2.1.1, §2.2.1).
pub const MTLS_AUTH_METHODS: [&str; 2] = [TLS_CLIENT_AUTH, SELF_SIGNED_TLS_CLIENT_AUTH];

/// `token_endpoint_auth_method` value for PKI mutual TLS (RFC 8705 §2.1.1).
pub const TLS_CLIENT_AUTH: &str = "tls_client_auth";
/// `token_endpoint_auth_method` value for self-signed certificates (RFC 8705 §2.2.1).
pub const SELF_SIGNED_TLS_CLIENT_AUTH: &str = "self_signed_tls_client_auth";

/// The two RFC 8705 client authentication methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ClientAuthMethod {
    /// `tls_client_auth` (RFC 8705 §2.1).
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2).
    SelfSignedTlsClientAuth,
}

impl ClientAuthMethod {
    /// The registered name (RFC 8705 §2.1.1, §2.2.1).
    pub const fn name(self) -> &'static str {
        match self {
            Self::TlsClientAuth => TLS_CLIENT_AUTH,
            Self::SelfSignedTlsClientAuth => SELF_SIGNED_TLS_CLIENT_AUTH,
        }
    }

    /// Parses a registered name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            TLS_CLIENT_AUTH => Some(Self::TlsClientAuth),
            SELF_SIGNED_TLS_CLIENT_AUTH => Some(Self::SelfSignedTlsClientAuth),
            _ => None,
        }
    }
}

/// Endpoints a server also serves on a mutual-TLS host (RFC 8705 §5); `None` means no alias.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtlsEndpointAliases<'a> {
    /// `token_endpoint` (RFC 8414 §2).
    pub token_endpoint: Option<&'a str>,
    /// `revocation_endpoint` (RFC 8414 §2).
    pub revocation_endpoint: Option<&'a str>,
    /// `introspection_endpoint` (RFC 8414 §2).
    pub introspection_endpoint: Option<&'a str>,
    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub device_authorization_endpoint: Option<&'a str>,
    /// `registration_endpoint` (RFC 8414 §2).
    pub registration_endpoint: Option<&'a str>,
    /// `userinfo_endpoint` (OpenID Connect Discovery 1.0 §3).
    pub userinfo_endpoint: Option<&'a str>,
    /// `pushed_authorization_request_endpoint` (RFC 9126 §5).
    pub pushed_authorization_request_endpoint: Option<&'a str>,
    /// `backchannel_authentication_endpoint` (OpenID CIBA Core §4).
    pub backchannel_authentication_endpoint: Option<&'a str>,
}

impl<'a> MtlsEndpointAliases<'a> {
    /// No aliases.
    pub const fn new() -> Self {
        Self {
            token_endpoint: None,
            revocation_endpoint: None,
            introspection_endpoint: None,
            device_authorization_endpoint: None,
            registration_endpoint: None,
            userinfo_endpoint: None,
            pushed_authorization_request_endpoint: None,
            backchannel_authentication_endpoint: None,
        }
    }

    /// Sets `token_endpoint`.
    pub const fn with_token_endpoint(mut self, url: &'a str) -> Self {
        self.token_endpoint = Some(url);
        self
    }

    /// Sets `revocation_endpoint`.
    pub const fn with_revocation_endpoint(mut self, url: &'a str) -> Self {
        self.revocation_endpoint = Some(url);
        self
    }

    /// Sets `introspection_endpoint`.
    pub const fn with_introspection_endpoint(mut self, url: &'a str) -> Self {
        self.introspection_endpoint = Some(url);
        self
    }

    /// Sets `pushed_authorization_request_endpoint`.
    pub const fn with_par_endpoint(mut self, url: &'a str) -> Self {
        self.pushed_authorization_request_endpoint = Some(url);
        self
    }

    /// Sets `userinfo_endpoint`.
    pub const fn with_userinfo_endpoint(mut self, url: &'a str) -> Self {
        self.userinfo_endpoint = Some(url);
        self
    }

    /// The set aliases as `(metadata name, URL)`, in a fixed order.
    pub fn entries(&self) -> impl Iterator<Item = (&'static str, &'a str)> {
        [
            ("token_endpoint", self.token_endpoint),
            ("revocation_endpoint", self.revocation_endpoint),
            ("introspection_endpoint", self.introspection_endpoint),
            (
                "device_authorization_endpoint",
                self.device_authorization_endpoint,
            ),
            ("registration_endpoint", self.registration_endpoint),
            ("userinfo_endpoint", self.userinfo_endpoint),
            (
                "pushed_authorization_request_endpoint",
                self.pushed_authorization_request_endpoint,
            ),
            (
                "backchannel_authentication_endpoint",
                self.backchannel_authentication_endpoint,
            ),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
    }

    /// True when no alias is set.
    pub fn is_empty(&self) -> bool {
        self.entries().next().is_none()
    }

    /// Writes the JSON object value of `mtls_endpoint_aliases` (RFC 8705 §5).
    pub fn write_json(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_char('{')?;
        for (i, (k, v)) in self.entries().enumerate() {
            if i > 0 {
                out.write_char(',')?;
            }
            keybound_json::write_str(out, k)?;
            out.write_char(':')?;
            keybound_json::write_str(out, v)?;
        }
        out.write_char('}')
    }
}

/// The mutual-TLS members of authorization server metadata (RFC 8705 §3.3, §5; RFC 8414 §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MtlsServerMetadata<'a> {
    /// `tls_client_certificate_bound_access_tokens`.
    pub certificate_bound_access_tokens: bool,
    /// `mtls_endpoint_aliases` (written only when not empty).
    pub aliases: MtlsEndpointAliases<'a>,
    /// Offer `tls_client_auth` in `token_endpoint_auth_methods_supported`.
    pub tls_client_auth: bool,
    /// Offer `self_signed_tls_client_auth` in `token_endpoint_auth_methods_supported`.
    pub self_signed_tls_client_auth: bool,
}

impl<'a> MtlsServerMetadata<'a> {
    /// Bound tokens on, both authentication methods offered, no aliases.
    pub const fn new() -> Self {
        Self {
            certificate_bound_access_tokens: true,
            aliases: MtlsEndpointAliases::new(),
            tls_client_auth: true,
            self_signed_tls_client_auth: true,
        }
    }

    /// Sets the endpoint aliases.
    pub const fn with_aliases(mut self, aliases: MtlsEndpointAliases<'a>) -> Self {
        self.aliases = aliases;
        self
    }

    /// The `token_endpoint_auth_methods_supported` entries to add, in order.
    pub fn auth_methods(&self) -> impl Iterator<Item = &'static str> {
        [
            (self.tls_client_auth, MTLS_AUTH_METHODS[0]),
            (self.self_signed_tls_client_auth, MTLS_AUTH_METHODS[1]),
        ]
        .into_iter()
        .filter_map(|(on, m)| on.then_some(m))
    }

    /// Writes the members (without braces) for merging into a metadata object:
    /// `"tls_client_certificate_bound_access_tokens":true,"mtls_endpoint_aliases":{…}`.
    /// `token_endpoint_auth_methods_supported` is left to the caller, which merges
    /// [`MtlsServerMetadata::auth_methods`] with its other methods.
    pub fn write_json_members(&self, out: &mut impl fmt::Write) -> fmt::Result {
        keybound_json::write_str(out, TLS_CLIENT_CERTIFICATE_BOUND_ACCESS_TOKENS)?;
        out.write_str(if self.certificate_bound_access_tokens {
            ":true"
        } else {
            ":false"
        })?;
        if !self.aliases.is_empty() {
            out.write_char(',')?;
            keybound_json::write_str(out, MTLS_ENDPOINT_ALIASES)?;
            out.write_char(':')?;
            self.aliases.write_json(out)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    struct Buf([u8; 512], usize);
    impl fmt::Write for Buf {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.1 + s.len();
            self.0
                .get_mut(self.1..end)
                .ok_or(fmt::Error)?
                .copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }

    #[test]
    fn writes_rfc8705_example_metadata() {
        let md = MtlsServerMetadata::new().with_aliases(
            MtlsEndpointAliases::new()
                .with_token_endpoint("https://mtls.example.com/token")
                .with_revocation_endpoint("https://mtls.example.com/revo")
                .with_introspection_endpoint("https://mtls.example.com/introspect"),
        );
        let mut b = Buf([0; 512], 0);
        md.write_json_members(&mut b).unwrap();
        assert_eq!(
            core::str::from_utf8(&b.0[..b.1]).unwrap(),
            r#""tls_client_certificate_bound_access_tokens":true,"mtls_endpoint_aliases":{"token_endpoint":"https://mtls.example.com/token","revocation_endpoint":"https://mtls.example.com/revo","introspection_endpoint":"https://mtls.example.com/introspect"}"#
        );
        assert!(
            md.auth_methods()
                .eq(["tls_client_auth", "self_signed_tls_client_auth"])
        );
    }
}
