//! The client against a resource server on `keybound::rs` that requires nonces, over real
//! HTTP and HTTPS (rustls) on 127.0.0.1: the nonce challenge and the single retry, `ath` and
//! `htu`, malformed nonces, streaming bodies, key rotation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

mod support;

use std::sync::Arc;

use keybound::cnf::Confirmation;
use keybound::dpop::{Algorithm, SigningKey};
use keybound_client::reqwest;
use keybound_client::{ClientError, DpopClient, DpopExchange, Target};

use support::{Pki, Rs, b64_sha256, start_rs};

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn client_for(pki: Option<&Pki>, k: SigningKey) -> DpopClient {
    let mut b = DpopClient::builder().key(k).no_proxy();
    if let Some(pki) = pki {
        b = b.root_certificates_pem(pki.ca_pem().as_bytes()).unwrap();
    }
    b.build().unwrap()
}

/// First call challenged, the retry accepted with a fresh jti; the next call reuses the nonce.
async fn nonce_challenge_then_retry(rs: Arc<Rs>, client: DpopClient) {
    let token = rs.issue(Confirmation::from_jkt(client.jkt().unwrap()));
    let resp = client
        .get(&format!("{}/resource", rs.origin))
        .access_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ex = DpopExchange::of(&resp).unwrap().clone();
    assert!(ex.retried());
    assert_eq!(resp.text().await.unwrap(), r#"{"binding":"dpop"}"#);

    let seen = rs.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].status, 401);
    assert_eq!(seen[0].reason.as_deref(), Some("nonce"));
    assert_eq!(seen[1].status, 200);
    let (jti1, jti2) = (seen[0].claim("jti").unwrap(), seen[1].claim("jti").unwrap());
    assert_ne!(jti1, jti2, "the retry must carry a new jti");
    assert_eq!(ex.jtis, vec![jti1, jti2]);
    assert_eq!(seen[0].claim("nonce"), None);
    let nonce = seen[1].claim("nonce").unwrap();
    assert_eq!(ex.nonces, vec![None, Some(nonce.clone())]);
    assert_eq!(
        client.nonce(&rs.origin, Target::Resource).as_deref(),
        Some(nonce.as_str())
    );

    // The remembered nonce is sent at once: no challenge the second time.
    let resp = client
        .get(&format!("{}/resource", rs.origin))
        .access_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!DpopExchange::of(&resp).unwrap().retried());
    let seen = rs.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2].claim("nonce").as_deref(), Some(nonce.as_str()));
}

#[tokio::test]
async fn nonce_challenge_then_retry_accepted_over_http() {
    let rs = start_rs(None).await;
    nonce_challenge_then_retry(rs, client_for(None, key())).await;
}

#[tokio::test]
async fn nonce_challenge_then_retry_accepted_over_https() {
    let pki = Pki::new();
    let rs = start_rs(Some(pki.server_config(None))).await;
    assert!(rs.origin.starts_with("https://"));
    nonce_challenge_then_retry(rs, client_for(Some(&pki), key())).await;
}

#[tokio::test]
async fn ath_and_htu_without_query_are_what_the_rs_expects() {
    let pki = Pki::new();
    let rs = start_rs(Some(pki.server_config(None))).await;
    let client = client_for(Some(&pki), key());
    let token = rs.issue(Confirmation::from_jkt(client.jkt().unwrap()));
    let resp = client
        .get(&format!("{}/resource?page=2&sort=desc#top", rs.origin))
        .access_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    for s in rs.seen() {
        assert_eq!(s.path, "/resource");
        assert_eq!(
            s.claim("htu").unwrap(),
            format!("{}/resource", rs.origin),
            "htu without query and fragment"
        );
        assert_eq!(s.claim("htm").unwrap(), "GET");
        assert_eq!(s.claim("ath").unwrap(), b64_sha256(&token));
        assert_eq!(s.authorization.as_deref(), Some(&*format!("DPoP {token}")));
        let iat = s.proof.as_ref().unwrap()["iat"].as_u64().unwrap();
        assert!(iat.abs_diff(keybound::unix_now()) <= 5);
        assert!(
            s.claim("jti").unwrap().len() >= 16,
            "at least 96 random bits"
        );
    }
}

#[tokio::test]
async fn server_challenging_twice_gets_exactly_one_retry() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    let resp = client
        .post(&format!("{}/always-nonce", rs.origin))
        .body("payload")
        .send()
        .await
        .unwrap();
    // The second challenge is the caller's.
    assert_eq!(resp.status(), 401);
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.starts_with("DPoP error=\"use_dpop_nonce\""));
    assert_eq!(resp.headers()["dpop-nonce"], "nonce-2");
    let ex = DpopExchange::of(&resp).unwrap();
    assert_eq!(ex.jtis.len(), 2);
    let seen = rs.seen();
    assert_eq!(seen.len(), 2, "one retry, never a second");
    assert_eq!(seen[1].claim("nonce").as_deref(), Some("nonce-1"));
    assert_ne!(seen[0].claim("jti"), seen[1].claim("jti"));
    // The last nonce is remembered for the next request.
    assert_eq!(
        client.nonce(&rs.origin, Target::Resource).as_deref(),
        Some("nonce-2")
    );
}

#[tokio::test]
async fn malformed_dpop_nonce_is_ignored() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    for kind in ["two", "space", "quote", "backslash", "empty", "latin1"] {
        let before = rs.seen().len();
        let resp = client
            .get(&format!("{}/bad-nonce/{kind}", rs.origin))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401, "{kind}");
        assert!(!DpopExchange::of(&resp).unwrap().retried(), "{kind}");
        assert_eq!(rs.seen().len(), before + 1, "{kind}: no retry");
        assert_eq!(client.nonce(&rs.origin, Target::Resource), None, "{kind}");
    }
}

#[tokio::test]
async fn challenge_without_a_new_nonce_is_not_retried() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    let resp = client
        .get(&format!("{}/no-nonce-challenge", rs.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(rs.seen().len(), 1);
}

#[tokio::test]
async fn unusual_but_valid_challenge_syntax_is_understood() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    let resp = client
        .get(&format!("{}/odd-challenge", rs.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let seen = rs.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].claim("nonce").as_deref(), Some("odd-1"));
}

#[tokio::test]
async fn streaming_body_is_not_resent() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    let token = rs.issue(Confirmation::from_jkt(client.jkt().unwrap()));
    let url = format!("{}/resource", rs.origin);
    let stream = || {
        reqwest::Body::wrap(http_body_util::Full::new(bytes::Bytes::from_static(
            b"streamed",
        )))
    };
    let err = client
        .post(&url)
        .access_token(&token)
        .body(stream())
        .send()
        .await
        .unwrap_err();
    match &err {
        ClientError::BodyNotReplayable { status, url: u } => {
            assert_eq!(*status, 401);
            assert_eq!(u, &url);
        }
        other => panic!("expected BodyNotReplayable, got {other:?}"),
    }
    assert!(err.to_string().contains("cannot be sent again"), "{err}");
    assert_eq!(rs.seen().len(), 1, "the stream was sent once");
    // The nonce is remembered: sending the request again succeeds at once.
    assert!(client.nonce(&url, Target::Resource).is_some());
    let resp = client
        .post(&url)
        .access_token(&token)
        .body(stream())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(rs.seen().len(), 2);
}

#[tokio::test]
async fn bearer_request_carries_no_proof() {
    let rs = start_rs(None).await;
    let client = client_for(None, key());
    let resp = client
        .get(&format!("{}/resource", rs.origin))
        .header("authorization", "Bearer some-token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(DpopExchange::of(&resp).is_none());
    let seen = rs.seen();
    assert!(seen[0].proof.is_none());
}

#[tokio::test]
async fn rotated_out_key_still_signs_for_its_tokens_until_retired() {
    let rs = start_rs(None).await;
    let old = key();
    let client = client_for(None, old);
    let old_jkt = client.jkt().unwrap();
    let old_token = rs.issue(Confirmation::from_jkt(old_jkt));
    let new_jkt = client.rotate_key(key());
    assert_ne!(old_jkt, new_jkt);
    assert_eq!(client.jkt(), Some(new_jkt));
    assert_eq!(client.keys(), vec![old_jkt, new_jkt]);
    let url = format!("{}/resource", rs.origin);

    // With the active (new) key, the old token fails key binding (no retry: not a nonce error).
    let resp = client
        .get(&url)
        .access_token(&old_token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        rs.seen().last().unwrap().reason.as_deref(),
        Some("key_binding")
    );

    // Naming the token's key works.
    let resp = client
        .get(&url)
        .access_token(&old_token)
        .key(old_jkt)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // Once retired, the old key is gone: its tokens are unusable.
    assert!(client.retire_key(&old_jkt));
    let err = client
        .get(&url)
        .access_token(&old_token)
        .key(old_jkt)
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::UnknownKey { jkt } if jkt == old_jkt));
}

#[tokio::test]
async fn client_without_key_sends_no_proof() {
    let rs = start_rs(None).await;
    let client = DpopClient::builder().no_proxy().build().unwrap();
    assert_eq!(client.jkt(), None);
    let resp = client
        .get(&format!("{}/resource", rs.origin))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(rs.seen()[0].proof.is_none());
}

#[tokio::test]
async fn connection_refused_is_a_transport_error() {
    let (listener, addr) = support::bind().await;
    drop(listener);
    let client = client_for(None, key());
    let err = client
        .get(&format!("http://{addr}/x"))
        .send()
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
}
