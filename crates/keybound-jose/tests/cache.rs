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
fn hits_after_the_first_verification_and_gives_the_same_verdicts() {
    let cache = CachedVerifier::new(FastestVerifier);
    let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
    let (jwk, sig) = signed(&key, b"m1");
    let jwk = Jwk::parse(jwk.as_bytes()).unwrap();
    for _ in 0..3 {
        cache.verify(Algorithm::Es256, &jwk, b"m1", &sig).unwrap();
    }
    assert_eq!(
        cache.verify(Algorithm::Es256, &jwk, b"m2", &sig),
        Err(VerifyError::BadSignature)
    );
    let s = cache.stats();
    assert_eq!((s.misses, s.hits, s.entries), (1, 3, 1), "{s:?}");
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
    assert_eq!(cache.stats().entries, 0);
    assert_eq!(cache.stats().misses, 3);
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
    cache
        .verify(Algorithm::Ps256, &jwk, b"m", &sig_pss)
        .unwrap();
    cache
        .verify(Algorithm::Rs256, &jwk, b"m", &sig_pkcs1)
        .unwrap();
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
    cache.verify(Algorithm::Es256, &ja, b"m", &sa).unwrap();
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
    for text in [&plain, &escaped] {
        let jwk = Jwk::parse(text.as_bytes()).unwrap();
        cache.verify(Algorithm::Es256, &jwk, b"m", &sig).unwrap();
    }
    assert_eq!((cache.stats().misses, cache.stats().hits), (1, 1));
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
    for (jwk, sig) in &keys {
        let parsed = Jwk::parse(jwk.as_bytes()).unwrap();
        cache.verify(Algorithm::EdDsa, &parsed, b"m", sig).unwrap();
        let s = cache.stats();
        assert!(s.entries <= 64 && s.bytes <= 64 * 1024, "{s:?}");
    }
    // RSA keys are bigger: the byte bound binds first.
    let small = CachedVerifier::with_limits(FastestVerifier, 4096, 16 * 8 * 1024);
    for _ in 0..40 {
        let key = SigningKey::generate_os_rng(Algorithm::Ps256).unwrap();
        let (jwk, sig) = signed(&key, b"m");
        let parsed = Jwk::parse(jwk.as_bytes()).unwrap();
        small.verify(Algorithm::Ps256, &parsed, b"m", &sig).unwrap();
        assert!(small.stats().bytes <= 16 * 8 * 1024, "{:?}", small.stats());
    }
    assert!(small.stats().entries < 40);
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
    assert_eq!(s.hits + s.misses, 200);
    assert_eq!(s.entries, 1);
}

#[test]
fn fastest_verifier_uses_the_measured_backend_per_algorithm() {
    // The table in the fastest module: C libraries for ECDSA and RSA, dalek for Ed25519.
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
    assert_eq!(
        FastestVerifier::backend(Algorithm::EdDsa),
        Some(Backend::RustCrypto)
    );
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
