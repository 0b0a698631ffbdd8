//! Authorization-server scenarios with real proofs and certificates: PAR `dpop_jkt`, token
//! endpoint two-phase checks, refresh-token binding (RFC 9449 §5), FAPI proof of possession.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound::authz::{
    AsConfig, AsError, AuthorizationServer, ClientKind, Grant, TokenRequest, TokenType,
    parse_dpop_jkt,
};
use keybound::cnf::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, DpopError, ProofParams, SigningKey};
use keybound::profile::{Choices, Feature, Profile};
use keybound::rs::ClientCert;

const NOW: u64 = 1_700_000_000;
const PAR: &str = "https://as.example.com/par";
const TOKEN_EP: &str = "https://as.example.com/token";

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate_os_rng(alg).unwrap()
}

fn proof(key: &SigningKey, htu: &str) -> String {
    key.sign_proof_os_rng(&ProofParams::new("POST", htu, NOW))
        .unwrap()
}

fn server() -> AuthorizationServer<'static> {
    AuthorizationServer::new(AsConfig::new(MemoryReplayStore::new(1024)))
}

fn cert() -> Vec<u8> {
    rcgen::generate_simple_self_signed(vec!["client.example".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec()
}

fn token(
    server: &AuthorizationServer<'_>,
    client: ClientKind,
    grant: Grant,
    proof: Option<&str>,
    cert: Option<&[u8]>,
) -> Result<keybound::authz::TokenBinding, keybound::authz::AsRejection> {
    let dpop: Vec<&[u8]> = proof.iter().map(|p| p.as_bytes()).collect();
    let mut req = TokenRequest::new(TOKEN_EP, client, grant).with_dpop(&dpop);
    if let Some(c) = cert {
        req = req.with_client_cert(ClientCert::Der(c));
    }
    let pending = server.check_token_request(&req, NOW)?;
    // (the host authenticates the client here)
    pending.commit(server)
}

// ---------------------------------------------------------------------------------------
// PAR and dpop_jkt

#[test]
fn par_with_dpop_jkt_then_token_request_with_another_key_fails() {
    let server = server();
    let client = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    let jkt_param = client.thumbprint().to_string();
    let jkt = server
        .par_binding("POST", PAR, &[], Some(&jkt_param), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(jkt, client.thumbprint());
    let grant = Grant::AuthorizationCode {
        dpop_jkt: Some(jkt),
    };

    let rej = token(
        &server,
        ClientKind::Public,
        grant,
        Some(&proof(&thief, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.status(), 400);
    assert_eq!(rej.error(), "invalid_dpop_proof");
    assert_eq!(rej.reason(), "key_binding");
    assert_eq!(rej.kind(), &AsError::Dpop(DpopError::KeyBindingMismatch));

    let rej = token(&server, ClientKind::Public, grant, None, None).unwrap_err();
    assert_eq!(rej.kind(), &AsError::Dpop(DpopError::MissingProof));

    let ok = token(
        &server,
        ClientKind::Public,
        grant,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(ok.token_type(), TokenType::Dpop);
    assert_eq!(ok.cnf().jkt(), Some(&client.thumbprint()));
    assert_eq!(ok.cnf().x5t_s256(), None);
}

#[test]
fn par_records_the_proof_key_and_checks_it_against_dpop_jkt() {
    let server = server();
    let client = key(Algorithm::EdDsa);
    let other = key(Algorithm::Es256);
    let p = proof(&client, PAR);
    let jkt = server
        .par_binding("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap();
    assert_eq!(jkt, Some(client.thumbprint()));

    let both = client.thumbprint().to_string();
    let p = proof(&client, PAR);
    let jkt = server
        .par_binding("POST", PAR, &[p.as_bytes()], Some(&both), NOW)
        .unwrap();
    assert_eq!(jkt, Some(client.thumbprint()));

    let mismatch = other.thumbprint().to_string();
    let p = proof(&client, PAR);
    let rej = server
        .par_binding("POST", PAR, &[p.as_bytes()], Some(&mismatch), NOW)
        .unwrap_err();
    assert_eq!(rej.reason(), "key_binding");

    let rej = server
        .par_binding("POST", PAR, &[], Some("not-a-thumbprint"), NOW)
        .unwrap_err();
    assert_eq!(rej.error(), "invalid_request");
    assert_eq!(rej.reason(), "dpop_jkt");
    assert!(parse_dpop_jkt(&both).is_ok());
    assert_eq!(server.authorize_binding(None).unwrap(), None);
}

#[test]
fn par_proof_is_replay_checked() {
    let server = server();
    let client = key(Algorithm::Es256);
    let p = proof(&client, PAR);
    server
        .par_binding("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap();
    let rej = server
        .par_binding("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap_err();
    assert_eq!(rej.reason(), "replay");
}

// ---------------------------------------------------------------------------------------
// Token endpoint

#[test]
fn token_request_proof_for_another_endpoint_is_refused() {
    let server = server();
    let client = key(Algorithm::Es256);
    let rej = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&client, PAR)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.reason(), "htu");
    assert_eq!(rej.error(), "invalid_dpop_proof");
    let body = rej.body_json();
    assert!(
        body.starts_with(r#"{"error":"invalid_dpop_proof","error_description":""#),
        "{body}"
    );
}

#[test]
fn two_phase_commit_rejects_a_replayed_proof() {
    let server = server();
    let client = key(Algorithm::Es256);
    let p = proof(&client, TOKEN_EP);
    let dpop: &[&[u8]] = &[p.as_bytes()];
    let req = TokenRequest::new(TOKEN_EP, ClientKind::Confidential, Grant::Other).with_dpop(dpop);
    let first = server.check_token_request(&req, NOW).unwrap();
    let second = server.check_token_request(&req, NOW).unwrap();
    assert_eq!(first.jkt(), Some(&client.thumbprint()));
    first.commit(&server).unwrap();
    let rej = second.commit(&server).unwrap_err();
    assert_eq!(rej.kind(), &AsError::Dpop(DpopError::Replayed));
}

#[test]
fn unbound_request_gets_bearer_unless_pop_is_required() {
    let server = server();
    let ok = token(&server, ClientKind::Confidential, Grant::Other, None, None).unwrap();
    assert_eq!(ok.token_type(), TokenType::Bearer);
    assert!(!ok.cnf().is_bound());

    let strict = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(64)).require_proof_of_possession(true),
    );
    let rej = token(&strict, ClientKind::Confidential, Grant::Other, None, None).unwrap_err();
    assert_eq!(rej.kind(), &AsError::ProofOfPossessionRequired);
    assert_eq!(rej.error(), "invalid_request");
}

#[test]
fn client_certificate_binds_the_token_and_both_can_apply() {
    let server = server();
    let der = cert();
    let x5t = keybound::mtls::x5t_s256(&der);
    let ok = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        None,
        Some(&der),
    )
    .unwrap();
    assert_eq!(ok.token_type(), TokenType::Bearer);
    assert_eq!(ok.cnf().x5t_s256(), Some(&x5t));

    let client = key(Algorithm::Es256);
    let ok = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        Some(&der),
    )
    .unwrap();
    assert_eq!(ok.token_type(), TokenType::Dpop);
    assert_eq!(ok.cnf().jkt(), Some(&client.thumbprint()));
    assert_eq!(ok.cnf().x5t_s256(), Some(&x5t));
    assert_eq!(
        ok.cnf().to_json_string(),
        format!(
            r#"{{"jkt":"{}","x5t#S256":"{}"}}"#,
            client.thumbprint(),
            x5t
        )
    );
}

#[test]
fn nonce_required_answers_use_dpop_nonce_with_a_fresh_nonce() {
    let server = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(64)).with_nonce(HmacNonceSource::new([9; 32], 60)),
    );
    let client = key(Algorithm::Es256);
    let rej = token(
        &server,
        ClientKind::Public,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.status(), 400);
    assert_eq!(rej.error(), "use_dpop_nonce");
    assert!(rej.body_json().contains("\"use_dpop_nonce\""));
    let nonce = rej.dpop_nonce().unwrap().to_owned();
    let p = client
        .sign_proof_os_rng(&ProofParams::new("POST", TOKEN_EP, NOW).with_nonce(&nonce))
        .unwrap();
    assert!(token(&server, ClientKind::Public, Grant::Other, Some(&p), None).is_ok());
}

// ---------------------------------------------------------------------------------------
// Refresh tokens (RFC 9449 §5)

#[test]
fn public_client_refresh_with_a_new_key_fails() {
    let server = server();
    let client = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    let issued = token(
        &server,
        ClientKind::Public,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(issued.refresh_token_cnf().jkt(), Some(&client.thumbprint()));
    let grant = Grant::RefreshToken {
        binding: *issued.refresh_token_cnf(),
    };

    let rej = token(
        &server,
        ClientKind::Public,
        grant,
        Some(&proof(&thief, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.error(), "invalid_dpop_proof");
    assert_eq!(rej.reason(), "key_binding");
    let rej = token(&server, ClientKind::Public, grant, None, None).unwrap_err();
    assert_eq!(rej.kind(), &AsError::Dpop(DpopError::MissingProof));

    let ok = token(
        &server,
        ClientKind::Public,
        grant,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(ok.cnf().jkt(), Some(&client.thumbprint()));
    assert_eq!(ok.refresh_token_cnf().jkt(), Some(&client.thumbprint()));
}

#[test]
fn confidential_client_refresh_with_a_new_key_succeeds_and_rebinds() {
    let server = server();
    let old = key(Algorithm::Es256);
    let new = key(Algorithm::Ps256);
    let issued = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&old, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert!(!issued.refresh_token_cnf().is_bound());
    // Even a host that recorded the access token's cnf with the refresh token is not held to it.
    let grant = Grant::RefreshToken {
        binding: *issued.cnf(),
    };
    let ok = token(
        &server,
        ClientKind::Confidential,
        grant,
        Some(&proof(&new, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(ok.token_type(), TokenType::Dpop);
    assert_eq!(ok.cnf().jkt(), Some(&new.thumbprint()));

    // Unless confidential refresh tokens are configured to be key-bound.
    let bound = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(64)).bind_confidential_refresh_tokens(true),
    );
    let rej = token(
        &bound,
        ClientKind::Confidential,
        grant,
        Some(&proof(&new, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.reason(), "key_binding");
}

#[test]
fn public_client_refresh_bound_to_a_certificate_needs_that_certificate() {
    let server = server();
    let good = cert();
    let bad = cert();
    let issued = token(&server, ClientKind::Public, Grant::Other, None, Some(&good)).unwrap();
    let grant = Grant::RefreshToken {
        binding: *issued.refresh_token_cnf(),
    };
    let rej = token(&server, ClientKind::Public, grant, None, Some(&bad)).unwrap_err();
    assert_eq!(rej.error(), "invalid_grant");
    assert_eq!(rej.reason(), "certificate_mismatch");
    let rej = token(&server, ClientKind::Public, grant, None, None).unwrap_err();
    assert_eq!(rej.reason(), "certificate_missing");
    assert!(token(&server, ClientKind::Public, grant, None, Some(&good)).is_ok());
}

/// Refresh-token bindings whose only members are confirmation methods keybound does not
/// implement.
const UNIMPLEMENTED_CNF: [(&str, &str); 4] = [
    ("osc", r#"{"osc":"https://op.example.com/osc"}"#),
    ("x5t", r#"{"x5t":"dGhpcyBpcyBhIFNIQS0xIHRodW1icHJpbnQ"}"#),
    (
        "x5t#S512",
        r#"{"x5t#S512":"c29tZSBTSEEtNTEyIHRodW1icHJpbnQgb2YgYSBjZXJ0aWZpY2F0ZQ"}"#,
    ),
    ("unknown member", r#"{"x-vendor-binding":{"key":"k1"}}"#),
];

#[test]
fn rejects_refresh_bound_only_by_an_unimplemented_cnf_method() {
    let server = server();
    let bound_confidential = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(64)).bind_confidential_refresh_tokens(true),
    );
    let client = key(Algorithm::Es256);
    let der = cert();
    for (name, text) in UNIMPLEMENTED_CNF {
        let grant = Grant::RefreshToken {
            binding: Confirmation::parse(text.as_bytes()).unwrap(),
        };
        for (server, kind) in [
            (&server, ClientKind::Public),
            (&bound_confidential, ClientKind::Confidential),
        ] {
            for (p, c) in [
                (None, None),
                (Some(proof(&client, TOKEN_EP)), None),
                (None, Some(der.as_slice())),
            ] {
                let rej = token(server, kind, grant, p.as_deref(), c).unwrap_err();
                assert_eq!(rej.kind(), &AsError::UnsupportedConfirmation, "{name}");
                assert_eq!(rej.status(), 400, "{name}");
                assert_eq!(rej.error(), "invalid_grant", "{name}");
                assert_eq!(rej.reason(), "unsupported_cnf", "{name}");
            }
        }
        // A confidential client's refresh binding is not consulted unless configured (RFC
        // 9449 §5), whatever it holds.
        assert!(token(&server, ClientKind::Confidential, grant, None, None).is_ok());
    }
}

#[test]
fn accepts_refresh_bound_by_jkt_beside_an_unimplemented_cnf_method() {
    let server = server();
    let client = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    for (name, text) in UNIMPLEMENTED_CNF {
        let extra = &text[1..text.len() - 1];
        let binding = format!(r#"{{"jkt":"{}",{extra}}}"#, client.thumbprint());
        let grant = Grant::RefreshToken {
            binding: Confirmation::parse(binding.as_bytes()).unwrap(),
        };
        let ok = token(
            &server,
            ClientKind::Public,
            grant,
            Some(&proof(&client, TOKEN_EP)),
            None,
        )
        .unwrap();
        assert_eq!(ok.cnf().jkt(), Some(&client.thumbprint()), "{name}");
        let rej = token(
            &server,
            ClientKind::Public,
            grant,
            Some(&proof(&thief, TOKEN_EP)),
            None,
        )
        .unwrap_err();
        assert_eq!(rej.reason(), "key_binding", "{name}");
        let rej = token(&server, ClientKind::Public, grant, None, None).unwrap_err();
        assert_eq!(
            rej.kind(),
            &AsError::Dpop(DpopError::MissingProof),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Profiles

#[test]
fn fapi_refuses_a_token_request_without_proof_of_possession() {
    let resolved = Profile::FAPI2_BASELINE.resolve(&Choices::new()).unwrap();
    let server = AuthorizationServer::new(
        AsConfig::from_resolved(&resolved, MemoryReplayStore::new(64), None).unwrap(),
    );
    let rej = token(&server, ClientKind::Confidential, Grant::Other, None, None).unwrap_err();
    assert_eq!(rej.kind(), &AsError::ProofOfPossessionRequired);
    assert_eq!(rej.reason(), "pop_required");

    let client = key(Algorithm::Es256);
    let ok = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(ok.token_type(), TokenType::Dpop);

    // FAPI 2.0 algorithms only.
    let es384 = key(Algorithm::Es384);
    let rej = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&es384, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.reason(), "alg");
}

#[test]
fn mtls_only_fapi_deployment_refuses_dpop_and_accepts_certificates() {
    let resolved = Profile::FAPI2_BASELINE
        .resolve(&Choices::new().enable(Feature::Mtls))
        .unwrap();
    let server = AuthorizationServer::new(
        AsConfig::from_resolved(&resolved, MemoryReplayStore::new(64), None).unwrap(),
    );
    let der = cert();
    let ok = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        None,
        Some(&der),
    )
    .unwrap();
    assert_eq!(ok.cnf().x5t_s256(), Some(&keybound::mtls::x5t_s256(&der)));
    let client = key(Algorithm::Es256);
    let rej = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap_err();
    assert_eq!(rej.kind(), &AsError::DpopNotSupported);
}

#[test]
fn rfc9449_profile_issues_a_bearer_token_to_a_client_without_proof_of_possession() {
    // RFC 9449 §5: without a DPoP proof (and no per-client requirement) the AS issues a Bearer
    // token; only FAPI 2.0 makes sender-constraining mandatory.
    let resolved = Profile::RFC9449.resolve(&Choices::new()).unwrap();
    assert!(!resolved.sender_constrained_tokens_required());
    let server = AuthorizationServer::new(
        AsConfig::from_resolved(&resolved, MemoryReplayStore::new(64), None).unwrap(),
    );
    let ok = token(&server, ClientKind::Confidential, Grant::Other, None, None).unwrap();
    assert_eq!(ok.token_type(), TokenType::Bearer);
    assert!(!ok.cnf().is_bound());

    let client = key(Algorithm::Es256);
    let bound = token(
        &server,
        ClientKind::Confidential,
        Grant::Other,
        Some(&proof(&client, TOKEN_EP)),
        None,
    )
    .unwrap();
    assert_eq!(bound.token_type(), TokenType::Dpop);
}

#[test]
fn nonce_requiring_profile_needs_a_nonce_source() {
    let resolved = Profile::FAPI2_BASELINE
        .resolve(&Choices::new().with_nonce_required(true))
        .unwrap();
    assert!(AsConfig::from_resolved(&resolved, MemoryReplayStore::new(8), None).is_err());
    let nonce = Box::new(HmacNonceSource::new([1; 32], 60));
    assert!(AsConfig::from_resolved(&resolved, MemoryReplayStore::new(8), Some(nonce)).is_ok());
}

#[test]
fn client_registered_for_dpop_bound_tokens_must_send_a_proof() {
    let server = server();
    let req = TokenRequest::new(TOKEN_EP, ClientKind::Confidential, Grant::Other)
        .with_dpop_required(true);
    let rej = server.check_token_request(&req, NOW).unwrap_err();
    assert_eq!(rej.kind(), &AsError::Dpop(DpopError::MissingProof));
    assert_eq!(rej.error(), "invalid_dpop_proof");
    let client = key(Algorithm::Es256);
    let p = proof(&client, TOKEN_EP);
    let dpop: &[&[u8]] = &[p.as_bytes()];
    let ok = server.token_binding(&req.with_dpop(dpop), NOW).unwrap();
    assert_eq!(ok.token_type(), TokenType::Dpop);
}

#[test]
fn par_in_two_phases_commits_only_after_client_authentication() {
    let server = server();
    let client = key(Algorithm::Es256);
    let p = proof(&client, PAR);
    let pending = server
        .check_par("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap();
    assert_eq!(pending.jkt(), Some(&client.thumbprint()));
    // Client authentication failed: nothing committed, the same proof still passes phase one.
    drop(pending);
    let pending = server
        .check_par("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap();
    assert_eq!(pending.commit(&server).unwrap(), Some(client.thumbprint()));
    let again = server
        .check_par("POST", PAR, &[p.as_bytes()], None, NOW)
        .unwrap();
    assert_eq!(again.commit(&server).unwrap_err().reason(), "replay");
}
