//! The token endpoint helpers against an authorization server on `keybound::authz` that
//! requires nonces, over real HTTP on 127.0.0.1: the three grants with DPoP, each client
//! authentication method, the `token_type` check, strict response reading.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

mod support;

use keybound::dpop::{Algorithm, SigningKey};
use keybound::json::JsonError;
use keybound_client::{
    ClientAuth, ClientSecret, DpopClient, GrantRequest, Pkce, PrivateKeyJwt, Target, TokenEndpoint,
    TokenError, TokenResponseError,
};

use support::{As, Registered, start_as};

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn client() -> DpopClient {
    DpopClient::builder().key(key()).no_proxy().build().unwrap()
}

fn basic(app: &As) -> TokenEndpoint {
    app.register("conf-basic", Registered::Secret("s3cret:&=".into()));
    TokenEndpoint::new(
        app.token_url(),
        "conf-basic",
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cret:&=")),
    )
}

/// The server's view of the token requests: each proof challenged once, then accepted.
fn assert_challenged_then_accepted(app: &As, grant: &str) {
    let seen: Vec<_> = app
        .seen()
        .into_iter()
        .filter(|s| s.grant_type.as_deref() == Some(grant))
        .collect();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].status, 400);
    assert_eq!(seen[1].status, 200);
    assert_eq!(seen[0].claim("nonce"), None);
    assert!(seen[1].claim("nonce").is_some());
    assert_ne!(seen[0].claim("jti"), seen[1].claim("jti"));
    assert_eq!(seen[1].claim("htu").unwrap(), app.token_url());
    assert_eq!(seen[1].claim("htm").as_deref(), Some("POST"));
}

#[tokio::test]
async fn client_credentials_with_dpop_and_nonce_retry() {
    let app = start_as(None).await;
    let ep = basic(&app);
    let client = client();
    let token = client.client_credentials(&ep, Some("read")).await.unwrap();
    assert_eq!(token.token_type(), "DPoP");
    assert!(token.is_dpop());
    assert_eq!(token.jkt(), client.jkt());
    assert_eq!(token.expires_in(), Some(300));
    assert_eq!(token.scope(), Some("read"));
    assert_challenged_then_accepted(&app, "client_credentials");
    assert!(
        client
            .nonce(&app.token_url(), Target::AuthorizationServer)
            .is_some()
    );

    // The token works at the RS on the same origin, whose nonces are its own.
    let resp = client
        .get(&format!("{}/resource", app.origin))
        .token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let as_nonce = client
        .nonce(&app.origin, Target::AuthorizationServer)
        .unwrap();
    let rs_nonce = client.nonce(&app.origin, Target::Resource).unwrap();
    assert_ne!(as_nonce, rs_nonce, "AS and RS nonces are kept apart");
    assert_eq!(app.rs.seen().len(), 2, "the RS challenged the first call");
}

#[tokio::test]
async fn authorization_code_with_pkce_and_dpop_jkt() {
    let app = start_as(None).await;
    app.register("spa", Registered::Public);
    let ep = TokenEndpoint::new(app.token_url(), "spa", ClientAuth::None);
    let client = client();
    let pkce = Pkce::generate().unwrap();
    let redirect = "https://spa.example/cb";
    let url = client
        .authorization_request("spa", redirect, &pkce)
        .scope("read")
        .state("xyz")
        .url(&format!("{}/authorize", app.origin))
        .unwrap();
    assert!(url.contains(&format!("dpop_jkt={}", client.jkt().unwrap())));
    assert!(url.contains("code_challenge_method=S256"));
    assert!(url.contains(&format!("code_challenge={}", pkce.challenge())));

    // The user agent's part: redirects are not followed, the code is in Location.
    let resp = client.http().get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let code = location
        .split_once("code=")
        .unwrap()
        .1
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    assert!(location.ends_with("&state=xyz"));

    let token = client
        .authorization_code(&ep, &code, redirect, &pkce)
        .await
        .unwrap();
    assert!(token.is_dpop());
    assert_challenged_then_accepted(&app, "authorization_code");
    let refresh = token.refresh_token().unwrap().to_owned();

    // refresh_token: a public client's refresh token is bound to the key (RFC 9449 §5).
    let refreshed = client.refresh_token(&ep, &refresh).await.unwrap();
    assert!(refreshed.is_dpop());
    assert_eq!(refreshed.jkt(), client.jkt());
    // The AS nonce was remembered, so no challenge this time.
    let seen = app.seen();
    let last = seen.last().unwrap();
    assert_eq!(last.grant_type.as_deref(), Some("refresh_token"));
    assert_eq!(last.status, 200);
    assert!(last.claim("nonce").is_some());
}

#[tokio::test]
async fn code_bound_to_another_key_is_refused() {
    let app = start_as(None).await;
    app.register("spa", Registered::Public);
    let ep = TokenEndpoint::new(app.token_url(), "spa", ClientAuth::None);
    let client = client();
    let bound_jkt = client.jkt().unwrap();
    let pkce = Pkce::generate().unwrap();
    let url = client
        .authorization_request("spa", "https://spa.example/cb", &pkce)
        .url(&format!("{}/authorize", app.origin))
        .unwrap();
    let resp = client.http().get(&url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split_once("code=").unwrap().1.to_owned();
    client.rotate_key(key());
    let err = client
        .authorization_code(&ep, &code, "https://spa.example/cb", &pkce)
        .await
        .unwrap_err();
    match err {
        TokenError::ErrorResponse { status, error, .. } => {
            assert_eq!(status, 400);
            assert_eq!(error, "invalid_dpop_proof");
        }
        other => panic!("{other:?}"),
    }
    assert_ne!(client.jkt(), Some(bound_jkt));
}

#[tokio::test]
async fn refresh_with_rotated_out_key_for_public_client() {
    let app = start_as(None).await;
    app.register("spa", Registered::Public);
    let ep = TokenEndpoint::new(app.token_url(), "spa", ClientAuth::None);
    let client = client();
    let old = client.jkt().unwrap();
    let pkce = Pkce::generate().unwrap();
    let url = client
        .authorization_request("spa", "https://spa.example/cb", &pkce)
        .url(&format!("{}/authorize", app.origin))
        .unwrap();
    let resp = client.http().get(&url).send().await.unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let code = location.split_once("code=").unwrap().1.to_owned();
    let token = client
        .authorization_code(&ep, &code, "https://spa.example/cb", &pkce)
        .await
        .unwrap();
    let rt = token.refresh_token().unwrap().to_owned();
    client.rotate_key(key());
    // With the new key: the refresh token is bound to the old one.
    let err = client.refresh_token(&ep, &rt).await.unwrap_err();
    assert!(
        matches!(&err, TokenError::ErrorResponse { error, .. } if error == "invalid_dpop_proof"),
        "{err:?}"
    );
    // With the old key, named explicitly.
    let refreshed = client
        .token(&ep, GrantRequest::refresh_token(&rt).key(old))
        .await
        .unwrap();
    assert_eq!(refreshed.jkt(), Some(old));
}

#[tokio::test]
async fn private_key_jwt_assertion_is_made_anew_for_the_retry() {
    let app = start_as(None).await;
    let assertion_key = key();
    app.register("pkj", Registered::Jwk(assertion_key.public_jwk()));
    let ep = TokenEndpoint::new(
        app.token_url(),
        "pkj",
        ClientAuth::PrivateKeyJwt(PrivateKeyJwt::new(assertion_key).with_kid("k1")),
    );
    let client = client();
    let token = client.client_credentials(&ep, None).await.unwrap();
    assert!(token.is_dpop());
    assert_challenged_then_accepted(&app, "client_credentials");
    // The server refuses a reused assertion jti: two requests, two assertions.
    let jtis = app.assertion_jtis.lock().unwrap().clone();
    assert_eq!(jtis.len(), 2);
    assert_ne!(jtis[0], jtis[1]);
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let app = start_as(None).await;
    app.register("conf-post", Registered::Secret("pw".into()));
    let ep = TokenEndpoint::new(
        app.token_url(),
        "conf-post",
        ClientAuth::ClientSecretPost(ClientSecret::new("pw")),
    );
    let token = client().client_credentials(&ep, None).await.unwrap();
    assert!(token.is_dpop());
}

#[tokio::test]
async fn oauth_error_is_reported_with_its_status() {
    let app = start_as(None).await;
    app.register("conf-basic", Registered::Secret("right".into()));
    let ep = TokenEndpoint::new(
        app.token_url(),
        "conf-basic",
        ClientAuth::ClientSecretBasic(ClientSecret::new("wrong")),
    );
    let err = client().client_credentials(&ep, None).await.unwrap_err();
    match &err {
        TokenError::ErrorResponse {
            status,
            error,
            description,
        } => {
            assert_eq!(*status, 401);
            assert_eq!(error, "invalid_client");
            assert_eq!(description.as_deref(), Some("wrong secret"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "token endpoint answered 401 invalid_client: wrong secret"
    );
}

#[tokio::test]
async fn bearer_token_type_after_a_proof_is_refused() {
    let app = start_as(None).await;
    app.register("conf-basic", Registered::Secret("s3cret:&=".into()));
    let ep = TokenEndpoint::new(
        format!("{}/token-bearer", app.origin),
        "conf-basic",
        ClientAuth::ClientSecretBasic(ClientSecret::new("s3cret:&=")),
    );
    let err = client().client_credentials(&ep, None).await.unwrap_err();
    match &err {
        TokenError::TokenTypeMismatch { token_type } => assert_eq!(token_type, "Bearer"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "a DPoP proof was sent but token_type is \"Bearer\", not \"DPoP\" (RFC 9449 §5)"
    );
}

#[tokio::test]
async fn bearer_token_type_without_a_proof_is_accepted() {
    let app = start_as(None).await;
    let ep = TokenEndpoint::new(
        format!("{}/token-bearer", app.origin),
        "any",
        ClientAuth::None,
    );
    let token = client()
        .token(&ep, GrantRequest::client_credentials().without_dpop())
        .await
        .unwrap();
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(token.jkt(), None);
}

#[tokio::test]
async fn lowercase_dpop_token_type_is_accepted() {
    let app = start_as(None).await;
    let ep = TokenEndpoint::new(
        format!("{}/token-lowercase", app.origin),
        "any",
        ClientAuth::None,
    );
    let client = client();
    let token = client.client_credentials(&ep, None).await.unwrap();
    assert_eq!(token.token_type(), "dpop");
    assert!(token.is_dpop());
    assert_eq!(token.jkt(), client.jkt());
}

#[tokio::test]
async fn duplicate_member_in_token_response_is_refused() {
    let app = start_as(None).await;
    let ep = TokenEndpoint::new(
        format!("{}/token-duplicate", app.origin),
        "any",
        ClientAuth::None,
    );
    let err = client().client_credentials(&ep, None).await.unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::Malformed(TokenResponseError::Json(JsonError::DuplicateMember { .. }))
        ),
        "{err:?}"
    );
}
