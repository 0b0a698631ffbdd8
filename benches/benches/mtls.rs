//! RFC 8705 costs against their floors, in the same run.
//!
//! - `x5t_s256`: framing check + SHA-256 of a 1165-byte certificate (10 RDNs, 11 SANs) vs bare SHA-256 of the
//!   same bytes (`sha256_floor`);
//! - `nginx_decode_x5t`: `$ssl_client_escaped_cert` → percent-decoding → PEM → DER → thumbprint,
//!   and the same for RFC 9440 `Client-Cert`;
//! - `dn_match`: a registered RFC 4514 DN against an already parsed subject, and the full
//!   `tls_client_auth` check from DER (x509 parse included).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use core::hint::black_box;

use base64ct::{Base64, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use keybound_mtls::client_auth::{TlsClientAuth, TlsClientAuthId};
use keybound_mtls::dn::DistinguishedName;
use keybound_mtls::header::{decode_nginx_escaped, decode_rfc9440_client_cert};
use keybound_mtls::{CertDer, ParsedCertificate};
use sha2::{Digest, Sha256};

const CERT: &[u8] = include_bytes!("../../crates/keybound-mtls/tests/data/long-subject.der");
const SUBJECT: &str = "CN=long-subject.example.org,serialNumber=12345678,emailAddress=long.subject@example.org,\
    OU=Second Unit,OU=UnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnit,\
    O=A Very Long Organisation Name For Testing Limits Ltd,street=1 Long Street,L=London,ST=Greater London,C=GB";

fn nginx_header(der: &[u8]) -> String {
    let b64 = Base64::encode_string(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(core::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn thumbprints(c: &mut Criterion) {
    let mut g = c.benchmark_group("x5t_s256");
    g.bench_function("sha256_floor", |b| {
        b.iter(|| Sha256::digest(black_box(CERT)))
    });
    g.bench_function("checked", |b| {
        b.iter(|| CertDer::new(black_box(CERT)).unwrap().thumbprint())
    });
    g.bench_function("unchecked", |b| {
        b.iter(|| keybound_mtls::x5t_s256(black_box(CERT)))
    });
    g.finish();

    let nginx = nginx_header(CERT);
    let rfc9440 = format!(":{}:", Base64::encode_string(CERT));
    let mut buf = vec![0u8; nginx.len()];
    let mut g = c.benchmark_group("nginx_decode_x5t");
    g.bench_function("nginx", |b| {
        b.iter(|| {
            decode_nginx_escaped(black_box(nginx.as_bytes()), &mut buf)
                .unwrap()
                .thumbprint()
        })
    });
    g.bench_function("rfc9440", |b| {
        b.iter(|| {
            decode_rfc9440_client_cert(black_box(rfc9440.as_bytes()), &mut buf)
                .unwrap()
                .thumbprint()
        })
    });
    g.finish();
}

fn dn_match(c: &mut Criterion) {
    let parsed = ParsedCertificate::from_der(CERT).unwrap();
    let registered = DistinguishedName::parse(SUBJECT).unwrap();
    let auth = TlsClientAuth::new(TlsClientAuthId::SubjectDn(SUBJECT)).unwrap();
    let mut g = c.benchmark_group("dn_match");
    g.bench_function("match_parsed", |b| {
        b.iter(|| black_box(&registered).matches(parsed.subject()).unwrap())
    });
    g.bench_function("parse_and_match", |b| {
        b.iter(|| {
            DistinguishedName::parse(black_box(SUBJECT))
                .unwrap()
                .matches(parsed.subject())
                .unwrap()
        })
    });
    g.bench_function("tls_client_auth_from_der", |b| {
        b.iter(|| auth.verify_der(black_box(CERT)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, thumbprints, dn_match);
criterion_main!(benches);
