//! The layer's `tracing` events, in a test binary of its own: a thread-scoped subscriber
//! (`set_default`) only sees a callsite's events reliably when no other test registers the
//! same callsites concurrently (tracing-core caches each callsite's interest process-wide;
//! a registration racing the scoped subscriber's could cache "never" and lose an event).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    clippy::manual_async_fn,
    missing_docs,
    unreachable_pub,
    dead_code,
    unused_imports
)]

include!("support/common.rs");

/// Collects what the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_one_event_per_decision_without_token_proof_or_nonce() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (s, _) = start(|origin, issuer| {
        KeyboundLayer::new(
            GateConfig::new(origin)
                .unwrap()
                .with_nonce(HmacNonceSource::new([9; 32], 60)),
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
    let first = proof(&key, "GET", &s.url("/accounts"), &token, None);
    let auth = format!("DPoP {token}");
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &first)],
    )
    .await;
    let nonce = r.one("dpop-nonce").unwrap();
    let p = proof(&key, "GET", &s.url("/accounts"), &token, Some(&nonce));
    let r = send(
        s.addr,
        "GET",
        "/accounts",
        &[("authorization", &auth), ("dpop", &p)],
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let decisions: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("keybound decision"))
        .collect();
    assert_eq!(decisions.len(), 2, "{text}");
    assert!(
        decisions[0].contains("outcome=\"rejected\"") && decisions[0].contains("reason=\"nonce\""),
        "{text}"
    );
    assert!(
        decisions[1].contains("outcome=\"accepted\"") && decisions[1].contains("binding=\"dpop\""),
        "{text}"
    );
    let jkt = key.thumbprint().to_string();
    assert!(
        decisions[1].contains(&format!("jkt={}", &jkt[..8])),
        "{text}"
    );
    assert!(decisions[1].contains("latency_us="), "{text}");
    for secret in [
        token.as_str(),
        first.as_str(),
        p.as_str(),
        nonce.as_str(),
        jkt.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "the log must not carry tokens, proofs, nonces or whole thumbprints"
        );
    }
}
