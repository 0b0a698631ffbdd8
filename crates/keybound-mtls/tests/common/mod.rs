//! Test fixtures: the committed certificates and the encodings proxies use to forward them.
#![allow(
    dead_code,
    clippy::type_complexity,
    clippy::std_instead_of_core,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs;
use std::path::PathBuf;

use base64ct::{Base64, Encoding};
use keybound_json::Object;

pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A certificate made by tests/data/make-certs.sh, with openssl's view of it.
pub struct OpensslCert {
    pub file: String,
    pub der: Vec<u8>,
    pub pem: Vec<u8>,
    pub x5t: String,
    pub subject: String,
    pub san: String,
    pub jwk: String,
}

pub fn openssl_certs() -> Vec<OpensslCert> {
    let json = fs::read(data("certs.json")).unwrap();
    let obj = Object::parse(&json).unwrap();
    let list = obj.get("certificates").unwrap().as_array().unwrap();
    list.iter()
        .map(|v| {
            let c = v.as_object().unwrap();
            let s = |k: &str| c.get(k).unwrap().as_str().unwrap().to_cow().into_owned();
            let file = s("file");
            OpensslCert {
                der: fs::read(data(&format!("{file}.der"))).unwrap(),
                pem: fs::read(data(&format!("{file}.pem"))).unwrap(),
                x5t: s("x5t#S256"),
                subject: s("subject_rfc2253"),
                san: s("san"),
                jwk: c
                    .get("jwk")
                    .unwrap()
                    .as_object()
                    .unwrap()
                    .as_str()
                    .to_owned(),
                file,
            }
        })
        .collect()
}

pub fn openssl_cert(name: &str) -> OpensslCert {
    openssl_certs()
        .into_iter()
        .find(|c| c.file == name)
        .unwrap()
}

/// The externally sourced vectors: (pem, der if present, expected x5t#S256).
pub fn shared_vectors() -> Vec<(String, Vec<u8>, Option<Vec<u8>>, String)> {
    let json = fs::read(data("x5t_s256/x5t_s256_vectors.json")).unwrap();
    let obj = Object::parse(&json).unwrap();
    let list = obj.get("vectors").unwrap().as_array().unwrap();
    list.iter()
        .map(|v| {
            let c = v.as_object().unwrap();
            let file = c
                .get("file")
                .unwrap()
                .as_str()
                .unwrap()
                .to_cow()
                .into_owned();
            let x5t = c
                .get("x5t#S256")
                .unwrap()
                .as_str()
                .unwrap()
                .to_cow()
                .into_owned();
            let (pem_name, der_name) = match file.split_once(" / ") {
                Some((p, d)) => (p.to_owned(), Some(d.to_owned())),
                None => (file.clone(), None),
            };
            let pem = fs::read(data(&format!("x5t_s256/{pem_name}"))).unwrap();
            let der = der_name.map(|d| fs::read(data(&format!("x5t_s256/{d}"))).unwrap());
            (pem_name, pem, der, x5t)
        })
        .collect()
}

/// PEM as openssl writes it: 64-column base64 lines.
pub fn pem_of(der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

/// nginx `$ssl_client_escaped_cert`: every byte outside RFC 3986 unreserved is %XX.
pub fn nginx_escape(pem: &str) -> String {
    let mut out = String::new();
    for b in pem.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 9440 `Client-Cert`.
pub fn rfc9440(der: &[u8]) -> String {
    format!(":{}:", Base64::encode_string(der))
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Envoy XFCC with two elements: a far proxy's and the nearest one's (last) for `der`.
pub fn xfcc(der: &[u8], hash_of: &[u8]) -> String {
    use sha2::Digest;
    let hash = hex(&sha2::Sha256::digest(hash_of));
    format!(
        "By=spiffe://far/proxy;Hash={};URI=spiffe://far/client,By=spiffe://cluster.local/ns/default/sa/api;Hash={hash};Subject=\"/C=US/CN=x,y\";Cert=\"{}\";URI=spiffe://example.com/client;DNS=client.example.com",
        "00".repeat(32),
        nginx_escape(&pem_of(der))
    )
}
