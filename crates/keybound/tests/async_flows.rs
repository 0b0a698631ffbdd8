//! The two-phase flows: stateless checks (`ResourceServer::check`,
//! `AuthorizationServer::check_token_request`), then the replay commit to a store of the
//! host's choice, synchronously, asynchronously, or inline when the store can answer at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::sync::Mutex;

use keybound::authz::{AsConfig, AuthorizationServer, ClientKind, Grant, TokenRequest};
use keybound::cnf::Confirmation;
use keybound::dpop::replay::{
    AsyncReplayStore, MemoryReplayStore, ReplayError, ReplayKey, ReplayStore,
};
use keybound::dpop::{Algorithm, DpopError, ProofParams, SigningKey};
use keybound::rs::{Binding, ClientCert, ResourceServer, RsConfig, RsError, RsRequest};

const NOW: u64 = 1_700_000_000;
const URI: &str = "https://api.example.com/accounts";
const TOKEN_URI: &str = "https://as.example.com/token";
const TOKEN: &str = "access-token";

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn proof(key: &SigningKey, htu: &str, token: Option<&str>) -> String {
    let mut p = ProofParams::new(if htu == URI { "GET" } else { "POST" }, htu, NOW);
    if let Some(t) = token {
        p = p.with_access_token(t);
    }
    key.sign_proof_os_rng(&p).unwrap()
}

/// Polls a future whose answer needs no waiting to completion.
fn ready_now<F: Future>(f: F) -> F::Output {
    let mut f = core::pin::pin!(f);
    let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        core::task::Poll::Ready(out) => out,
        core::task::Poll::Pending => panic!("the test stores answer without waiting"),
    }
}

/// A store that answers only through the async path (like a networked one).
#[derive(Default)]
struct AsyncOnly(Mutex<Vec<String>>);

impl AsyncReplayStore for AsyncOnly {
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        let mut seen = self.0.lock().unwrap();
        let answer = if seen.iter().any(|j| j == key.jti) {
            Err(ReplayError::Replayed)
        } else {
            seen.push(key.jti.to_owned());
            Ok(())
        };
        core::future::ready(answer)
    }
}

struct Unavailable;

impl ReplayStore for Unavailable {
    fn check_and_insert(&self, _: ReplayKey<'_>, _: u64, _: u64) -> Result<(), ReplayError> {
        Err(ReplayError::Unavailable)
    }
}

fn check(
    rs: &ResourceServer<'_>,
    auth: &str,
    dpop: Option<&str>,
    cnf: &Confirmation,
) -> Result<keybound::rs::PendingRequest, keybound::rs::Rejection> {
    let auth = [auth.as_bytes()];
    let dpop: Vec<&[u8]> = dpop.iter().map(|d| d.as_bytes()).collect();
    let req = RsRequest::new("GET", URI)
        .with_authorization(&auth)
        .with_dpop(&dpop);
    rs.check(&req, cnf, NOW)
}

#[test]
fn accepts_after_check_then_sync_commit_and_rejects_the_replay() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    let store = MemoryReplayStore::new(16);
    let k = key();
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, URI, Some(TOKEN));
    let pending = check(&rs, "DPoP access-token", Some(&p), &cnf).unwrap();
    assert_eq!(pending.jkt(), Some(&k.thumbprint()));
    assert!(pending.needs_replay_commit());
    let ok = pending.commit(&store).unwrap();
    assert_eq!(
        ok.binding(),
        Binding::Dpop {
            jkt: k.thumbprint()
        }
    );
    let again = check(&rs, "DPoP access-token", Some(&p), &cnf).unwrap();
    let rej = again.commit(&store).unwrap_err();
    assert_eq!(rej.kind(), &RsError::Dpop(DpopError::Replayed));
    assert_eq!(rej.reason(), "replay");
    assert!(rej.www_authenticate()[0].starts_with("DPoP error=\"invalid_dpop_proof\""));
}

#[test]
fn accepts_through_an_async_only_store_and_rejects_the_replay() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    let store = AsyncOnly::default();
    let k = key();
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, URI, Some(TOKEN));
    let pending = check(&rs, "DPoP access-token", Some(&p), &cnf).unwrap();
    // The store needs I/O: the inline attempt hands the request back, recording nothing.
    let pending = pending.commit_inline(&store).unwrap_err();
    assert!(store.0.lock().unwrap().is_empty());
    let ok = ready_now(pending.commit_async(&store)).unwrap();
    assert_eq!(
        ok.binding(),
        Binding::Dpop {
            jkt: k.thumbprint()
        }
    );
    let again = check(&rs, "DPoP access-token", Some(&p), &cnf).unwrap();
    let rej = ready_now(again.commit_async(&store)).unwrap_err();
    assert_eq!(rej.kind(), &RsError::Dpop(DpopError::Replayed));
}

#[test]
fn commits_inline_when_the_store_answers_at_once() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    let store = MemoryReplayStore::new(16);
    let k = key();
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, URI, Some(TOKEN));
    let verdict = check(&rs, "DPoP access-token", Some(&p), &cnf)
        .unwrap()
        .commit_inline(&store)
        .ok()
        .unwrap();
    assert!(verdict.is_ok());
    let verdict = check(&rs, "DPoP access-token", Some(&p), &cnf)
        .unwrap()
        .commit_inline(&store)
        .ok()
        .unwrap();
    assert_eq!(
        verdict.unwrap_err().kind(),
        &RsError::Dpop(DpopError::Replayed)
    );
}

#[test]
fn rejects_as_server_fault_when_the_store_fails_or_times_out() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    let k = key();
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, URI, Some(TOKEN));
    let rej = check(&rs, "DPoP access-token", Some(&p), &cnf)
        .unwrap()
        .commit(&Unavailable)
        .unwrap_err();
    assert_eq!(
        rej.kind(),
        &RsError::Dpop(DpopError::ReplayStore(ReplayError::Unavailable))
    );
    assert!(rej.is_server_fault());
    let rej = check(&rs, "DPoP access-token", Some(&p), &cnf)
        .unwrap()
        .reject_store_unavailable();
    assert!(rej.is_server_fault());
    assert_eq!(rej.reason(), "replay");
}

#[test]
fn rejects_every_proof_in_verify_without_a_replay_store() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    assert!(!rs.has_replay_store());
    let k = key();
    let cnf = Confirmation::from_jkt(k.thumbprint());
    let p = proof(&k, URI, Some(TOKEN));
    let auth = [b"DPoP access-token".as_slice()];
    let dpop = [p.as_bytes()];
    let req = RsRequest::new("GET", URI)
        .with_authorization(&auth)
        .with_dpop(&dpop);
    let rej = rs.verify(&req, &cnf, NOW).unwrap_err();
    assert_eq!(
        rej.kind(),
        &RsError::Dpop(DpopError::ReplayStore(ReplayError::Unavailable))
    );
    assert!(rej.is_server_fault());
}

#[test]
fn accepts_certificate_bound_token_without_touching_a_store() {
    let rs = ResourceServer::new(RsConfig::without_replay_store());
    let der = rcgen::generate_simple_self_signed(vec!["c.example".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec();
    let x5t = keybound::mtls::x5t_s256(&der);
    let cnf = Confirmation::from_x5t_s256(x5t);
    let auth = [b"Bearer access-token".as_slice()];
    let req = RsRequest::new("GET", URI)
        .with_authorization(&auth)
        .with_client_cert(ClientCert::Der(&der));
    let pending = rs.check(&req, &cnf, NOW).unwrap();
    assert!(!pending.needs_replay_commit());
    assert_eq!(pending.x5t_s256(), Some(&x5t));
    let ok = pending.commit(&Unavailable).unwrap();
    assert_eq!(ok.binding(), Binding::Mtls { x5t });
    // verify works without a store too: no proof, nothing to record.
    assert!(rs.verify(&req, &cnf, NOW).is_ok());
}

#[test]
fn challenges_carry_resource_metadata() {
    let url = "https://api.example.com/.well-known/oauth-protected-resource";
    let rs = ResourceServer::new(RsConfig::without_replay_store().with_resource_metadata(url));
    let req = RsRequest::new("GET", URI);
    let rej = rs.credentials(&req).unwrap_err();
    let c = rej.www_authenticate();
    assert_eq!(c[0], format!("Bearer resource_metadata=\"{url}\""));
    assert!(c[1].starts_with("DPoP algs=\""), "{c:?}");
    assert!(
        c[1].ends_with(&format!(", resource_metadata=\"{url}\"")),
        "{c:?}"
    );
    let rej = rs.reject_invalid_token(keybound::rs::Scheme::Bearer);
    assert_eq!(
        rej.www_authenticate()[0],
        format!(
            "Bearer error=\"invalid_token\", error_description=\"access token is invalid\", resource_metadata=\"{url}\""
        )
    );
}

#[test]
fn token_endpoint_commits_to_the_hosts_sync_or_async_store() {
    let server = AuthorizationServer::new(AsConfig::without_replay_store());
    let k = key();
    let p = proof(&k, TOKEN_URI, None);
    let dpop = [p.as_bytes()];
    let req = TokenRequest::new(TOKEN_URI, ClientKind::Confidential, Grant::Other).with_dpop(&dpop);

    // Without a store of its own, the configured-store path fails closed.
    let rej = server
        .check_token_request(&req, NOW)
        .unwrap()
        .commit(&server)
        .unwrap_err();
    assert!(rej.is_server_fault());

    let store = AsyncOnly::default();
    let issued = ready_now(
        server
            .check_token_request(&req, NOW)
            .unwrap()
            .commit_async(&store),
    )
    .unwrap();
    assert_eq!(issued.cnf().jkt(), Some(&k.thumbprint()));
    let rej = ready_now(
        server
            .check_token_request(&req, NOW)
            .unwrap()
            .commit_async(&store),
    )
    .unwrap_err();
    assert_eq!(rej.reason(), "replay");

    let memory = MemoryReplayStore::new(16);
    let issued = server
        .check_token_request(&req, NOW)
        .unwrap()
        .commit_to(&memory)
        .unwrap();
    assert_eq!(issued.token_type().as_str(), "DPoP");
    let rej = server
        .check_token_request(&req, NOW)
        .unwrap()
        .commit_to(&memory)
        .unwrap_err();
    assert_eq!(
        rej.kind(),
        &keybound::authz::AsError::Dpop(DpopError::Replayed)
    );
}

#[test]
fn par_commits_to_the_hosts_async_store() {
    let server = AuthorizationServer::new(AsConfig::without_replay_store());
    let k = key();
    let par = "https://as.example.com/par";
    let p = k
        .sign_proof_os_rng(&ProofParams::new("POST", par, NOW))
        .unwrap();
    let dpop = [p.as_bytes()];
    let store = AsyncOnly::default();
    let jkt = ready_now(
        server
            .check_par("POST", par, &dpop, None, NOW)
            .unwrap()
            .commit_async(&store),
    )
    .unwrap();
    assert_eq!(jkt, Some(k.thumbprint()));
    let rej = server
        .check_par("POST", par, &dpop, None, NOW)
        .unwrap()
        .commit_to(&MemoryReplayStore::new(4))
        .map(|_| ())
        .and_then(|()| {
            ready_now(
                server
                    .check_par("POST", par, &dpop, None, NOW)
                    .unwrap()
                    .commit_async(&store),
            )
            .map(|_| ())
        })
        .unwrap_err();
    assert_eq!(rej.reason(), "replay");
}
