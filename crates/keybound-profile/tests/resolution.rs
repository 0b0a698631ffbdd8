//! Profile resolution: RequiredAnyOf defaults, required and forbidden features, caps, and the
//! DPoP parameters derived from the result.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_dpop::nonce::FixedNonce;
use keybound_dpop::{AlgSet, Algorithm, Policy};
use keybound_profile::{
    Choices, ClientKind, FAPI2_LEEWAY_MAX, FAPI2_LEEWAY_MIN, Feature, FeatureSet, PolicyError,
    Profile, RefreshTokenBinding, ResolveError,
};

fn resolve(profile: Profile, choices: Choices) -> keybound_profile::ResolvedConfig {
    profile.resolve(&choices).expect("resolves")
}

fn fapi_error(choices: Choices) -> ResolveError {
    Profile::FAPI2_BASELINE.resolve(&choices).unwrap_err()
}

// ---- RequiredAnyOf [DPoP, mTLS] -------------------------------------------------------------

#[test]
fn fapi_enables_dpop_by_default_when_neither_dpop_nor_mtls_is_chosen() {
    for profile in [Profile::FAPI2_BASELINE, Profile::FAPI2_MESSAGE_SIGNING] {
        let cfg = resolve(profile, Choices::new());
        assert!(cfg.is_enabled(Feature::Dpop), "{profile}");
        assert!(!cfg.is_enabled(Feature::Mtls), "{profile}");
        assert!(cfg.defaulted_features().contains(Feature::Dpop));
        assert!(cfg.dpop_policy().is_ok());
    }
}

#[test]
fn fapi_with_only_mtls_enabled_does_not_add_dpop() {
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().enable(Feature::Mtls),
    );
    assert!(cfg.is_enabled(Feature::Mtls));
    assert!(!cfg.is_enabled(Feature::Dpop));
    assert_eq!(
        cfg.dpop_policy().unwrap_err(),
        PolicyError::DpopDisabled {
            profile: "fapi2-baseline"
        }
    );
    assert!(!cfg.dpop_jkt_required(), "dpop_jkt only matters with DPoP");
}

#[test]
fn fapi_with_dpop_and_mtls_enabled_keeps_both() {
    let both = FeatureSet::parse_list("dpop,mtls").unwrap();
    let cfg = resolve(Profile::FAPI2_BASELINE, Choices::new().enable_all(both));
    assert!(cfg.is_enabled(Feature::Dpop));
    assert!(cfg.is_enabled(Feature::Mtls));
    assert!(cfg.defaulted_features().intersection(both).is_empty());
}

#[test]
fn fapi_disabling_dpop_without_enabling_mtls_fails_naming_rule_and_profile() {
    let err = fapi_error(Choices::new().disable(Feature::Dpop));
    let ResolveError::RequiredAnyOfUnsatisfied {
        profile,
        members,
        rule,
    } = err
    else {
        panic!("wrong variant: {err:?}");
    };
    assert_eq!(profile, "fapi2-baseline");
    assert_eq!(members, &[Feature::Dpop, Feature::Mtls]);
    assert_eq!(rule.id, "fapi2.sender-constrained-tokens");
    assert_eq!(err.profile(), "fapi2-baseline");
    assert_eq!(err.rule(), Some(rule));
    let msg = err.to_string();
    assert_eq!(
        msg,
        "profile fapi2-baseline requires one of dpop, mtls, but none was enabled and the default \
         was disabled, under rule fapi2.sender-constrained-tokens (FAPI 2.0 Security Profile \
         §5.3.2.1 items 4-5: only sender-constrained access tokens, via MTLS or DPoP)"
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn fapi_accepts_disabling_dpop_when_mtls_is_enabled() {
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().enable(Feature::Mtls).disable(Feature::Dpop),
    );
    assert!(!cfg.is_enabled(Feature::Dpop));
    assert!(cfg.is_enabled(Feature::Mtls));
}

#[test]
fn rfc9449_profile_also_needs_one_sender_constraint() {
    let err = Profile::RFC9449
        .resolve(&Choices::new().disable(Feature::Dpop))
        .unwrap_err();
    assert!(matches!(
        err,
        ResolveError::RequiredAnyOfUnsatisfied {
            profile: "rfc9449",
            ..
        }
    ));
}

// ---- required and forbidden features ------------------------------------------------------

#[test]
fn fapi_refuses_disabling_par_naming_the_rule() {
    let err = fapi_error(Choices::new().disable(Feature::Par));
    assert!(
        matches!(
            err,
            ResolveError::RequiredFeatureDisabled {
                profile: "fapi2-baseline",
                feature: Feature::Par,
                rule,
            } if rule.id == "fapi2.par-required"
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("§5.3.2.2 items 2-3"));
}

#[test]
fn fapi_refuses_disabling_pkce() {
    let err = Profile::FAPI2_MESSAGE_SIGNING
        .resolve(&Choices::new().disable(Feature::PkceS256))
        .unwrap_err();
    assert!(matches!(
        err,
        ResolveError::RequiredFeatureDisabled {
            profile: "fapi2-message-signing",
            feature: Feature::PkceS256,
            ..
        }
    ));
}

#[test]
fn fapi_refuses_public_clients_and_client_secrets() {
    let err = fapi_error(Choices::new().enable(Feature::PublicClients));
    assert!(
        matches!(err, ResolveError::ForbiddenFeatureEnabled { feature: Feature::PublicClients, rule, .. } if rule.id == "fapi2.confidential-clients-only")
    );
    let err = fapi_error(Choices::new().enable(Feature::ClientSecret));
    assert!(
        matches!(err, ResolveError::ForbiddenFeatureEnabled { feature: Feature::ClientSecret, rule, .. } if rule.id == "fapi2.client-authentication")
    );
    assert_eq!(
        err.to_string(),
        "profile fapi2-baseline forbids enabling client-secret under rule \
         fapi2.client-authentication (FAPI 2.0 Security Profile §5.3.2.1 item 6: clients \
         authenticate with MTLS or private_key_jwt)"
    );
}

#[test]
fn rfc9449_allows_public_clients_and_client_secrets() {
    let cfg = resolve(
        Profile::RFC9449,
        Choices::new()
            .enable(Feature::PublicClients)
            .enable(Feature::ClientSecret),
    );
    assert!(cfg.is_enabled(Feature::PublicClients));
}

#[test]
fn contradictory_explicit_choice_is_rejected() {
    let err = fapi_error(Choices::new().enable(Feature::Mtls).disable(Feature::Mtls));
    assert_eq!(
        err,
        ResolveError::Contradiction {
            profile: "fapi2-baseline",
            feature: Feature::Mtls
        }
    );
    assert_eq!(err.rule(), None);
}

#[test]
fn fapi_client_authentication_defaults_to_private_key_jwt_unless_mtls_auth_is_chosen() {
    let cfg = resolve(Profile::FAPI2_BASELINE, Choices::new());
    assert!(cfg.is_enabled(Feature::PrivateKeyJwt));
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().enable(Feature::TlsClientAuth),
    );
    assert!(!cfg.is_enabled(Feature::PrivateKeyJwt));
    assert!(cfg.is_enabled(Feature::TlsClientAuth));
}

#[test]
fn message_signing_defaults_to_signed_request_objects() {
    let cfg = resolve(Profile::FAPI2_MESSAGE_SIGNING, Choices::new());
    assert!(cfg.is_enabled(Feature::Jar));
    assert!(!cfg.is_enabled(Feature::Jarm));
    let cfg = resolve(
        Profile::FAPI2_MESSAGE_SIGNING,
        Choices::new().enable(Feature::Jarm),
    );
    assert!(cfg.is_enabled(Feature::Jarm));
    assert!(!cfg.is_enabled(Feature::Jar), "JARM satisfies the group");
    let err = Profile::FAPI2_MESSAGE_SIGNING
        .resolve(&Choices::new().disable(Feature::Jar))
        .unwrap_err();
    assert!(
        matches!(err, ResolveError::RequiredAnyOfUnsatisfied { rule, .. } if rule.id == "fapi2-ms.signed-messages")
    );
}

#[test]
fn baseline_does_not_turn_on_message_signing_features() {
    let cfg = resolve(Profile::FAPI2_BASELINE, Choices::new());
    assert_eq!(
        cfg.features(),
        FeatureSet::of(&[
            Feature::Dpop,
            Feature::Par,
            Feature::PkceS256,
            Feature::PrivateKeyJwt
        ])
    );
}

// ---- DPoP parameters ----------------------------------------------------------------------

#[test]
fn fapi_policy_is_ps256_es256_eddsa_with_60s_max_age_and_10s_leeway() {
    let cfg = resolve(Profile::FAPI2_BASELINE, Choices::new());
    let policy = cfg.dpop_policy().unwrap();
    assert_eq!(policy.algs, AlgSet::FAPI2);
    assert!(!policy.algs.contains(Algorithm::Rs256));
    assert!(!policy.algs.contains(Algorithm::Es384));
    assert_eq!(policy.max_age, 60);
    assert_eq!(policy.leeway, 10);
    assert_eq!(policy.min_rsa_bits, 2048);
    assert!(policy.nonce.is_none());
    assert_eq!(cfg.min_ec_bits(), Some(256));
    assert_eq!(cfg.replay_window(), 70);
    // The same numbers as keybound-dpop's own FAPI preset.
    let preset = Policy::fapi2();
    assert_eq!(
        (
            preset.algs,
            preset.max_age,
            preset.leeway,
            preset.min_rsa_bits
        ),
        (
            policy.algs,
            policy.max_age,
            policy.leeway,
            policy.min_rsa_bits
        )
    );
}

#[test]
fn rfc9449_policy_keeps_rfc_defaults() {
    let cfg = resolve(Profile::RFC9449, Choices::new());
    assert!(cfg.is_enabled(Feature::Dpop));
    let policy = cfg.dpop_policy().unwrap();
    assert_eq!(policy.algs, AlgSet::ALL);
    assert_eq!(policy.max_age, keybound_dpop::DEFAULT_MAX_AGE);
    assert_eq!(policy.leeway, keybound_dpop::DEFAULT_LEEWAY);
    assert!(!cfg.dpop_jkt_required());
    assert!(!cfg.require_pushed_authorization_requests());
}

#[test]
fn fapi_refuses_rs256_and_es384_in_an_explicit_allow_list() {
    for alg in [Algorithm::Rs256, Algorithm::Es384] {
        let err = fapi_error(Choices::new().with_algs(AlgSet::FAPI2.with(alg)));
        assert!(
            matches!(err, ResolveError::AlgNotPermitted { profile: "fapi2-baseline", alg: a, rule } if a == alg && rule.id == "fapi2.jws-algs"),
            "{err:?}"
        );
    }
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().with_algs(AlgSet::EMPTY.with(Algorithm::Es256)),
    );
    assert_eq!(cfg.dpop_algs(), AlgSet::EMPTY.with(Algorithm::Es256));
    assert_eq!(
        fapi_error(Choices::new().with_algs(AlgSet::EMPTY)),
        ResolveError::NoAlgorithms {
            profile: "fapi2-baseline"
        }
    );
}

#[test]
fn fapi_leeway_must_stay_between_10_and_60_seconds() {
    for ok in [FAPI2_LEEWAY_MIN, 30, FAPI2_LEEWAY_MAX] {
        assert_eq!(
            resolve(Profile::FAPI2_BASELINE, Choices::new().with_leeway(ok)).leeway(),
            ok
        );
    }
    for bad in [0, 9, 61] {
        let err = fapi_error(Choices::new().with_leeway(bad));
        assert!(
            matches!(err, ResolveError::LeewayOutOfRange { leeway, min: 10, max: 60, rule, .. } if leeway == bad && rule.id == "fapi2.clock-skew"),
            "{err:?}"
        );
    }
}

#[test]
fn rsa_floor_can_be_raised_but_not_lowered() {
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().with_min_rsa_bits(3072),
    );
    assert_eq!(cfg.dpop_policy().unwrap().min_rsa_bits, 3072);
    for profile in Profile::ALL {
        let err = profile
            .resolve(&Choices::new().with_min_rsa_bits(1024))
            .unwrap_err();
        assert!(
            matches!(
                err,
                ResolveError::RsaBitsBelowMinimum {
                    bits: 1024,
                    min: 2048,
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[test]
fn fapi_requires_honouring_dpop_jkt_when_dpop_is_enabled() {
    assert!(resolve(Profile::FAPI2_BASELINE, Choices::new()).dpop_jkt_required());
    let err = fapi_error(Choices::new().with_dpop_jkt(false));
    assert!(
        matches!(err, ResolveError::DpopJktRequired { profile: "fapi2-baseline", rule } if rule.id == "fapi2.dpop-code-binding")
    );
    // Plain RFC 9449: optional, off unless chosen.
    assert!(resolve(Profile::RFC9449, Choices::new().with_dpop_jkt(true)).dpop_jkt_required());
}

#[test]
fn dpop_setting_without_dpop_is_rejected() {
    let err = fapi_error(
        Choices::new()
            .enable(Feature::Mtls)
            .disable(Feature::Dpop)
            .with_nonce_required(true),
    );
    assert_eq!(
        err,
        ResolveError::SettingNeedsDpop {
            profile: "fapi2-baseline",
            setting: "nonce_required"
        }
    );
}

#[test]
fn nonce_is_optional_in_every_profile_including_message_signing() {
    for profile in Profile::ALL {
        let cfg = resolve(profile, Choices::new());
        assert!(!cfg.nonce_required(), "{profile}");
        assert!(cfg.dpop_policy().unwrap().nonce.is_none());

        let cfg = resolve(profile, Choices::new().with_nonce_required(true));
        assert!(cfg.nonce_required());
        assert_eq!(
            cfg.dpop_policy().unwrap_err(),
            PolicyError::NonceSourceRequired {
                profile: profile.name()
            }
        );
        let source = FixedNonce("eyJ7S_zG.eyJH0-Z.HX4w-7v");
        assert!(cfg.dpop_policy_with_nonce(&source).unwrap().nonce.is_some());
    }
}

#[test]
fn refresh_tokens_of_public_clients_are_key_bound_and_confidential_ones_switchable() {
    let cfg = resolve(Profile::RFC9449, Choices::new());
    assert_eq!(
        cfg.refresh_token_binding(ClientKind::Public),
        RefreshTokenBinding::Key
    );
    assert_eq!(
        cfg.refresh_token_binding(ClientKind::Confidential),
        RefreshTokenBinding::ClientAuthentication
    );
    let cfg = resolve(
        Profile::FAPI2_BASELINE,
        Choices::new().with_confidential_refresh_binding(true),
    );
    assert_eq!(
        cfg.refresh_token_binding(ClientKind::Confidential),
        RefreshTokenBinding::Key
    );
}

#[test]
fn resolution_is_a_pure_function_of_its_inputs() {
    let choices = Choices::new()
        .enable(Feature::Mtls)
        .enable(Feature::Dpop)
        .with_leeway(30);
    let a = Profile::FAPI2_MESSAGE_SIGNING.resolve(&choices);
    let b = Profile::FAPI2_MESSAGE_SIGNING.resolve(&choices);
    assert_eq!(a, b);
    assert_eq!(a.unwrap().profile(), &Profile::FAPI2_MESSAGE_SIGNING);
}

#[test]
fn profiles_are_listed_and_found_by_name() {
    assert_eq!(
        Profile::NAMES,
        ["rfc9449", "fapi2-baseline", "fapi2-message-signing"]
    );
    for name in Profile::NAMES {
        assert_eq!(Profile::from_name(name).unwrap().name(), name);
    }
    assert!(Profile::from_name("fapi1-advanced").is_none());
}

#[test]
fn only_fapi_profiles_require_every_token_to_be_sender_constrained() {
    let rfc = Profile::RFC9449.resolve(&Choices::new()).unwrap();
    assert!(!rfc.sender_constrained_tokens_required());
    assert_eq!(Profile::RFC9449.sender_constrained_only(), None);
    for p in [Profile::FAPI2_BASELINE, Profile::FAPI2_MESSAGE_SIGNING] {
        let resolved = p.resolve(&Choices::new()).unwrap();
        assert!(
            resolved.sender_constrained_tokens_required(),
            "{}",
            p.name()
        );
        assert_eq!(
            p.sender_constrained_only().map(|r| r.id),
            Some("fapi2.sender-constrained-tokens")
        );
    }
}

#[test]
fn base_policy_carries_the_resolved_dpop_parameters() {
    let resolved = Profile::FAPI2_BASELINE.resolve(&Choices::new()).unwrap();
    let policy = resolved.dpop_base_policy();
    assert_eq!(policy.algs, resolved.dpop_algs());
    assert_eq!(policy.max_age, resolved.max_age());
    assert_eq!(policy.leeway, resolved.leeway());
    assert_eq!(policy.min_rsa_bits, resolved.min_rsa_bits());
    assert!(policy.nonce.is_none());
}
