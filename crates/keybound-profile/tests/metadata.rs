//! Discovery metadata and the `profile show` JSON object.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_dpop::RustCryptoVerifier;
use keybound_json::{Object, Value};
use keybound_mtls::metadata::{MtlsEndpointAliases, MtlsServerMetadata};
use keybound_profile::{Choices, Feature, FeatureSet, Metadata, Profile, ResolvedConfig};

fn json(cfg: &ResolvedConfig) -> String {
    let mut s = String::new();
    cfg.write_json(&mut s, &RustCryptoVerifier).unwrap();
    s
}

fn metadata_json(md: &Metadata<'_>) -> String {
    let mut s = String::new();
    md.write_json(&mut s).unwrap();
    s
}

fn show(profile: &str, enable: &str) -> String {
    json(
        &Profile::from_name(profile)
            .unwrap()
            .resolve(&Choices::new().enable_all(FeatureSet::parse_list(enable).unwrap()))
            .unwrap(),
    )
}

#[test]
fn profile_show_fapi2_baseline_prints_the_resolved_policy_and_metadata() {
    assert_eq!(
        show("fapi2-baseline", ""),
        concat!(
            r#"{"profile":"fapi2-baseline","features":["dpop","par","pkce-s256","private-key-jwt"],"#,
            r#""dpop":{"algs":["ES256","PS256","EdDSA","Ed25519"],"max_age":60,"leeway":10,"#,
            r#""replay_window":70,"min_rsa_bits":2048,"min_ec_bits":256,"nonce_required":false,"#,
            r#""dpop_jkt_required":true,"refresh_token_binding":{"public":"key","confidential":"client_authentication"}},"#,
            r#""metadata":{"dpop_signing_alg_values_supported":["ES256","PS256","EdDSA","Ed25519"],"#,
            r#""token_endpoint_auth_methods_supported":["private_key_jwt"],"#,
            r#""require_pushed_authorization_requests":true,"code_challenge_methods_supported":["S256"]}}"#
        )
    );
}

#[test]
fn profile_show_with_dpop_and_mtls_advertises_both_mechanisms() {
    let json = show("fapi2-baseline", "dpop,mtls");
    let obj = Object::parse(json.as_bytes()).unwrap();
    let md = obj.get("metadata").and_then(|v| v.as_object()).unwrap();
    assert_eq!(
        md.get("tls_client_certificate_bound_access_tokens")
            .and_then(|v| v.as_bool()),
        Some(true)
    );
    assert!(md.get("dpop_signing_alg_values_supported").is_some());
    let features = match obj.get("features") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|v| v.as_str())
            .map(|s| s.raw())
            .collect::<Vec<_>>(),
        _ => panic!("features is not an array"),
    };
    assert_eq!(
        features,
        ["dpop", "mtls", "par", "pkce-s256", "private-key-jwt"]
    );
}

#[test]
fn profile_show_with_mtls_only_has_null_dpop_and_no_dpop_metadata() {
    let json = show("fapi2-baseline", "mtls,tls-client-auth");
    let obj = Object::parse(json.as_bytes()).unwrap();
    assert!(matches!(obj.get("dpop"), Some(Value::Null)));
    let md = obj.get("metadata").and_then(|v| v.as_object()).unwrap();
    assert!(md.get("dpop_signing_alg_values_supported").is_none());
    assert!(json.contains(r#""token_endpoint_auth_methods_supported":["tls_client_auth"]"#));
}

#[test]
fn every_profile_and_feature_combination_prints_strict_json() {
    for profile in Profile::ALL {
        for feature in Feature::ALL {
            let Ok(cfg) = profile.resolve(&Choices::new().enable(feature)) else {
                continue;
            };
            let json = json(&cfg);
            let obj = Object::parse(json.as_bytes())
                .unwrap_or_else(|e| panic!("{profile} +{feature}: {e}: {json}"));
            for member in ["profile", "features", "dpop", "metadata"] {
                assert!(obj.get(member).is_some(), "{member} missing in {json}");
            }
            assert_eq!(obj.len(), 4);
        }
    }
}

#[test]
fn message_signing_metadata_requires_signed_request_objects() {
    let json = show("fapi2-message-signing", "");
    assert!(json.contains(r#""require_signed_request_object":true"#));
    let json = show("fapi2-message-signing", "jarm");
    assert!(!json.contains("require_signed_request_object"));
    assert!(json.contains(r#""response_modes_supported":["jwt"]"#));
}

#[test]
fn par_is_advertised_as_required_only_where_the_profile_requires_it() {
    assert!(!show("rfc9449", "").contains("require_pushed_authorization_requests"));
    assert!(show("rfc9449", "par").contains(r#""require_pushed_authorization_requests":true"#));
    assert!(show("fapi2-baseline", "").contains(r#""require_pushed_authorization_requests":true"#));
}

#[test]
fn mtls_members_and_auth_methods_come_from_the_mtls_helpers() {
    let cfg = Profile::FAPI2_BASELINE
        .resolve(
            &Choices::new()
                .enable(Feature::Mtls)
                .enable(Feature::TlsClientAuth)
                .enable(Feature::SelfSignedTlsClientAuth)
                .enable(Feature::PrivateKeyJwt),
        )
        .unwrap();
    let aliases = MtlsEndpointAliases::new().with_token_endpoint("https://mtls.example.com/token");
    let md = cfg
        .metadata_with(&RustCryptoVerifier)
        .with_mtls_endpoint_aliases(aliases);
    let mtls = md.mtls.unwrap();
    assert!(mtls.certificate_bound_access_tokens);
    assert_eq!(mtls.aliases, aliases);
    let methods: Vec<_> = md.token_endpoint_auth_methods_supported().collect();
    assert_eq!(
        methods,
        [
            "private_key_jwt",
            "tls_client_auth",
            "self_signed_tls_client_auth"
        ]
    );
    assert!(
        MtlsServerMetadata::new()
            .auth_methods()
            .all(|m| methods.contains(&m))
    );
    let json = metadata_json(&md);
    assert!(json.contains(
        r#""mtls_endpoint_aliases":{"token_endpoint":"https://mtls.example.com/token"}"#
    ));
}

#[test]
fn mtls_endpoint_aliases_are_ignored_without_mutual_tls() {
    let cfg = Profile::FAPI2_BASELINE.resolve(&Choices::new()).unwrap();
    let md = cfg
        .metadata_with(&RustCryptoVerifier)
        .with_mtls_endpoint_aliases(
            MtlsEndpointAliases::new().with_token_endpoint("https://mtls.example.com/token"),
        );
    assert!(md.mtls.is_none());
    assert!(!metadata_json(&md).contains("mtls"));
}

#[test]
fn rfc9449_metadata_advertises_public_clients_as_auth_method_none() {
    let json = show("rfc9449", "public-clients,client-secret");
    assert!(json.contains(
        r#""token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post","none"]"#
    ));
}

#[cfg(feature = "alloc")]
#[test]
fn to_json_conveniences_equal_the_writers() {
    let cfg = Profile::FAPI2_BASELINE
        .resolve(&Choices::new().enable(Feature::Mtls))
        .unwrap();
    assert_eq!(cfg.to_json_with(&RustCryptoVerifier), json(&cfg));
    let md = cfg.metadata_with(&RustCryptoVerifier);
    assert_eq!(md.to_json(), metadata_json(&md));
    // The default verifier is whichever backend is compiled in; the shape is the same.
    assert!(cfg.to_json().starts_with(r#"{"profile":"fapi2-baseline","#));
}
