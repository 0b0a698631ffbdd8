//! `KeyboundLayer` over real HTTP/1.1 on 127.0.0.1 (axum behind the layer, a hyper client),
//! with real ES256 access tokens and DPoP proofs, real certificates (a rustls handshake, or a
//! trusted proxy's header), and replay stores that answer, fail or stall.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::manual_async_fn,
    missing_docs,
    unreachable_pub
)]

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../examples/rustls_server.rs"]
mod example;

include!("support/common.rs");

// ---------------------------------------------------------------- acceptance

#[tokio::test]
async fn accepts_dpop_bound_token_and_hands_the_proof_to_the_handler() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("sub").as_deref(), Some("alice"));
    assert_eq!(r.json("client_id").as_deref(), Some("client-1"));
    assert_eq!(r.json("binding").as_deref(), Some("dpop"));
    assert_eq!(r.json("jkt"), Some(key.thumbprint().to_string()));
    assert_eq!(r.one("dpop-nonce"), None);
    let m = layer.metrics().snapshot();
    assert_eq!(m.accepted_total(), 1);
}

#[tokio::test]
async fn rejects_missing_token_with_both_challenges_and_resource_metadata() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/accounts", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let challenges = r.all("www-authenticate");
    let meta = metadata_url(&s);
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert_eq!(
        challenges[0],
        format!("Bearer resource_metadata=\"{meta}\"")
    );
    assert!(challenges[1].starts_with("DPoP algs=\""), "{challenges:?}");
    assert!(challenges[1].contains("ES256"), "{challenges:?}");
    assert!(
        challenges[1].ends_with(&format!(", resource_metadata=\"{meta}\"")),
        "{challenges:?}"
    );
    assert_no_store_json(&r);
    assert_eq!(r.reason(), "missing_token");
    assert_eq!(
        r.json("error"),
        None,
        "no error code without a token (RFC 6750 §3.1)"
    );
}

#[tokio::test]
async fn rejects_dpop_token_presented_as_bearer() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "dpop_token_as_bearer");
    let c = r.all("www-authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP error=\"invalid_token\""), "{c:?}");
    assert!(c[0].contains("algs=\""), "{c:?}");
    assert_no_store_json(&r);
}

#[tokio::test]
async fn rejects_stolen_token_with_the_thiefs_own_key() {
    let (s, _) = default_server().await;
    let (alice, mallory) = (dpop_key(), dpop_key());
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(alice.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &mallory, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "key_binding");
    assert_eq!(r.json("error").as_deref(), Some("invalid_dpop_proof"));
    let c = r.all("www-authenticate");
    assert!(
        c[0].starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{c:?}"
    );
}

#[tokio::test]
async fn rejects_replayed_proof() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let p = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let h = [("authorization", format!("DPoP {token}")), ("dpop", p)];
    let h: Vec<(&str, &str)> = h.iter().map(|(n, v)| (*n, v.as_str())).collect();
    assert_eq!(
        send(s.addr, "GET", "/accounts", &h).await.status,
        StatusCode::OK
    );
    let r = send(s.addr, "GET", "/accounts", &h).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.reason(), "replay");
    assert_eq!(layer.metrics().snapshot().rejected_with("replay"), 1);
}

#[tokio::test]
async fn rejects_proof_made_for_another_url_or_method() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let auth = format!("DPoP {token}");
    let other_url = proof(&key, "GET", &s.url("/admin"), &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &other_url)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htu")
    );
    let other_method = proof(&key, "POST", &s.url("/accounts"), &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &other_method)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htm")
    );
}

#[tokio::test]
async fn checks_htu_against_the_public_origin_never_the_host_header() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let auth = format!("DPoP {token}");
    // A proof for the attacker's host, with Host and X-Forwarded-* claiming that host.
    let evil = proof(&key, "GET", "https://evil.example/accounts", &token, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[
            ("authorization", &auth),
            ("dpop", &evil),
            ("x-forwarded-host", "evil.example"),
            ("x-forwarded-proto", "https"),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "htu")
    );
}

#[tokio::test]
async fn rejects_proof_whose_ath_is_for_another_token() {
    let (s, _) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let token = s.issuer.mint(&s.origin, Some(&cnf), "read", 300);
    let other = s.issuer.mint(&s.origin, Some(&cnf), "read", 300);
    let p = proof(&key, "GET", &s.url("/accounts"), &other, None);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("DPoP {token}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "ath")
    );
}

#[tokio::test]
async fn rejects_malformed_authorization_with_400() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/accounts", &[("authorization", "DPoP a b")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.reason(), "malformed_authorization");
    assert_eq!(r.json("error").as_deref(), Some("invalid_request"));
    let c = r.all("www-authenticate");
    assert!(
        c.iter()
            .any(|c| c.starts_with("DPoP error=\"invalid_request\"")),
        "{c:?}"
    );
    assert_no_store_json(&r);
}

#[tokio::test]
async fn rejects_forged_and_expired_tokens_as_invalid_token() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let forger = Issuer::new("k1");
    let forged = forger.mint(&s.origin, Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &forged).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let c = r.all("www-authenticate");
    assert_eq!(c.len(), 1, "{c:?}");
    assert!(c[0].starts_with("DPoP error=\"invalid_token\""), "{c:?}");
    let expired = s.issuer.mint(&s.origin, Some(&cnf), "read", -120);
    let r = dpop_get(&s, &key, "/accounts", &expired).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    assert!(
        r.json("error_description").unwrap().contains("exp"),
        "{r:?}"
    );
    let wrong_aud = s
        .issuer
        .mint("https://other.example", Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &wrong_aud).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    assert_eq!(layer.metrics().snapshot().rejected_with("invalid_token"), 3);
}

#[tokio::test]
async fn rejects_unbound_token_unless_bearer_is_allowed() {
    let (s, _) = default_server().await;
    let token = s.issuer.mint(&s.origin, None, "read", 300);
    let bearer = format!("Bearer {token}");
    let r = send(s.addr, "GET", "/accounts", &[("authorization", &bearer)]).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "bearer_not_allowed")
    );

    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap().allow_bearer(true),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let token = s.issuer.mint(&s.origin, None, "read", 300);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("binding").as_deref(), Some("bearer"));
}

#[tokio::test]
async fn challenges_for_a_nonce_then_accepts_it_and_rotates_on_success() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_nonce(HmacNonceSource::new([7; 32], 60))
                .rotate_nonce(true),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "nonce")
    );
    assert_eq!(r.json("error").as_deref(), Some("use_dpop_nonce"));
    let nonce = r.one("dpop-nonce").expect("a DPoP-Nonce header");
    let c = r.all("www-authenticate");
    assert!(c[0].starts_with("DPoP error=\"use_dpop_nonce\""), "{c:?}");
    let p = proof(&key, "GET", &s.url("/accounts"), &token, Some(&nonce));
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &format!("DPoP {token}")), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert!(
        r.one("dpop-nonce").is_some(),
        "a fresh nonce on success (rotation)"
    );
}

#[tokio::test]
async fn refuses_a_token_without_the_required_scope_with_403() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .require_scope("accounts:read"),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let token = s.issuer.mint(&s.origin, Some(&cnf), "profile", 300);
    let p = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let auth = format!("DPoP {token}");
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.reason(), "insufficient_scope");
    let c = r.all("www-authenticate");
    assert!(
        c[0].starts_with("DPoP error=\"insufficient_scope\""),
        "{c:?}"
    );
    assert!(c[0].contains("scope=\"accounts:read\""), "{c:?}");
    // The refused request did not use up its proof: the same proof passes with the scope.
    let good = s.issuer.mint(&s.origin, Some(&cnf), "accounts:read", 300);
    let r = dpop_get(&s, &key, "/accounts", &good).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn serves_rfc9728_metadata_from_the_same_configuration() {
    let (s, _) = start(|origin, issuer| {
        let fapi = keybound::profile::Profile::FAPI2_BASELINE
            .resolve(&keybound::profile::Choices::new())
            .unwrap();
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_profile(&fapi, None)
                .unwrap()
                .with_authorization_server(ISSUER),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let r = send(s.addr, "GET", "/.well-known/oauth-protected-resource", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["resource"], s.origin.as_str());
    assert_eq!(v["authorization_servers"], serde_json::json!([ISSUER]));
    assert_eq!(v["bearer_methods_supported"], serde_json::json!(["header"]));
    assert_eq!(
        v["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "PS256", "EdDSA", "Ed25519"])
    );
    assert_eq!(v["dpop_bound_access_tokens_required"], true);
    assert_eq!(v["tls_client_certificate_bound_access_tokens"], false);
    // The challenge's algs are the advertised ones.
    let r = send(s.addr, "GET", "/accounts", &[]).await;
    let c = r.all("www-authenticate");
    assert!(c[1].contains("algs=\"ES256 PS256 EdDSA Ed25519\""), "{c:?}");
}

#[tokio::test]
async fn rotated_jwks_takes_effect_for_the_next_request() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let cnf = Confirmation::from_jkt(key.thumbprint());
    let next = Issuer::new("k2");
    let token = next.mint(&s.origin, Some(&cnf), "read", 300);
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    layer.validator().jwks().replace(next.jwks());
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

#[tokio::test]
async fn extractor_without_the_layer_answers_500() {
    let (s, _) = default_server().await;
    let r = send(s.addr, "GET", "/unprotected", &[]).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
}

// ---------------------------------------------------------------- mTLS

struct Pki {
    ca: rustls::pki_types::CertificateDer<'static>,
    server: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
    client: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
    thief: (rustls::pki_types::CertificateDer<'static>, Vec<u8>),
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.der().clone(), key.serialize_der())
    };
    Pki {
        server: leaf("127.0.0.1"),
        client: leaf("client.example"),
        thief: leaf("thief.example"),
        ca: ca.der().clone(),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn key_der(k: &[u8]) -> rustls::pki_types::PrivateKeyDer<'static> {
    rustls::pki_types::PrivateKeyDer::Pkcs8(k.to_vec().into())
}

async fn start_tls(p: &Pki) -> (Server, KeyboundLayer<JwtValidator, MemoryReplayStore>) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca.clone()).unwrap();
    let verifier =
        rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .unwrap();
    let tls = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![p.server.0.clone()], key_der(&p.server.1))
        .unwrap();
    let (listener, addr) = bind().await;
    let origin = format!("https://{addr}");
    let issuer = Issuer::new("k1");
    let layer = KeyboundLayer::new(
        GateConfig::new(&origin).unwrap(),
        jwt_validator(&origin, &issuer),
        MemoryReplayStore::new(100),
    );
    let app = Router::new()
        .route("/accounts", get(example::accounts))
        .layer(layer.clone());
    tokio::spawn(example::serve_tls(listener, Arc::new(tls), app));
    (
        Server {
            addr,
            origin,
            issuer,
        },
        layer,
    )
}

async fn tls_get(
    s: &Server,
    p: &Pki,
    cert: Option<&(rustls::pki_types::CertificateDer<'static>, Vec<u8>)>,
    token: &str,
) -> Reply {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match cert {
        Some((c, k)) => builder
            .with_client_auth_cert(vec![c.clone()], key_der(k))
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::from(s.addr.ip());
    let tls = connector.connect(name, tcp).await.unwrap();
    exchange(
        TokioIo::new(tls),
        "GET",
        "/accounts",
        &s.addr.to_string(),
        &[("authorization", &format!("Bearer {token}"))],
    )
    .await
}

#[tokio::test]
async fn mtls_through_a_rustls_handshake_binds_the_certificate() {
    let p = pki();
    let (s, _) = start_tls(&p).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let r = tls_get(&s, &p, Some(&p.client), &token).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("binding").as_deref(), Some("mtls"));
    let r = tls_get(&s, &p, Some(&p.thief), &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_mismatch")
    );
    let r = tls_get(&s, &p, None, &token).await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_missing")
    );
}

fn client_cert_header(der: &[u8]) -> String {
    format!(":{}:", Base64::encode_string(der))
}

async fn proxy_server(trusted: IpPrefix) -> Server {
    start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .trust_proxies([trusted])
                .proxy_cert_header(CLIENT_CERT, CertFormat::Rfc9440),
            jwt_validator(origin, issuer),
            MemoryReplayStore::new(100),
        )
    })
    .await
    .0
}

#[tokio::test]
async fn mtls_through_a_trusted_proxy_header_binds_the_certificate() {
    let p = pki();
    let s = proxy_server(IpPrefix::parse("127.0.0.1/32").unwrap()).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let auth = format!("Bearer {token}");
    let good = client_cert_header(&p.client.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", &good)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.json("x5t"), Some(x5t.to_string()));
    let other = client_cert_header(&p.thief.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", &other)],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_mismatch")
    );
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("client-cert", ":not base64:")],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::BAD_REQUEST, "certificate_header")
    );
}

#[tokio::test]
async fn ignores_the_certificate_header_from_an_untrusted_peer() {
    let p = pki();
    let s = proxy_server(IpPrefix::parse("10.0.0.0/8").unwrap()).await;
    let x5t = keybound::mtls::x5t_s256(&p.client.0);
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_x5t_s256(x5t)),
        "read",
        300,
    );
    let header = client_cert_header(&p.client.0);
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("client-cert", &header),
        ],
    )
    .await;
    assert_eq!(
        (r.status, r.reason().as_str()),
        (StatusCode::UNAUTHORIZED, "certificate_missing")
    );
}

// ---------------------------------------------------------------- concurrency and stores

/// The same request sent `n` times at once; returns the statuses.
async fn storm(s: &Server, n: usize, path: &str, token: &str, key: &SigningKey) -> Vec<StatusCode> {
    let p = proof(key, "GET", &s.url(path), token, None);
    let auth = format!("DPoP {token}");
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (addr, auth, p, path, barrier) = (
            s.addr,
            auth.clone(),
            p.clone(),
            path.to_owned(),
            Arc::clone(&barrier),
        );
        tasks.push(tokio::spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            barrier.wait().await;
            exchange(
                TokioIo::new(tcp),
                "GET",
                &path,
                &addr.to_string(),
                &[("authorization", &auth), ("dpop", &p)],
            )
            .await
            .status
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_copies_of_one_request_yield_exactly_one_200() {
    let (s, layer) = default_server().await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let statuses = storm(&s, 200, "/accounts", &token, &key).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let replay = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!((ok, replay), (1, 199), "{statuses:?}");
    assert_eq!(layer.metrics().snapshot().rejected_with("replay"), 199);
}

/// A networked-style store: answers only asynchronously, after yielding to the runtime.
#[derive(Default)]
struct AsyncSetStore(Mutex<std::collections::HashSet<(Vec<u8>, String)>>);

impl AsyncReplayStore for AsyncSetStore {
    fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        let entry = (key.scope.to_vec(), key.jti.to_owned());
        async move {
            tokio::task::yield_now().await;
            if self.0.lock().unwrap().insert(entry) {
                Ok(())
            } else {
                Err(ReplayError::Replayed)
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_store_commits_without_blocking_and_still_admits_one_copy() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            AsyncSetStore::default(),
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let statuses = storm(&s, 50, "/accounts", &token, &key).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
}

/// A store whose answer never comes.
struct StalledStore;

impl AsyncReplayStore for StalledStore {
    fn check_and_insert_async(
        &self,
        _key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        core::future::pending()
    }
}

#[tokio::test]
async fn stalled_store_answers_503_with_retry_after_never_200() {
    let (s, layer) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .store_timeout(Duration::from_millis(200))
                .retry_after(3),
            jwt_validator(origin, issuer),
            StalledStore,
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let started = std::time::Instant::now();
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.one("retry-after").as_deref(), Some("3"));
    assert_eq!(r.json("error").as_deref(), Some("temporarily_unavailable"));
    assert_eq!(r.reason(), "store_unavailable");
    assert_no_store_json(&r);
    assert_eq!(layer.metrics().snapshot().store_unavailable, 1);
    assert_eq!(layer.metrics().snapshot().accepted_total(), 0);
}

/// A store that cannot answer (backend down): the sync (inline) path.
struct FailingStore;

impl ReplayStore for FailingStore {
    fn check_and_insert(&self, _: ReplayKey<'_>, _: u64, _: u64) -> Result<(), ReplayError> {
        Err(ReplayError::Unavailable)
    }
}

/// The same through the async path.
struct AsyncFailingStore;

impl AsyncReplayStore for AsyncFailingStore {
    fn check_and_insert_async(
        &self,
        _key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> impl Future<Output = Result<(), ReplayError>> + Send {
        async {
            tokio::task::yield_now().await;
            Err(ReplayError::Unavailable)
        }
    }
}

#[tokio::test]
async fn failing_store_answers_503_sync_and_async() {
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            FailingStore,
        )
    })
    .await;
    let key = dpop_key();
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.one("retry-after").as_deref(), Some("1"));

    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            jwt_validator(origin, issuer),
            AsyncFailingStore,
        )
    })
    .await;
    let token = s.issuer.mint(
        &s.origin,
        Some(&Confirmation::from_jkt(key.thumbprint())),
        "read",
        300,
    );
    let r = dpop_get(&s, &key, "/accounts", &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.reason(), "store_unavailable");
}

/// An introspection-style validator that cannot reach its endpoint.
struct DownValidator;

impl TokenValidator for DownValidator {
    type Future = core::future::Ready<Result<TokenInfo, TokenFailure>>;

    fn validate(&self, _token: &str, _now: u64) -> Self::Future {
        core::future::ready(Err(TokenFailure::Unavailable {
            description: "introspection endpoint refused the connection".to_owned(),
        }))
    }
}

#[tokio::test]
async fn unavailable_token_validator_answers_503() {
    let (s, layer) = start(|origin, _| {
        KeyboundLayer::new(
            GateConfig::new(origin).unwrap(),
            DownValidator,
            MemoryReplayStore::new(100),
        )
    })
    .await;
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", "Bearer opaque")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{r:?}");
    assert_eq!(r.reason(), "token_validator_unavailable");
    assert_eq!(layer.metrics().snapshot().validator_unavailable, 1);
}

#[tokio::test]
async fn metrics_render_in_prometheus_text() {
    let (s, layer) = default_server().await;
    let _ = send(s.addr, "GET", "/accounts", &[]).await;
    let text = layer.metrics().render_prometheus();
    assert!(
        text.contains("keybound_requests_total{outcome=\"rejected\",reason=\"missing_token\"} 1"),
        "{text}"
    );
}
