//! The two library examples of the workspace README, compiled and run here so they stay
//! true (the README's code blocks are not doctests of any crate). Keep them in sync.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound::Confirmation;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use keybound::rs::{Binding, ResourceServer, RsConfig, RsRequest};

const URL: &str = "https://api.example.com/accounts";

/// README "client" example: a key, its thumbprint for the AS, a proof per request.
fn client(access_token: &str) -> (String, String, SigningKey) {
    // --- README client example (begin) ---
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap(); // or SigningKey::from_jwk(bytes)
    let _jkt = key.thumbprint(); // `dpop_jkt` at PAR: the AS binds the token to this key
    let proof = key
        .sign_proof_os_rng(
            &ProofParams::new("GET", URL, keybound::unix_now()).with_access_token(access_token),
        )
        .unwrap();
    let authorization = format!("DPoP {access_token}");
    // --- README client example (end) ---
    (authorization, proof, key)
}

#[test]
fn readme_resource_server_and_client_examples_work_together() {
    let access_token = "eyJhbGciOiJFUzI1NiJ9.demo.token";
    let (authorization, dpop, key) = client(access_token);
    // The AS put the client's key thumbprint into the token's cnf claim.
    let cnf_json = format!(r#"{{"jkt":"{}"}}"#, key.thumbprint());

    // --- README resource-server example (begin) ---
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(100_000)));

    let (auth_values, dpop_values) = ([authorization.as_bytes()], [dpop.as_bytes()]);
    let req = RsRequest::new("GET", URL)
        .with_authorization(&auth_values)
        .with_dpop(&dpop_values);
    let token = rs.credentials(&req).unwrap().token; // validate it as today, find its cnf
    let cnf = Confirmation::parse(cnf_json.as_bytes()).unwrap();
    let result = rs.verify(&req, &cnf, keybound::unix_now());
    // --- README resource-server example (end) ---

    assert_eq!(token, access_token);
    let accepted = result.unwrap();
    assert!(matches!(accepted.binding(), Binding::Dpop { .. }));

    // The same request again is a replay: 401 with a DPoP challenge.
    let again = rs.verify(&req, &cnf, keybound::unix_now()).unwrap_err();
    assert_eq!(again.status(), 401);
    assert_eq!(again.reason(), "replay");
    assert!(
        again
            .www_authenticate()
            .iter()
            .any(|c| c.starts_with("DPoP "))
    );
}
