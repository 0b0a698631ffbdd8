//! The `http` crate adapter: request parts in, rejection headers out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use core::net::IpAddr;

use http::{Request, Response, Uri};
use keybound::authz::{AsConfig, AuthorizationServer, ClientKind, Grant, TokenRequest};
use keybound::cnf::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use keybound::http::{
    CLIENT_CERT, HttpRsRequest, apply_as_rejection, apply_rejection, as_rejection_response,
    client_cert_der, public_uri, rejection_response,
};
use keybound::mtls::{CertFormat, IpPrefix, TrustedProxies};
use keybound::rs::{ClientCert, ResourceServer, RsConfig};

const NOW: u64 = 1_700_000_000;

#[test]
fn public_uri_uses_the_configured_origin_and_drops_the_query() {
    let uri: Uri = "/a/b?x=1".parse().unwrap();
    assert_eq!(
        public_uri("https://api.example.com/", &uri),
        "https://api.example.com/a/b"
    );
    let abs: Uri = "http://10.0.0.5:8080/a".parse().unwrap();
    assert_eq!(
        public_uri("https://api.example.com", &abs),
        "https://api.example.com/a"
    );
}

#[test]
fn builds_the_request_with_every_dpop_value_and_verifies_it() {
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let token = "tok";
    let p = key
        .sign_proof_os_rng(
            &ProofParams::new("GET", "https://api.example.com/r", NOW).with_access_token(token),
        )
        .unwrap();
    let req = Request::get("/r?q=1")
        .header("authorization", "DPoP tok")
        .header("dpop", &p)
        .body(())
        .unwrap();
    let h = HttpRsRequest::from_request(&req, "https://api.example.com");
    assert_eq!(h.uri(), "https://api.example.com/r");
    let rs = ResourceServer::new(RsConfig::new(MemoryReplayStore::new(16)));
    let cnf = Confirmation::from_jkt(key.thumbprint());
    assert!(rs.verify(&h.as_rs_request(), &cnf, NOW).is_ok());

    // Two DPoP fields are two proofs.
    let req = Request::get("/r")
        .header("authorization", "DPoP tok")
        .header("dpop", &p)
        .header("dpop", &p)
        .body(())
        .unwrap();
    let (parts, ()) = req.into_parts();
    let h = HttpRsRequest::from_parts(&parts, "https://api.example.com");
    let rej = rs.verify(&h.as_rs_request(), &cnf, NOW).unwrap_err();
    assert_eq!(rej.reason(), "malformed");
}

#[test]
fn rejection_sets_status_challenges_nonce_and_no_store() {
    let rs = ResourceServer::new(
        RsConfig::new(MemoryReplayStore::new(16)).with_nonce(HmacNonceSource::new([3; 32], 60)),
    );
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let p = key
        .sign_proof_os_rng(
            &ProofParams::new("GET", "https://api.example.com/r", NOW).with_access_token("tok"),
        )
        .unwrap();
    let req = Request::get("/r")
        .header("authorization", "DPoP tok")
        .header("dpop", &p)
        .body(())
        .unwrap();
    let h = HttpRsRequest::from_request(&req, "https://api.example.com");
    let rej = rs
        .verify(
            &h.as_rs_request(),
            &Confirmation::from_jkt(key.thumbprint()),
            NOW,
        )
        .unwrap_err();
    let resp: Response<()> = apply_rejection(&rej, Response::builder()).body(()).unwrap();
    assert_eq!(resp.status(), 401);
    let ch = resp
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(ch.starts_with("DPoP error=\"use_dpop_nonce\""), "{ch}");
    assert_eq!(
        resp.headers().get("dpop-nonce").unwrap().to_str().unwrap(),
        rej.dpop_nonce().unwrap()
    );
    assert_eq!(resp.headers().get_all("dpop-nonce").iter().count(), 1);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");

    // No token: two WWW-Authenticate fields.
    let req = Request::get("/r").body(()).unwrap();
    let h = HttpRsRequest::from_request(&req, "https://api.example.com");
    let rej = rs
        .verify(&h.as_rs_request(), &Confirmation::new(), NOW)
        .unwrap_err();
    let resp = rejection_response(&rej, ());
    assert_eq!(resp.headers().get_all("www-authenticate").iter().count(), 2);
}

#[test]
fn as_rejection_is_a_400_json_no_store_response() {
    let server = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(16)).require_proof_of_possession(true),
    );
    let req = TokenRequest::new(
        "https://as.example.com/token",
        ClientKind::Public,
        Grant::Other,
    );
    let rej = server.check_token_request(&req, NOW).unwrap_err();
    let resp = as_rejection_response(&rej);
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    assert!(resp.body().starts_with(r#"{"error":"invalid_request","#));
    assert_eq!(resp.headers().get_all("dpop-nonce").iter().count(), 0);

    // use_dpop_nonce: exactly one DPoP-Nonce field (RFC 9449 §8).
    let nonce_server = AuthorizationServer::new(
        AsConfig::new(MemoryReplayStore::new(16)).with_nonce(HmacNonceSource::new([5; 32], 60)),
    );
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let p = key
        .sign_proof_os_rng(&ProofParams::new(
            "POST",
            "https://as.example.com/token",
            NOW,
        ))
        .unwrap();
    let dpop: &[&[u8]] = &[p.as_bytes()];
    let rej = nonce_server
        .check_token_request(&req.with_dpop(dpop), NOW)
        .unwrap_err();
    assert_eq!(rej.error(), "use_dpop_nonce");
    let resp = as_rejection_response(&rej);
    assert_eq!(resp.headers().get_all("dpop-nonce").iter().count(), 1);
    assert_eq!(
        resp.headers().get("dpop-nonce").unwrap(),
        rej.dpop_nonce().unwrap()
    );
    let built = apply_as_rejection(&rej, Response::builder())
        .body(())
        .unwrap();
    assert_eq!(built.status(), 400);
}

#[test]
fn client_certificate_header_is_trusted_only_from_trusted_proxies() {
    let der = rcgen::generate_simple_self_signed(vec!["c.example".to_owned()])
        .unwrap()
        .cert
        .der()
        .to_vec();
    let value = format!(
        ":{}:",
        <base64ct::Base64 as base64ct::Encoding>::encode_string(&der)
    );
    let req = Request::get("/r")
        .header("client-cert", &value)
        .body(())
        .unwrap();
    static LOOPBACK: [IpPrefix; 1] = [IpPrefix::v4(127, 0, 0, 0, 8)];
    let trusted = TrustedProxies::peers(&LOOPBACK, CertFormat::Rfc9440);
    let proxy: IpAddr = "127.0.0.1".parse().unwrap();
    let stranger: IpAddr = "192.0.2.7".parse().unwrap();
    let got = client_cert_der(req.headers(), &CLIENT_CERT, &trusted, proxy, None).unwrap();
    assert_eq!(got.as_deref(), Some(&der[..]));
    let got = client_cert_der(req.headers(), &CLIENT_CERT, &trusted, stranger, None).unwrap();
    assert_eq!(got, None);
    let h = HttpRsRequest::from_request(&req, "https://x.example")
        .with_client_cert(ClientCert::Der(&der));
    assert!(h.as_rs_request().client_cert.is_some());
}
