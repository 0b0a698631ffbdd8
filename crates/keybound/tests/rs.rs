//! Resource-server scenarios with real proofs (ES256 / Ed25519 keys) and real certificates.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound::cnf::{CertThumbprint, Confirmation};
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, DpopError, Policy, ProofParams, SigningKey};
use keybound::rs::{
    Authorization, AuthorizationError, Binding, ClientCert, ResourceServer, RsConfig, RsError,
    RsRequest, Scheme, parse_authorization,
};

const NOW: u64 = 1_700_000_000;
const URI: &str = "https://api.example.com/accounts";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.access-token.sig";

fn key(alg: Algorithm) -> SigningKey {
    SigningKey::generate_os_rng(alg).unwrap()
}

fn proof(key: &SigningKey, htm: &str, htu: &str, token: Option<&str>, iat: u64) -> String {
    let mut p = ProofParams::new(htm, htu, iat);
    if let Some(t) = token {
        p = p.with_access_token(t);
    }
    key.sign_proof_os_rng(&p).unwrap()
}

fn proof_with_nonce(key: &SigningKey, token: &str, nonce: &str) -> String {
    let p = ProofParams::new("GET", URI, NOW)
        .with_access_token(token)
        .with_nonce(nonce);
    key.sign_proof_os_rng(&p).unwrap()
}

fn server() -> ResourceServer<'static> {
    ResourceServer::new(RsConfig::new(MemoryReplayStore::new(1024)))
}

fn dpop_auth(token: &str) -> String {
    format!("DPoP {token}")
}

/// Verifies a GET to URI with the given headers.
fn verify(
    rs: &ResourceServer<'_>,
    auth: &[&str],
    dpop: &[&str],
    cert: Option<ClientCert<'_>>,
    cnf: &Confirmation,
) -> Result<keybound::rs::Accepted, keybound::rs::Rejection> {
    verify_req(rs, "GET", URI, auth, dpop, cert, cnf)
}

fn verify_req(
    rs: &ResourceServer<'_>,
    method: &str,
    uri: &str,
    auth: &[&str],
    dpop: &[&str],
    cert: Option<ClientCert<'_>>,
    cnf: &Confirmation,
) -> Result<keybound::rs::Accepted, keybound::rs::Rejection> {
    let auth: Vec<&[u8]> = auth.iter().map(|s| s.as_bytes()).collect();
    let dpop: Vec<&[u8]> = dpop.iter().map(|s| s.as_bytes()).collect();
    let mut req = RsRequest::new(method, uri)
        .with_authorization(&auth)
        .with_dpop(&dpop);
    if let Some(c) = cert {
        req = req.with_client_cert(c);
    }
    rs.verify(&req, cnf, NOW)
}

fn cert() -> Vec<u8> {
    rcgen::generate_simple_self_signed(vec!["client.example".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec()
}

fn x5t(der: &[u8]) -> CertThumbprint {
    keybound::mtls::x5t_s256(der)
}

// ---------------------------------------------------------------------------------------
// Authorization header

#[test]
fn parses_authorization_scheme_case_insensitively() {
    for v in [
        "DPoP abc",
        "dpop abc",
        "DPOP  abc",
        "Bearer abc",
        "bEaReR abc",
    ] {
        match parse_authorization(&[v.as_bytes()]).unwrap() {
            Authorization::Token(c) => assert_eq!(c.token, "abc", "{v}"),
            other => panic!("{v}: {other:?}"),
        }
    }
    assert_eq!(parse_authorization(&[]).unwrap(), Authorization::None);
    assert_eq!(
        parse_authorization(&[b"Basic dXNlcjpwYXNz"]).unwrap(),
        Authorization::OtherScheme
    );
}

#[test]
fn rejects_malformed_authorization_headers() {
    assert_eq!(
        parse_authorization(&[b"Bearer a", b"Bearer b"]),
        Err(AuthorizationError::Multiple)
    );
    assert_eq!(
        parse_authorization(&[b"Bearer"]),
        Err(AuthorizationError::MissingToken)
    );
    assert_eq!(
        parse_authorization(&[b"Bearer a b"]),
        Err(AuthorizationError::TokenSyntax)
    );
    assert_eq!(
        parse_authorization(&[b"DPoP a,DPoP b"]),
        Err(AuthorizationError::TokenSyntax)
    );
    assert_eq!(
        parse_authorization(&[b"Bearer \xff"]),
        Err(AuthorizationError::NotUtf8)
    );
    assert!(matches!(
        parse_authorization(&[b"Bearer mF_9.B5f-4.1JqM/+~=="]),
        Ok(Authorization::Token(_))
    ));
}

#[test]
fn malformed_authorization_is_400_invalid_request() {
    let rs = server();
    let cnf = Confirmation::new();
    let rej = verify(&rs, &["Bearer a", "Bearer b"], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.status(), 400);
    assert_eq!(rej.error(), Some("invalid_request"));
    assert_eq!(rej.reason(), "malformed_authorization");
    let rej = verify(&rs, &["Bearer a b"], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.status(), 400);
    assert_eq!(rej.www_authenticate().len(), 1);
    assert!(rej.www_authenticate()[0].starts_with("Bearer error=\"invalid_request\""));
    let rej = verify(&rs, &["DPoP a b"], &[], None, &cnf).unwrap_err();
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"invalid_request\""));
}

#[test]
fn missing_token_gets_both_challenges_without_error_code() {
    let rs = server();
    let rej = verify(&rs, &[], &[], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.error(), None);
    assert_eq!(rej.reason(), "missing_token");
    let ch = rej.www_authenticate();
    assert_eq!(ch.len(), 2);
    assert_eq!(ch[0], "Bearer");
    assert!(ch[1].starts_with("DPoP algs=\"ES256 "), "{}", ch[1]);
    assert!(!ch[1].contains("error="));
    assert_eq!(rej.dpop_nonce(), None);
}

#[test]
fn other_scheme_is_treated_as_no_token() {
    let rs = server();
    let rej = verify(
        &rs,
        &["Basic dXNlcjpwYXNz"],
        &[],
        None,
        &Confirmation::new(),
    )
    .unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.reason(), "unsupported_scheme");
    assert_eq!(rej.www_authenticate().len(), 2);
}

#[test]
fn credentials_step_returns_scheme_and_token_for_lookup() {
    let rs = server();
    let auth: &[&[u8]] = &[b"dpop tok.en"];
    let req = RsRequest::new("GET", URI).with_authorization(auth);
    let c = rs.credentials(&req).unwrap();
    assert_eq!(c.scheme, Scheme::Dpop);
    assert_eq!(c.token, "tok.en");
}

// ---------------------------------------------------------------------------------------
// DPoP

#[test]
fn accepts_dpop_bound_token_with_valid_proof() {
    let rs = server();
    for alg in [Algorithm::Es256, Algorithm::EdDsa] {
        let k = key(alg);
        let cnf = Confirmation::from_jkt(k.thumbprint());
        let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
        let ok = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap();
        assert_eq!(
            ok.binding(),
            Binding::Dpop {
                jkt: k.thumbprint()
            }
        );
        assert_eq!(ok.scheme(), Scheme::Dpop);
        assert_eq!(ok.proof().unwrap().jkt, k.thumbprint());
    }
}

#[test]
fn accepts_lowercase_dpop_scheme_and_cnf_from_json() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let json = format!(r#"{{"jkt":"{}"}}"#, k.thumbprint());
    let cnf = Confirmation::parse(json.as_bytes()).unwrap();
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let auth = format!("dpop {TOKEN}");
    assert!(verify(&rs, &[&auth], &[&p], None, &cnf).is_ok());
}

#[test]
fn rejects_stolen_dpop_token_sent_as_bearer() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let rej = verify(&rs, &[&format!("Bearer {TOKEN}")], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.kind(), &RsError::DpopTokenAsBearer);
    assert_eq!(rej.error(), Some("invalid_token"));
    assert_eq!(rej.www_authenticate().len(), 1);
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"invalid_token\""));
    assert!(rej.www_authenticate()[0].contains("algs=\""));
}

#[test]
fn rejects_stolen_dpop_token_sent_as_bearer_with_a_replayed_proof() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&format!("Bearer {TOKEN}")], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.kind(), &RsError::DpopTokenAsBearer);
}

#[test]
fn rejects_stolen_token_with_thief_key() {
    let rs = server();
    let owner = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(owner.thumbprint());
    let p = proof(&thief, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.dpop_error(), Some(&DpopError::KeyBindingMismatch));
    assert_eq!(rej.reason(), "key_binding");
    assert_eq!(rej.error(), Some("invalid_dpop_proof"));
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"invalid_dpop_proof\""));
}

#[test]
fn rejects_stolen_token_without_the_key() {
    let rs = server();
    let owner = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(owner.thumbprint());
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.dpop_error(), Some(&DpopError::MissingProof));
    assert_eq!(rej.reason(), "malformed");
    assert_eq!(rej.status(), 401);
}

#[test]
fn rejects_replayed_proof() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap();
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.dpop_error(), Some(&DpopError::Replayed));
    assert_eq!(rej.reason(), "replay");
    assert!(!rej.is_server_fault());
}

#[test]
fn key_over_its_replay_quota_is_429_and_other_keys_are_served() {
    let rs = ResourceServer::new(RsConfig::new(
        MemoryReplayStore::new(1024).with_owner_quota(2),
    ));
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    for _ in 0..2 {
        let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
        verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap();
    }
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(
        rej.dpop_error(),
        Some(&DpopError::ReplayStore(
            keybound::dpop::replay::ReplayError::QuotaExceeded
        ))
    );
    assert_eq!((rej.status(), rej.reason()), (429, "replay"));
    assert!(!rej.is_server_fault());
    let other = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(other.thumbprint());
    let p = proof(&other, "GET", URI, Some(TOKEN), NOW);
    verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap();
}

#[test]
fn rejects_a_proof_forged_with_the_small_order_ed25519_identity_key() {
    // Issue 12 item 1: with the identity point as the key, R = identity and S = 0 would verify
    // every message on a backend that accepts small-order keys; a token bound to that jkt would
    // be a bearer token. The default verifier (and every other) refuses the key.
    use base64ct::{Base64UrlUnpadded, Encoding as _};
    let mut x = [0u8; 32];
    x[0] = 1;
    let jwk = format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&x)
    );
    let jkt = keybound::jwk::Jwk::parse(jwk.as_bytes())
        .unwrap()
        .thumbprint();
    let header = format!(r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{jwk}}}"#);
    let claims = format!(
        r#"{{"jti":"forged-1","htm":"GET","htu":"{URI}","iat":{NOW},"ath":"{}"}}"#,
        keybound::dpop::ath_string(TOKEN)
    );
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let forged = format!(
        "{}.{}.{}",
        Base64UrlUnpadded::encode_string(header.as_bytes()),
        Base64UrlUnpadded::encode_string(claims.as_bytes()),
        Base64UrlUnpadded::encode_string(&sig)
    );
    let rej = verify(
        &server(),
        &[&dpop_auth(TOKEN)],
        &[&forged],
        None,
        &Confirmation::from_jkt(jkt),
    )
    .unwrap_err();
    assert_eq!((rej.status(), rej.reason()), (401, "jwk"));
    assert_eq!(rej.error(), Some("invalid_dpop_proof"));
}

#[test]
fn rejects_proof_for_another_uri_or_method() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let other_uri = proof(&k, "GET", "https://api.example.com/admin", Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&other_uri], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "htu");
    let other_method = proof(&k, "POST", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&other_method], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "htm");
    // The same proof is fine for the request it names (failures did not use up its jti).
    let ok = verify_req(
        &rs,
        "POST",
        URI,
        &[&dpop_auth(TOKEN)],
        &[&other_method],
        None,
        &cnf,
    );
    assert!(ok.is_ok());
}

#[test]
fn accepts_htu_with_query_and_normalization() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(
        &k,
        "GET",
        "HTTPS://API.example.com:443/accounts",
        Some(TOKEN),
        NOW,
    );
    let ok = verify_req(
        &rs,
        "GET",
        "https://api.example.com/accounts?page=2",
        &[&dpop_auth(TOKEN)],
        &[&p],
        None,
        &cnf,
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn rejects_proof_with_wrong_or_missing_ath() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let for_other_token = proof(&k, "GET", URI, Some("another-token"), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&for_other_token], None, &cnf).unwrap_err();
    assert_eq!(rej.dpop_error(), Some(&DpopError::AthMismatch));
    let without_ath = proof(&k, "GET", URI, None, NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&without_ath], None, &cnf).unwrap_err();
    assert_eq!(rej.dpop_error(), Some(&DpopError::MissingAth));
    assert_eq!(rej.reason(), "ath");
}

#[test]
fn rejects_old_proof_and_two_proofs() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let old = proof(&k, "GET", URI, Some(TOKEN), NOW - 3600);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&old], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "iat");
    let a = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let b = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&a, &b], None, &cnf).unwrap_err();
    assert_eq!(rej.dpop_error(), Some(&DpopError::MultipleProofs));
}

#[test]
fn rejects_unbound_token_with_dpop_scheme() {
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).allow_bearer(true));
    let k = key(Algorithm::Es256);
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.kind(), &RsError::UnboundTokenAsDpop);
    assert_eq!(rej.error(), Some("invalid_token"));
}

#[test]
fn rejects_proof_sent_with_bearer_scheme_and_unbound_token() {
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).allow_bearer(true));
    let k = key(Algorithm::Es256);
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let bearer = format!("Bearer {TOKEN}");
    let rej = verify(&rs, &[&bearer], &[&p], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.kind(), &RsError::ProofWithBearer);
    assert_eq!(rej.status(), 401);
}

#[test]
fn unbound_bearer_token_accepted_only_when_allowed() {
    let bearer = format!("Bearer {TOKEN}");
    let strict = server();
    let rej = verify(&strict, &[&bearer], &[], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.kind(), &RsError::BearerNotAllowed);
    assert_eq!(rej.www_authenticate().len(), 2);
    let lax = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).allow_bearer(true));
    let ok = verify(&lax, &[&bearer], &[], None, &Confirmation::new()).unwrap();
    assert_eq!(ok.binding(), Binding::Bearer);
    assert_eq!(ok.proof(), None);
}

#[test]
fn rejects_token_bound_by_an_unsupported_cnf_method() {
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).allow_bearer(true));
    let cnf = Confirmation::parse(br#"{"kid":"k1"}"#).unwrap();
    let rej = verify(&rs, &[&format!("Bearer {TOKEN}")], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.kind(), &RsError::UnsupportedConfirmation);
}

/// `cnf` claims whose only members are confirmation methods keybound does not implement.
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
fn rejects_bearer_token_bound_only_by_an_unimplemented_cnf_method() {
    // Bearer allowed: an unbound token would pass, a token bound by osc / x5t / x5t#S512 /
    // an unknown method must not (fail closed), with or without a client certificate.
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).allow_bearer(true));
    let bearer = format!("Bearer {TOKEN}");
    let der = cert();
    for (name, text) in UNIMPLEMENTED_CNF {
        let cnf = Confirmation::parse(text.as_bytes()).unwrap();
        for client_cert in [None, Some(ClientCert::Der(&der))] {
            let rej = verify(&rs, &[&bearer], &[], client_cert, &cnf).unwrap_err();
            assert_eq!(rej.kind(), &RsError::UnsupportedConfirmation, "{name}");
            assert_eq!(rej.status(), 401, "{name}");
            assert_eq!(rej.error(), Some("invalid_token"), "{name}");
            assert_eq!(rej.reason(), "unsupported_cnf", "{name}");
        }
    }
    // The same server still serves a token without cnf, or with an empty one.
    for cnf in [Confirmation::new(), Confirmation::parse(b"{}").unwrap()] {
        let ok = verify(&rs, &[&bearer], &[], None, &cnf).unwrap();
        assert_eq!(ok.binding(), Binding::Bearer);
    }
}

#[test]
fn rejects_dpop_token_bound_only_by_an_unimplemented_cnf_method() {
    let rs = server();
    let k = key(Algorithm::Es256);
    for (name, text) in UNIMPLEMENTED_CNF {
        let cnf = Confirmation::parse(text.as_bytes()).unwrap();
        let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
        let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
        assert_eq!(rej.kind(), &RsError::UnsupportedConfirmation, "{name}");
        assert_eq!(rej.reason(), "unsupported_cnf", "{name}");
        // The refused request did not use up the proof's jti.
        let bound = Confirmation::from_jkt(k.thumbprint());
        let ok = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &bound).unwrap();
        assert_eq!(
            ok.binding(),
            Binding::Dpop {
                jkt: k.thumbprint()
            }
        );
    }
}

#[test]
fn accepts_checked_method_beside_an_unimplemented_cnf_method() {
    // RFC 7800 §3.1: members beside jkt / x5t#S256 are ignored; the checked method decides.
    let rs = server();
    let k = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    let der = cert();
    let bearer = format!("Bearer {TOKEN}");
    for (name, text) in UNIMPLEMENTED_CNF {
        let extra = &text[1..text.len() - 1];
        let with_jkt = format!(r#"{{"jkt":"{}",{extra}}}"#, k.thumbprint());
        let cnf = Confirmation::parse(with_jkt.as_bytes()).unwrap();
        let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
        let ok = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap();
        assert_eq!(
            ok.binding(),
            Binding::Dpop {
                jkt: k.thumbprint()
            },
            "{name}"
        );
        let p = proof(&thief, "GET", URI, Some(TOKEN), NOW);
        let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
        assert_eq!(rej.reason(), "key_binding", "{name}");
        let rej = verify(&rs, &[&bearer], &[], None, &cnf).unwrap_err();
        assert_eq!(rej.kind(), &RsError::DpopTokenAsBearer, "{name}");

        let with_x5t = format!(r#"{{"x5t#S256":"{}",{extra}}}"#, x5t(&der));
        let cnf = Confirmation::parse(with_x5t.as_bytes()).unwrap();
        let ok = verify(&rs, &[&bearer], &[], Some(ClientCert::Der(&der)), &cnf).unwrap();
        assert_eq!(ok.binding(), Binding::Mtls { x5t: x5t(&der) }, "{name}");
        let rej = verify(&rs, &[&bearer], &[], None, &cnf).unwrap_err();
        assert_eq!(rej.reason(), "certificate_missing", "{name}");
    }
}

#[test]
fn nonce_required_answers_use_dpop_nonce_then_accepts_it() {
    let rs = ResourceServer::new(
        RsConfig::new(MemoryReplayStore::new(64)).with_nonce(HmacNonceSource::new([7; 32], 300)),
    );
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.error(), Some("use_dpop_nonce"));
    assert_eq!(rej.reason(), "nonce");
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"use_dpop_nonce\""));
    let nonce = rej.dpop_nonce().unwrap().to_owned();
    assert!(!nonce.is_empty());
    let p = proof_with_nonce(&k, TOKEN, &nonce);
    assert!(verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).is_ok());
    let p = proof_with_nonce(&k, TOKEN, "not-a-nonce-we-issued");
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.error(), Some("use_dpop_nonce"));
    assert!(rej.dpop_nonce().is_some());
}

#[test]
fn fapi_policy_refuses_es384_and_old_proofs() {
    let rs =
        ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).with_policy(Policy::fapi2()));
    let k = key(Algorithm::Es384);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "alg");
    let ch = &rej.www_authenticate()[0];
    let algs = &ch[ch.find("algs=").unwrap()..];
    assert!(
        algs.starts_with("algs=\"") && !algs.contains("ES384"),
        "{ch}"
    );
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, "GET", URI, Some(TOKEN), NOW - 61);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "iat");
}

#[test]
fn full_replay_store_fails_closed_as_server_fault() {
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(1)));
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let a = proof(&k, "GET", URI, Some(TOKEN), NOW);
    verify(&rs, &[&dpop_auth(TOKEN)], &[&a], None, &cnf).unwrap();
    let b = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&b], None, &cnf).unwrap_err();
    assert!(rej.is_server_fault(), "{rej}");
    assert_eq!(rej.reason(), "replay");
}

#[test]
fn dpop_disabled_server_treats_dpop_scheme_as_unknown() {
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(64)).accept_dpop(false));
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.kind(), &RsError::UnsupportedScheme);
    assert_eq!(rej.www_authenticate(), ["Bearer".to_owned()]);
}

// ---------------------------------------------------------------------------------------
// mTLS and both

#[test]
fn certificate_bound_token_needs_the_matching_certificate() {
    let rs = server();
    let good = cert();
    let bad = cert();
    let cnf = Confirmation::from_x5t_s256(x5t(&good));
    let bearer = format!("Bearer {TOKEN}");

    let ok = verify(&rs, &[&bearer], &[], Some(ClientCert::Der(&good)), &cnf).unwrap();
    assert_eq!(ok.binding(), Binding::Mtls { x5t: x5t(&good) });
    let ok = verify(
        &rs,
        &[&bearer],
        &[],
        Some(ClientCert::Thumbprint(x5t(&good))),
        &cnf,
    );
    assert!(ok.is_ok());

    let rej = verify(&rs, &[&bearer], &[], Some(ClientCert::Der(&bad)), &cnf).unwrap_err();
    assert_eq!(rej.status(), 401);
    assert_eq!(rej.reason(), "certificate_mismatch");
    assert_eq!(rej.error(), Some("invalid_token"));
    assert_eq!(rej.www_authenticate().len(), 1);
    assert!(rej.www_authenticate()[0].starts_with("Bearer error=\"invalid_token\""));

    let rej = verify(&rs, &[&bearer], &[], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "certificate_missing");

    let rej = verify(
        &rs,
        &[&bearer],
        &[],
        Some(ClientCert::Der(b"\x30\x03junk")),
        &cnf,
    )
    .unwrap_err();
    assert_eq!(rej.reason(), "certificate_malformed");
}

#[test]
fn token_bound_to_both_needs_both() {
    let rs = server();
    let k = key(Algorithm::Es256);
    let thief = key(Algorithm::Es256);
    let good = cert();
    let bad = cert();
    let cnf = Confirmation::from_jkt(k.thumbprint()).with_x5t_s256(x5t(&good));
    let auth = dpop_auth(TOKEN);

    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let ok = verify(&rs, &[&auth], &[&p], Some(ClientCert::Der(&good)), &cnf).unwrap();
    assert_eq!(
        ok.binding(),
        Binding::Both {
            jkt: k.thumbprint(),
            x5t: x5t(&good)
        }
    );

    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&auth], &[&p], Some(ClientCert::Der(&bad)), &cnf).unwrap_err();
    assert_eq!(rej.reason(), "certificate_mismatch");
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"invalid_token\""));
    // The certificate failure came before the replay commit: the proof is still fresh.
    assert!(verify(&rs, &[&auth], &[&p], Some(ClientCert::Der(&good)), &cnf).is_ok());

    let p = proof(&k, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&auth], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "certificate_missing");

    let p = proof(&thief, "GET", URI, Some(TOKEN), NOW);
    let rej = verify(&rs, &[&auth], &[&p], Some(ClientCert::Der(&good)), &cnf).unwrap_err();
    assert_eq!(rej.reason(), "key_binding");

    let bearer = format!("Bearer {TOKEN}");
    let rej = verify(&rs, &[&bearer], &[], Some(ClientCert::Der(&good)), &cnf).unwrap_err();
    assert_eq!(rej.kind(), &RsError::DpopTokenAsBearer);
}

#[test]
fn rejection_display_and_error_source() {
    let rs = server();
    let rej = verify(&rs, &[], &[], None, &Confirmation::new()).unwrap_err();
    assert_eq!(rej.to_string(), "401 missing_token: no access token");
    assert_eq!(rej.description(), "no access token");
    let e: &dyn core::error::Error = &rej;
    assert!(e.source().is_some());
}

#[test]
fn servers_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ResourceServer<'static>>();
    assert_send_sync::<keybound::authz::AuthorizationServer<'static>>();
}

#[test]
fn policy_with_a_nonce_source_fails_closed_until_one_is_configured() {
    static NONCE: keybound::dpop::nonce::FixedNonce<'static> =
        keybound::dpop::nonce::FixedNonce("abc");
    let rs = ResourceServer::new(
        RsConfig::new(MemoryReplayStore::new(64)).with_policy(Policy::new().with_nonce(&NONCE)),
    );
    let k = key(Algorithm::Es256);
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof_with_nonce(&k, TOKEN, "abc");
    let rej = verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).unwrap_err();
    assert_eq!(rej.reason(), "nonce");
    assert_eq!(rej.dpop_nonce(), None);

    let rs = ResourceServer::new(
        RsConfig::new(MemoryReplayStore::new(64))
            .with_policy(Policy::new().with_nonce(&NONCE))
            .with_nonce(keybound::dpop::nonce::FixedNonce("abc")),
    );
    let p = proof_with_nonce(&k, TOKEN, "abc");
    assert!(verify(&rs, &[&dpop_auth(TOKEN)], &[&p], None, &cnf).is_ok());
}
