//! Drives `examples/axum_resource_server.rs` (the token endpoint, and the resource behind
//! `KeyboundLayer`) over real HTTP/1.1 on 127.0.0.1 with real DPoP
//! proofs and real certificates (forwarded in `Client-Cert` as the trusted proxy would).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

#[allow(dead_code, unreachable_pub, missing_docs)]
#[path = "../examples/axum_resource_server.rs"]
mod example;

use core::net::SocketAddr;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::sync::OnceLock;

use base64ct::{Base64, Encoding as _};
use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use keybound::json::Object;

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json_str(&self, member: &str) -> String {
        let obj = Object::parse(self.body.as_bytes()).unwrap();
        obj.get(member)
            .and_then(|v| v.as_str())
            .and_then(|s| s.as_plain())
            .unwrap()
            .to_owned()
    }
}

/// One server for the whole file, on its own runtime thread.
fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let addr = listener.local_addr().unwrap();
                tx.send(addr).unwrap();
                example::serve(listener, format!("http://{addr}"))
                    .await
                    .unwrap();
            });
        });
        rx.recv().unwrap()
    })
}

fn origin() -> String {
    format!("http://{}", server())
}

fn send(method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let addr = server();
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str("Content-Type: application/x-www-form-urlencoded\r\n");
        let body = "grant_type=client_credentials";
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        req.push_str("\r\n");
    }
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .map(|l| {
            let (n, v) = l.split_once(':').unwrap();
            (n.trim().to_owned(), v.trim().to_owned())
        })
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn key() -> SigningKey {
    SigningKey::generate_os_rng(Algorithm::Es256).unwrap()
}

fn now() -> u64 {
    keybound::unix_now()
}

fn proof(key: &SigningKey, method: &str, path: &str, token: Option<&str>) -> String {
    let htu = format!("{}{path}", origin());
    let mut p = ProofParams::new(method, &htu, now());
    if let Some(t) = token {
        p = p.with_access_token(t);
    }
    key.sign_proof_os_rng(&p).unwrap()
}

fn client_cert_header(der: &[u8]) -> String {
    format!(":{}:", Base64::encode_string(der))
}

fn cert() -> Vec<u8> {
    rcgen::generate_simple_self_signed(vec!["client.example".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec()
}

/// A DPoP-bound token for `key`.
fn dpop_token(key: &SigningKey) -> String {
    let p = proof(key, "POST", "/token", None);
    let r = send("POST", "/token", &[("DPoP", &p)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json_str("token_type"), "DPoP");
    r.json_str("access_token")
}

#[test]
fn dpop_bound_token_flow_over_http() {
    let client = key();
    let thief = key();
    let token = dpop_token(&client);
    let auth = format!("DPoP {token}");

    // Legitimate request.
    let p = proof(&client, "GET", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 200, "{:?} {}", r.headers, r.body);
    assert!(r.body.contains(r#""bound_by":"dpop""#));

    // The same proof again: replay.
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 401);
    let ch = r.header_all("www-authenticate");
    assert!(
        ch[0].starts_with("DPoP error=\"invalid_dpop_proof\""),
        "{ch:?}"
    );

    // Stolen token as Bearer.
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &format!("Bearer {token}"))],
    );
    assert_eq!(r.status, 401);
    assert!(r.header_all("www-authenticate")[0].starts_with("DPoP error=\"invalid_token\""));

    // Stolen token with the thief's own key.
    let p = proof(&thief, "GET", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 401);
    assert!(r.header_all("www-authenticate")[0].contains("invalid_dpop_proof"));

    // A proof captured for another URI.
    let p = proof(&client, "GET", "/token", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 401);

    // A proof for another method.
    let p = proof(&client, "DELETE", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 401);

    // Lower-case scheme is fine; a fresh proof is accepted.
    let p = proof(&client, "GET", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &format!("dpop {token}")), ("DPoP", &p)],
    );
    assert_eq!(r.status, 200);
}

#[test]
fn certificate_bound_token_flow_over_http() {
    let good = cert();
    let bad = cert();
    let r = send(
        "POST",
        "/token",
        &[("Client-Cert", &client_cert_header(&good))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json_str("token_type"), "Bearer");
    let token = r.json_str("access_token");
    let auth = format!("Bearer {token}");

    let r = send(
        "GET",
        "/accounts",
        &[
            ("Authorization", &auth),
            ("Client-Cert", &client_cert_header(&good)),
        ],
    );
    assert_eq!(r.status, 200, "{:?} {}", r.headers, r.body);
    assert!(r.body.contains(r#""bound_by":"mtls""#));

    let r = send(
        "GET",
        "/accounts",
        &[
            ("Authorization", &auth),
            ("Client-Cert", &client_cert_header(&bad)),
        ],
    );
    assert_eq!(r.status, 401);
    assert!(r.header_all("www-authenticate")[0].starts_with("Bearer error=\"invalid_token\""));

    let r = send("GET", "/accounts", &[("Authorization", &auth)]);
    assert_eq!(r.status, 401);
}

#[test]
fn token_bound_to_both_over_http() {
    let client = key();
    let good = cert();
    let p = proof(&client, "POST", "/token", None);
    let r = send(
        "POST",
        "/token",
        &[("DPoP", &p), ("Client-Cert", &client_cert_header(&good))],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json_str("access_token");
    let auth = format!("DPoP {token}");
    let p = proof(&client, "GET", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[
            ("Authorization", &auth),
            ("DPoP", &p),
            ("Client-Cert", &client_cert_header(&good)),
        ],
    );
    assert_eq!(r.status, 200);
    assert!(r.body.contains(r#""bound_by":"dpop+mtls""#));
    let p = proof(&client, "GET", "/accounts", Some(&token));
    let r = send(
        "GET",
        "/accounts",
        &[("Authorization", &auth), ("DPoP", &p)],
    );
    assert_eq!(r.status, 401);
}

#[test]
fn challenges_and_errors_over_http() {
    // No token: both challenges, as separate header fields.
    let r = send("GET", "/accounts", &[]);
    assert_eq!(r.status, 401);
    let ch = r.header_all("www-authenticate");
    assert_eq!(ch.len(), 2, "{ch:?}");
    assert!(ch[0].starts_with("Bearer resource_metadata=\""), "{ch:?}");
    assert!(ch[1].starts_with("DPoP algs=\""));
    assert_eq!(r.header_all("cache-control"), ["no-store"]);

    // Unknown token.
    let r = send("GET", "/accounts", &[("Authorization", "Bearer nope")]);
    assert_eq!(r.status, 401);
    assert!(r.header_all("www-authenticate")[0].starts_with("Bearer error=\"invalid_token\""));

    // Malformed Authorization.
    let r = send("GET", "/accounts", &[("Authorization", "Bearer a b")]);
    assert_eq!(r.status, 400);

    // The token endpoint refuses a request without proof of possession, and a bad proof.
    let r = send("POST", "/token", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json_str("error"), "invalid_request");
    let r = send("POST", "/token", &[("DPoP", "not.a.proof")]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json_str("error"), "invalid_dpop_proof");
    assert_eq!(r.header_all("cache-control"), ["no-store"]);
}
