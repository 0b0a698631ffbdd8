//! The prepared-key cache: same verdicts as the backend, certain hits, bounded memory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]
#![cfg(all(
    feature = "std",
    feature = "p256",
    feature = "rsa",
    feature = "rs256",
    feature = "ed25519"
))]

use keybound_jose::*;

fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

fn signed(key: &SigningKey, msg: &[u8]) -> (String, Vec<u8>) {
    (key.public_jwk(), key.sign(msg, &mut rng()).unwrap())
}

#[test]
fn prepares_a_key_when_it_comes_back_and_hits_after_with_the_same_verdicts() {
    let cache = CachedVerifier::new(FastestVerifier);
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (jwk, sig) = signed(&key, b"m1");
    let jwk = Jwk::parse(jwk.as_bytes()).unwrap();
    // First seen: verified once, not prepared, not kept.
    cache.verify(Algorithm::Es256, &jwk, b"m1", &sig).unwrap();
    let s = cache.stats();
    assert_eq!(
        (s.first_seen, s.misses, s.hits, s.entries),
        (1, 0, 0, 0),
        "{s:?}"
    );
    // Back again: prepared and kept; then hits.
    for _ in 0..3 {
        cache.verify(Algorithm::Es256, &jwk, b"m1", &sig).unwrap();
    }
    assert_eq!(
        cache.verify(Algorithm::Es256, &jwk, b"m2", &sig),
        Err(VerifyError::BadSignature)
    );
    let s = cache.stats();
    assert_eq!(
        (s.first_seen, s.misses, s.hits, s.entries),
        (1, 1, 3, 1),
        "{s:?}"
    );
}

#[test]
fn keys_seen_once_fill_nothing() {
    let cache = CachedVerifier::new(FastestVerifier);
    for _ in 0..20 {
        let key = SigningKey::generate_os_rng(Algorithm::EdDsa).unwrap();
        let (jwk, sig) = signed(&key, b"m");
        let jwk = Jwk::parse(jwk.as_bytes()).unwrap();
        cache.verify(Algorithm::EdDsa, &jwk, b"m", &sig).unwrap();
    }
    let s = cache.stats();
    assert_eq!(
        (s.first_seen, s.misses, s.hits, s.entries),
        (20, 0, 0, 0),
        "{s:?}"
    );
}

#[test]
fn a_thumbprint_that_is_not_the_keys_changes_no_verdict() {
    let cache = CachedVerifier::new(FastestVerifier);
    let a = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let b = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (ja, sa) = signed(&a, b"m");
    let (jb, sb) = signed(&b, b"m");
    let ja = Jwk::parse(ja.as_bytes()).unwrap();
    let jb = Jwk::parse(jb.as_bytes()).unwrap();
    // Key a cached under its own thumbprint.
    for _ in 0..2 {
        cache.verify(Algorithm::Es256, &ja, b"m", &sa).unwrap();
    }
    assert_eq!(cache.stats().entries, 1);
    // Key b presented with a's thumbprint: the full-key comparison misses, b's own signature
    // verifies and a's does not.
    let ta = ja.thumbprint();
    assert_eq!(
        cache.verify_with_thumbprint(Algorithm::Es256, &jb, &ta, b"m", &sa),
        Err(VerifyError::BadSignature)
    );
    cache
        .verify_with_thumbprint(Algorithm::Es256, &jb, &ta, b"m", &sb)
        .unwrap();
    assert_eq!(cache.stats().hits, 0, "{:?}", cache.stats());
}

#[test]
fn no_room_for_the_table_of_keys_seen_once_caches_nothing_and_still_verifies() {
    let cache = CachedVerifier::with_limits(FastestVerifier, 64, 16);
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (jwk, sig) = signed(&key, b"m");
    let jwk = Jwk::parse(jwk.as_bytes()).unwrap();
    for _ in 0..3 {
        cache.verify(Algorithm::Es256, &jwk, b"m", &sig).unwrap();
        assert_eq!(
            cache.verify(Algorithm::Es256, &jwk, b"x", &sig),
            Err(VerifyError::BadSignature)
        );
    }
    let s = cache.stats();
    assert_eq!((s.hits, s.entries, s.bytes), (0, 0, 0), "{s:?}");
}

#[test]
fn does_not_cache_keys_that_verified_nothing() {
    let cache = CachedVerifier::new(FastestVerifier);
    let key = SigningKey::generate_os_rng(Algorithm::EdDsa).unwrap();
    let jwk = key.public_jwk();
    let jwk = Jwk::parse(jwk.as_bytes()).unwrap();
    for _ in 0..3 {
        assert_eq!(
            cache.verify(Algorithm::EdDsa, &jwk, b"m", &[0u8; 64]),
            Err(VerifyError::BadSignature)
        );
    }
    let s = cache.stats();
    assert_eq!((s.first_seen, s.misses, s.entries), (1, 2, 0), "{s:?}");
}

#[test]
fn the_same_rsa_key_under_ps256_and_rs256_is_two_entries() {
    let cache = CachedVerifier::new(FastestVerifier);
    let pss = SigningKey::generate_os_rng(Algorithm::Ps256).unwrap();
    let private = pss.private_jwk();
    let pkcs1 = SigningKey::from_jwk_with_alg(private.as_bytes(), Some(Algorithm::Rs256)).unwrap();
    let jwk_text = pss.public_jwk();
    let jwk = Jwk::parse(jwk_text.as_bytes()).unwrap();
    let sig_pss = pss.sign(b"m", &mut rng()).unwrap();
    let sig_pkcs1 = pkcs1.sign(b"m", &mut rng()).unwrap();
    for _ in 0..2 {
        cache
            .verify(Algorithm::Ps256, &jwk, b"m", &sig_pss)
            .unwrap();
        cache
            .verify(Algorithm::Rs256, &jwk, b"m", &sig_pkcs1)
            .unwrap();
    }
    assert_eq!(cache.stats().entries, 2);
    // A PKCS#1 signature never verifies through the cached PSS key, nor the reverse.
    assert_eq!(
        cache.verify(Algorithm::Ps256, &jwk, b"m", &sig_pkcs1),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        cache.verify(Algorithm::Rs256, &jwk, b"m", &sig_pss),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(cache.stats().entries, 2);
}

#[test]
fn another_key_never_hits_an_entry() {
    let cache = CachedVerifier::new(FastestVerifier);
    let a = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let b = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (ja, sa) = signed(&a, b"m");
    let (jb, _) = signed(&b, b"m");
    let ja = Jwk::parse(ja.as_bytes()).unwrap();
    let jb = Jwk::parse(jb.as_bytes()).unwrap();
    for _ in 0..2 {
        cache.verify(Algorithm::Es256, &ja, b"m", &sa).unwrap();
    }
    assert_eq!(cache.stats().entries, 1);
    assert_eq!(
        cache.verify(Algorithm::Es256, &jb, b"m", &sa),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(cache.stats().hits, 0);
}

#[test]
fn a_key_written_with_escapes_is_the_same_entry() {
    let cache = CachedVerifier::new(FastestVerifier);
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (plain, sig) = signed(&key, b"m");
    let escaped = plain.replacen("\"EC\"", "\"\\u0045C\"", 1);
    for text in [&plain, &plain, &escaped] {
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        cache.verify(Algorithm::Es256, &jwk, b"m", &sig).unwrap();
    }
    let s = cache.stats();
    assert_eq!((s.first_seen, s.misses, s.hits), (1, 1, 1), "{s:?}");
}

#[test]
fn memory_stays_within_the_entry_and_byte_bounds() {
    // 16 shards; at most 64 entries and 64 KiB in all.
    let cache = CachedVerifier::with_limits(FastestVerifier, 64, 64 * 1024);
    let mut keys = Vec::new();
    for _ in 0..300 {
        let key = SigningKey::generate_os_rng(Algorithm::EdDsa).unwrap();
        let (jwk, sig) = signed(&key, b"m");
        keys.push((jwk, sig));
    }
    // Each key twice in a row: seen once, then prepared and kept (evicting when a shard is
    // full).
    for (jwk, sig) in &keys {
        let parsed = Jwk::parse(jwk.as_bytes()).unwrap();
        for _ in 0..2 {
            cache.verify(Algorithm::EdDsa, &parsed, b"m", sig).unwrap();
            let s = cache.stats();
            assert!(s.entries <= 64 && s.bytes <= 64 * 1024, "{s:?}");
        }
    }
    assert!(cache.stats().entries > 0, "{:?}", cache.stats());
    // RSA keys are bigger: the byte bound binds first.
    let small = CachedVerifier::with_limits(FastestVerifier, 4096, 16 * 8 * 1024);
    for _ in 0..40 {
        let key = SigningKey::generate_os_rng(Algorithm::Ps256).unwrap();
        let (jwk, sig) = signed(&key, b"m");
        let parsed = Jwk::parse(jwk.as_bytes()).unwrap();
        for _ in 0..2 {
            small.verify(Algorithm::Ps256, &parsed, b"m", &sig).unwrap();
            assert!(small.stats().bytes <= 16 * 8 * 1024, "{:?}", small.stats());
        }
    }
    let s = small.stats();
    assert!(s.entries > 0 && s.entries < 40, "{s:?}");
}

#[test]
fn concurrent_verifications_share_the_cache() {
    let cache = std::sync::Arc::new(CachedVerifier::new(FastestVerifier));
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (jwk, sig) = signed(&key, b"m");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let cache = cache.clone();
            let (jwk, sig) = (jwk.clone(), sig.clone());
            std::thread::spawn(move || {
                let parsed = Jwk::parse(jwk.as_bytes()).unwrap();
                for _ in 0..50 {
                    cache.verify(Algorithm::Es256, &parsed, b"m", &sig).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = cache.stats();
    assert_eq!(s.first_seen + s.hits + s.misses, 200, "{s:?}");
    assert_eq!(s.entries, 1);
}

#[test]
fn fastest_verifier_uses_the_measured_backend_per_algorithm() {
    // The table in the fastest module: C libraries for ECDSA and RSA (aws-lc-rs first).
    let expect_c = if cfg!(feature = "aws-lc-rs") {
        Backend::AwsLc
    } else if cfg!(feature = "ring") {
        Backend::Ring
    } else {
        Backend::RustCrypto
    };
    for alg in [Algorithm::Es256, Algorithm::Ps256, Algorithm::Rs256] {
        assert_eq!(FastestVerifier::backend(alg), Some(expect_c), "{alg}");
    }
    // Ed25519: aws-lc-rs when compiled in, else ed25519-dalek (faster than ring's).
    let expect_ed = if cfg!(feature = "aws-lc-rs") {
        Backend::AwsLc
    } else {
        Backend::RustCrypto
    };
    assert_eq!(FastestVerifier::backend(Algorithm::EdDsa), Some(expect_ed));
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let text = key.public_jwk();
    let jwk = Jwk::parse(text.as_bytes()).unwrap();
    assert_eq!(
        FastestVerifier
            .prepare(Algorithm::Es256, &jwk)
            .unwrap()
            .backend(),
        expect_c
    );
}
