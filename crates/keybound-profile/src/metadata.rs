//! Authorization server discovery metadata (RFC 8414 §2) derived from a [`ResolvedConfig`],
//! and the JSON writers (`profile show`).
//!
//! `dpop_signing_alg_values_supported` comes from [`keybound_dpop::signing_alg_values_supported`]
//! over the same allow-list the derived [`keybound_dpop::Policy`] enforces, filtered by what
//! the verifier can check; the mutual-TLS members come from [`keybound_mtls::metadata`]. So
//! what is advertised is what is accepted.

use core::fmt;

use keybound_dpop::{AlgSet, DefaultVerifier, SignatureVerifier};
use keybound_mtls::metadata::{MtlsEndpointAliases, MtlsServerMetadata};

use crate::feature::{Feature, FeatureSet};
use crate::resolve::{ClientKind, ResolvedConfig};

/// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
pub const DPOP_SIGNING_ALG_VALUES_SUPPORTED: &str = "dpop_signing_alg_values_supported";
/// `require_pushed_authorization_requests` (RFC 9126 §5).
pub const REQUIRE_PUSHED_AUTHORIZATION_REQUESTS: &str = "require_pushed_authorization_requests";
/// `code_challenge_methods_supported` (RFC 8414 §2, RFC 7636).
pub const CODE_CHALLENGE_METHODS_SUPPORTED: &str = "code_challenge_methods_supported";
/// `require_signed_request_object` (RFC 9101 §10.5).
pub const REQUIRE_SIGNED_REQUEST_OBJECT: &str = "require_signed_request_object";
/// `response_modes_supported` (RFC 8414 §2; `jwt` from JARM §3).
pub const RESPONSE_MODES_SUPPORTED: &str = "response_modes_supported";

/// The discovery metadata members a profile determines (RFC 8414 §2 names). Endpoint URLs,
/// `issuer` and the rest stay with the host, which merges these members into its document.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metadata<'a> {
    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1): present when DPoP is enabled.
    pub dpop_signing_alg_values_supported: Option<AlgSet>,
    /// `tls_client_certificate_bound_access_tokens` and `mtls_endpoint_aliases`
    /// (RFC 8705 §3.3, §5): present when mutual TLS is used for binding or authentication.
    pub mtls: Option<MtlsServerMetadata<'a>>,
    /// Client authentication features behind `token_endpoint_auth_methods_supported`.
    pub token_endpoint_auth_methods: FeatureSet,
    /// `require_pushed_authorization_requests` (RFC 9126 §5).
    pub require_pushed_authorization_requests: bool,
    /// `code_challenge_methods_supported: ["S256"]` (RFC 7636 §4.2).
    pub pkce_s256: bool,
    /// `require_signed_request_object` (RFC 9101 §10.5).
    pub require_signed_request_object: bool,
    /// `response_modes_supported: ["jwt"]` (JARM §3).
    pub jarm: bool,
}

impl<'a> Metadata<'a> {
    /// With these mutual-TLS endpoint aliases (RFC 8705 §5). They only apply when mutual TLS
    /// is in use; otherwise the metadata is returned unchanged.
    #[must_use]
    pub fn with_mtls_endpoint_aliases(mut self, aliases: MtlsEndpointAliases<'a>) -> Self {
        self.mtls = self.mtls.map(|m| m.with_aliases(aliases));
        self
    }

    /// The `token_endpoint_auth_methods_supported` values, in a fixed order.
    pub fn token_endpoint_auth_methods_supported(&self) -> impl Iterator<Item = &'static str> {
        self.token_endpoint_auth_methods
            .iter()
            .flat_map(|f| f.token_endpoint_auth_methods().iter().copied())
    }

    /// Writes the metadata as one JSON object with the standard discovery names; members the
    /// configuration does not determine are omitted.
    pub fn write_json(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut obj = ObjectWriter::new(out)?;
        if let Some(algs) = self.dpop_signing_alg_values_supported {
            obj.key(DPOP_SIGNING_ALG_VALUES_SUPPORTED)?;
            keybound_dpop::write_signing_alg_values_json(algs, obj.out)?;
        }
        if let Some(mtls) = &self.mtls {
            obj.raw_members(|out| mtls.write_json_members(out))?;
        }
        if !self.token_endpoint_auth_methods.is_empty() {
            obj.key(keybound_mtls::metadata::TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED)?;
            write_str_array(obj.out, self.token_endpoint_auth_methods_supported())?;
        }
        if self.require_pushed_authorization_requests {
            obj.key(REQUIRE_PUSHED_AUTHORIZATION_REQUESTS)?;
            obj.out.write_str("true")?;
        }
        if self.pkce_s256 {
            obj.key(CODE_CHALLENGE_METHODS_SUPPORTED)?;
            write_str_array(obj.out, ["S256"].into_iter())?;
        }
        if self.require_signed_request_object {
            obj.key(REQUIRE_SIGNED_REQUEST_OBJECT)?;
            obj.out.write_str("true")?;
        }
        if self.jarm {
            obj.key(RESPONSE_MODES_SUPPORTED)?;
            write_str_array(obj.out, ["jwt"].into_iter())?;
        }
        obj.end()
    }

    /// [`Metadata::write_json`] into a `String`.
    #[cfg(feature = "alloc")]
    pub fn to_json(&self) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        // Writing into a String cannot fail.
        let _ = self.write_json(&mut s);
        s
    }
}

const CLIENT_AUTH_FEATURES: FeatureSet = FeatureSet::of(&[
    Feature::PrivateKeyJwt,
    Feature::TlsClientAuth,
    Feature::SelfSignedTlsClientAuth,
    Feature::ClientSecret,
    Feature::PublicClients,
]);

impl ResolvedConfig {
    /// Discovery metadata with the fastest verifier compiled in ([`DefaultVerifier`]).
    pub fn metadata(&self) -> Metadata<'static> {
        self.metadata_with(&DefaultVerifier::default())
    }

    /// Discovery metadata; `dpop_signing_alg_values_supported` is the policy allow-list
    /// filtered by what `verifier` supports (RFC 9449 §5.1).
    pub fn metadata_with<V: SignatureVerifier + ?Sized>(&self, verifier: &V) -> Metadata<'static> {
        let f = self.features();
        let mtls_in_use = f.contains(Feature::Mtls)
            || f.contains(Feature::TlsClientAuth)
            || f.contains(Feature::SelfSignedTlsClientAuth);
        let mtls = mtls_in_use.then(|| {
            let mut m = MtlsServerMetadata::new();
            m.certificate_bound_access_tokens = f.contains(Feature::Mtls);
            m.tls_client_auth = f.contains(Feature::TlsClientAuth);
            m.self_signed_tls_client_auth = f.contains(Feature::SelfSignedTlsClientAuth);
            m
        });
        Metadata {
            dpop_signing_alg_values_supported: f
                .contains(Feature::Dpop)
                .then(|| keybound_dpop::signing_alg_values_supported(self.dpop_algs(), verifier)),
            mtls,
            token_endpoint_auth_methods: f.intersection(CLIENT_AUTH_FEATURES),
            require_pushed_authorization_requests: self.require_pushed_authorization_requests(),
            pkce_s256: f.contains(Feature::PkceS256),
            require_signed_request_object: f.contains(Feature::Jar),
            jarm: f.contains(Feature::Jarm),
        }
    }

    /// Writes the `profile show` object:
    /// `{"profile":…,"features":[…],"dpop":{…}|null,"metadata":{…}}`.
    pub fn write_json<V: SignatureVerifier + ?Sized>(
        &self,
        out: &mut impl fmt::Write,
        verifier: &V,
    ) -> fmt::Result {
        let mut obj = ObjectWriter::new(out)?;
        obj.key("profile")?;
        keybound_json::write_str(obj.out, self.profile().name())?;
        obj.key("features")?;
        write_str_array(obj.out, self.features().iter().map(Feature::name))?;
        obj.key("dpop")?;
        if self.is_enabled(Feature::Dpop) {
            self.write_dpop_json(obj.out, verifier)?;
        } else {
            obj.out.write_str("null")?;
        }
        obj.key("metadata")?;
        self.metadata_with(verifier).write_json(obj.out)?;
        obj.end()
    }

    fn write_dpop_json<V: SignatureVerifier + ?Sized>(
        &self,
        out: &mut impl fmt::Write,
        verifier: &V,
    ) -> fmt::Result {
        let mut obj = ObjectWriter::new(out)?;
        obj.key("algs")?;
        keybound_dpop::write_signing_alg_values_json(
            keybound_dpop::signing_alg_values_supported(self.dpop_algs(), verifier),
            obj.out,
        )?;
        obj.key("max_age")?;
        write!(obj.out, "{}", self.max_age())?;
        obj.key("leeway")?;
        write!(obj.out, "{}", self.leeway())?;
        obj.key("replay_window")?;
        write!(obj.out, "{}", self.replay_window())?;
        obj.key("min_rsa_bits")?;
        write!(obj.out, "{}", self.min_rsa_bits())?;
        obj.key("min_ec_bits")?;
        match self.min_ec_bits() {
            Some(bits) => write!(obj.out, "{bits}")?,
            None => obj.out.write_str("null")?,
        }
        obj.key("nonce_required")?;
        write_bool(obj.out, self.nonce_required())?;
        obj.key("dpop_jkt_required")?;
        write_bool(obj.out, self.dpop_jkt_required())?;
        obj.key("refresh_token_binding")?;
        let mut rt = ObjectWriter::new(obj.out)?;
        rt.key("public")?;
        keybound_json::write_str(
            rt.out,
            self.refresh_token_binding(ClientKind::Public).as_str(),
        )?;
        rt.key("confidential")?;
        keybound_json::write_str(
            rt.out,
            self.refresh_token_binding(ClientKind::Confidential)
                .as_str(),
        )?;
        rt.end()?;
        obj.end()
    }

    /// The `profile show` JSON object with the [`DefaultVerifier`].
    #[cfg(feature = "alloc")]
    pub fn to_json(&self) -> alloc::string::String {
        self.to_json_with(&DefaultVerifier::default())
    }

    /// The `profile show` JSON object with `verifier` deciding which algorithms are advertised.
    #[cfg(feature = "alloc")]
    pub fn to_json_with<V: SignatureVerifier + ?Sized>(
        &self,
        verifier: &V,
    ) -> alloc::string::String {
        let mut s = alloc::string::String::new();
        // Writing into a String cannot fail.
        let _ = self.write_json(&mut s, verifier);
        s
    }
}

/// Writes `{`, then members separated by commas, then `}`.
struct ObjectWriter<'o, W: fmt::Write> {
    out: &'o mut W,
    first: bool,
}

impl<'o, W: fmt::Write> ObjectWriter<'o, W> {
    fn new(out: &'o mut W) -> Result<Self, fmt::Error> {
        out.write_char('{')?;
        Ok(ObjectWriter { out, first: true })
    }

    fn separator(&mut self) -> fmt::Result {
        if self.first {
            self.first = false;
            Ok(())
        } else {
            self.out.write_char(',')
        }
    }

    fn key(&mut self, name: &str) -> fmt::Result {
        self.separator()?;
        keybound_json::write_str(self.out, name)?;
        self.out.write_char(':')
    }

    fn raw_members(&mut self, write: impl FnOnce(&mut W) -> fmt::Result) -> fmt::Result {
        self.separator()?;
        write(self.out)
    }

    fn end(self) -> fmt::Result {
        self.out.write_char('}')
    }
}

fn write_str_array<'s>(
    out: &mut impl fmt::Write,
    items: impl Iterator<Item = &'s str>,
) -> fmt::Result {
    out.write_char('[')?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        keybound_json::write_str(out, item)?;
    }
    out.write_char(']')
}

fn write_bool(out: &mut impl fmt::Write, value: bool) -> fmt::Result {
    out.write_str(if value { "true" } else { "false" })
}
