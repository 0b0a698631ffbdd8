//! `rediss://` against a real `redis-server` with TLS on, trusting a throwaway CA (feature
//! `tls`).
#![cfg(feature = "tls")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "tests"
)]

mod common;

use common::{opts, ready, server, submit};
use keybound_redis::conformance::servers::free_port;
use keybound_redis::conformance::{Kit, SystemClock};
use keybound_redis::{RedisReplayStore, RedisStoreError, ReplayError};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};

/// A CA and a server certificate for 127.0.0.1, as PEM: (ca, server cert, server key).
fn pki() -> (String, String, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "keybound-redis test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let issuer: &rcgen::Issuer<'_, KeyPair> = &ca;
    let cert = params.signed_by(&key, issuer).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_with_a_private_ca_passes_the_kit_and_refuses_an_unknown_ca() {
    let (ca, cert, key) = pki();
    let dir = std::env::temp_dir().join(format!("keybound-redis-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let (ca_file, cert_file, key_file) = (
        write("ca.pem", &ca),
        write("cert.pem", &cert),
        write("key.pem", &key),
    );
    let tls_port = free_port().unwrap();
    let tls_port_s = tls_port.to_string();
    let srv = server(&[
        "--tls-port",
        &tls_port_s,
        "--tls-cert-file",
        &cert_file,
        "--tls-key-file",
        &key_file,
        "--tls-ca-cert-file",
        &ca_file,
        "--tls-auth-clients",
        "no",
    ]);
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let store = ready(&url, opts().with_tls_root_certificates(ca.as_bytes())).await;
    let clock = SystemClock;
    let kit = Kit::new(&store, &clock);
    assert_eq!(kit.double_submit().await, Ok(()));
    assert_eq!(kit.concurrent_submit(16).await, Ok(()));
    assert_eq!(submit(&store, "s", "j").await, Ok(()));
    assert_eq!(submit(&store, "s", "j").await, Err(ReplayError::Replayed));
    // Without the CA (system roots only) the handshake fails: no store.
    let err = RedisReplayStore::connect(&url, opts()).await.unwrap_err();
    assert!(
        matches!(err, RedisStoreError::Unreachable { .. }),
        "{err:?}"
    );
    drop(srv);
    let _ = std::fs::remove_dir_all(&dir);
}
