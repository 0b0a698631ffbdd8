//! Real signed DPoP proofs checked under the policies derived from each profile, and the
//! advertised metadata checked against what those policies accept.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use common::{NOW, check, proof};
use keybound_dpop::{Algorithm, DpopError, Reason, RustCryptoVerifier, SignatureVerifier};
use keybound_profile::{Choices, Feature, Profile};

fn fapi_policy() -> keybound_dpop::Policy<'static> {
    Profile::FAPI2_BASELINE
        .resolve(&Choices::new())
        .unwrap()
        .dpop_policy()
        .unwrap()
}

#[test]
fn fapi_refuses_a_real_rs256_proof_with_reason_alg() {
    // The verifier can check RS256 (feature `rs256` is on), so the refusal is the profile's.
    assert!(RustCryptoVerifier.supports(Algorithm::Rs256));
    let p = proof(Algorithm::Rs256, NOW);
    let err = check(&p, &fapi_policy()).unwrap_err();
    assert_eq!(
        err,
        DpopError::AlgNotAllowed {
            alg: Algorithm::Rs256
        }
    );
    assert_eq!(err.reason(), Reason::Alg);
    assert_eq!(err.reason().as_str(), "alg");
    assert_eq!(err.wire_error(), "invalid_dpop_proof");

    // The same proof passes under plain RFC 9449, which allows RS256.
    let rfc = Profile::RFC9449
        .resolve(&Choices::new())
        .unwrap()
        .dpop_policy()
        .unwrap();
    assert!(check(&p, &rfc).is_ok());
}

#[test]
fn fapi_refuses_a_real_es384_proof_with_reason_alg() {
    let err = check(&proof(Algorithm::Es384, NOW), &fapi_policy()).unwrap_err();
    assert_eq!(err.reason(), Reason::Alg);
}

#[test]
fn fapi_accepts_a_proof_issued_10_seconds_in_the_future() {
    for alg in [Algorithm::Es256, Algorithm::Ps256, Algorithm::EdDsa] {
        let checked = check(&proof(alg, NOW + 10), &fapi_policy()).unwrap();
        assert_eq!(checked.iat(), i64::try_from(NOW + 10).unwrap());
    }
}

#[test]
fn fapi_rejects_a_proof_issued_61_seconds_in_the_future() {
    let err = check(&proof(Algorithm::Es256, NOW + 61), &fapi_policy()).unwrap_err();
    assert_eq!(err.reason(), Reason::Iat);
    assert!(matches!(err, DpopError::IatInFuture { .. }), "{err:?}");
}

#[test]
fn fapi_with_the_widest_leeway_still_rejects_61_seconds_in_the_future() {
    let policy = Profile::FAPI2_BASELINE
        .resolve(&Choices::new().with_leeway(60))
        .unwrap()
        .dpop_policy()
        .unwrap();
    assert!(check(&proof(Algorithm::Es256, NOW + 60), &policy).is_ok());
    let err = check(&proof(Algorithm::Es256, NOW + 61), &policy).unwrap_err();
    assert!(
        matches!(err, DpopError::IatInFuture { leeway: 60, .. }),
        "{err:?}"
    );
}

#[test]
fn fapi_accepts_a_proof_60_seconds_old_and_rejects_61() {
    assert!(check(&proof(Algorithm::Es256, NOW - 60), &fapi_policy()).is_ok());
    let err = check(&proof(Algorithm::Es256, NOW - 61), &fapi_policy()).unwrap_err();
    assert!(
        matches!(err, DpopError::IatTooOld { max_age: 60, .. }),
        "{err:?}"
    );
}

/// For every profile: each algorithm in `dpop_signing_alg_values_supported` verifies a real
/// proof under the derived policy, and each algorithm outside it is refused with `alg`.
#[test]
fn advertised_dpop_algs_are_exactly_the_algs_the_derived_policy_accepts() {
    for profile in Profile::ALL {
        let cfg = profile.resolve(&Choices::new()).unwrap();
        let advertised = cfg
            .metadata_with(&RustCryptoVerifier)
            .dpop_signing_alg_values_supported
            .expect("DPoP is on by default");
        let policy = cfg.dpop_policy().unwrap();
        for alg in Algorithm::ALL {
            let result = check(&proof(alg, NOW), &policy);
            if advertised.contains(alg) {
                assert!(
                    result.is_ok(),
                    "{profile}: advertised {alg} refused: {result:?}"
                );
            } else {
                let err = result.expect_err("non-advertised algorithm accepted");
                assert_eq!(err.reason(), Reason::Alg, "{profile} {alg}: {err:?}");
            }
        }
    }
}

/// A verifier without RS256 support: the RFC profile must not advertise RS256 then, and the
/// proof is refused with `alg` — advertised and accepted shrink together.
#[test]
fn advertised_algs_follow_the_verifier_not_only_the_profile() {
    struct NoRs256;
    impl SignatureVerifier for NoRs256 {
        fn supports(&self, alg: Algorithm) -> bool {
            alg != Algorithm::Rs256 && RustCryptoVerifier.supports(alg)
        }
        fn verify(
            &self,
            alg: Algorithm,
            key: &keybound_dpop::Jwk<'_>,
            msg: &[u8],
            sig: &[u8],
        ) -> Result<(), keybound_dpop::VerifyError> {
            RustCryptoVerifier.verify(alg, key, msg, sig)
        }
    }
    let cfg = Profile::RFC9449.resolve(&Choices::new()).unwrap();
    let advertised = cfg
        .metadata_with(&NoRs256)
        .dpop_signing_alg_values_supported
        .unwrap();
    assert!(!advertised.contains(Algorithm::Rs256));
    assert!(advertised.contains(Algorithm::Es384));
    let policy = cfg.dpop_policy().unwrap();
    let err = keybound_dpop::check_proof(
        &proof(Algorithm::Rs256, NOW),
        &keybound_dpop::Request::new(common::HTM, common::HTU),
        &policy,
        &NoRs256,
        NOW,
    )
    .unwrap_err();
    assert_eq!(err.reason(), Reason::Alg);
}

#[test]
fn mtls_only_configuration_advertises_no_dpop_algs() {
    let cfg = Profile::FAPI2_BASELINE
        .resolve(&Choices::new().enable(Feature::Mtls))
        .unwrap();
    assert_eq!(
        cfg.metadata_with(&RustCryptoVerifier)
            .dpop_signing_alg_values_supported,
        None
    );
}
