//! Shared helpers: deterministic keys, a JWKS for them, and token building.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::std_instead_of_core,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use std::convert::Infallible;
use std::sync::OnceLock;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use keybound_jwt::jose::{Algorithm, SigningKey};
use keybound_jwt::{Jwks, TokenClaims, TokenPolicy, mint};
use rand_core::{TryCryptoRng, TryRng};
use sha2::{Digest, Sha256};

pub const NOW: u64 = 1_700_000_000;
pub const ISS: &str = "https://as.example.com";
pub const AUD: &str = "https://rs.example.com";

/// SHA-256 in counter mode: deterministic test keys and signatures.
pub struct TestRng {
    seed: [u8; 32],
    counter: u64,
}

impl TestRng {
    pub fn new(seed: u64) -> Self {
        TestRng {
            seed: Sha256::digest(seed.to_le_bytes()).into(),
            counter: 0,
        }
    }
}

impl TryRng for TestRng {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dst.chunks_mut(32) {
            let mut h = Sha256::new();
            h.update(self.seed);
            h.update(self.counter.to_le_bytes());
            self.counter += 1;
            let out = h.finalize();
            chunk.copy_from_slice(&out[..chunk.len()]);
        }
        Ok(())
    }
}

impl TryCryptoRng for TestRng {}

pub fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// One deterministic key per algorithm (seeded by `seed`).
pub fn key(alg: Algorithm, seed: u64) -> &'static SigningKey {
    type Keys = std::sync::Mutex<Vec<((Algorithm, u64), &'static SigningKey)>>;
    static KEYS: OnceLock<Keys> = OnceLock::new();
    let keys = KEYS.get_or_init(Default::default);
    let mut keys = keys.lock().unwrap();
    if let Some((_, k)) = keys.iter().find(|(id, _)| *id == (alg, seed)) {
        return k;
    }
    let k: &'static SigningKey = Box::leak(Box::new(
        SigningKey::generate(alg, &mut TestRng::new(seed * 31 + alg_index(alg))).unwrap(),
    ));
    keys.push(((alg, seed), k));
    k
}

/// A public JWK with `kid` (and extra members) for `key`.
pub fn public_jwk(key: &SigningKey, kid: &str, extra: &str) -> String {
    let jwk = key.public_jwk();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!(",{extra}")
    };
    jwk.replacen('{', &format!(r#"{{"kid":"{kid}"{extra},"#), 1)
}

/// The issuer's JWKS: one key per algorithm, kids `es256`, `es384`, `ps256`, `rs256`, `eddsa`.
pub fn jwks() -> &'static Jwks {
    static J: OnceLock<Jwks> = OnceLock::new();
    J.get_or_init(|| {
        let keys: Vec<String> = ALGS
            .iter()
            .map(|(alg, kid)| public_jwk(key(*alg, 1), kid, ""))
            .collect();
        Jwks::parse(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
    })
}

pub const ALGS: [(Algorithm, &str); 5] = [
    (Algorithm::Es256, "es256"),
    (Algorithm::Es384, "es384"),
    (Algorithm::Ps256, "ps256"),
    (Algorithm::Rs256, "rs256"),
    (Algorithm::EdDsa, "eddsa"),
];

pub fn policy() -> TokenPolicy<'static> {
    TokenPolicy::new(ISS, AUD)
}

/// The standard claims JSON of a good token at `NOW`.
pub fn claims_json() -> String {
    TokenClaims::new(ISS, "alice", &[AUD], "client-1", NOW, NOW + 300, "jti-1")
        .with_scope("read write")
        .to_json()
}

/// A good ES256 token with kid `es256`.
pub fn good() -> String {
    signed(
        Algorithm::Es256,
        r#"{"typ":"at+jwt","alg":"ES256","kid":"es256"}"#,
        &claims_json(),
    )
}

/// `header` and `payload` signed with the issuer key of `alg`.
pub fn signed(alg: Algorithm, header: &str, payload: &str) -> String {
    key(alg, 1)
        .sign_compact(header.as_bytes(), payload.as_bytes(), &mut TestRng::new(9))
        .unwrap()
}

/// A token minted by the library for `alg` with kid.
pub fn minted(alg: Algorithm, kid: &str) -> String {
    let claims = TokenClaims::new(ISS, "alice", &[AUD], "client-1", NOW, NOW + 300, "jti-1");
    mint(key(alg, 1), Some(kid), &claims, &mut TestRng::new(5)).unwrap()
}

/// The claims JSON with `from` replaced by `to` (once).
pub fn claims_with(from: &str, to: &str) -> String {
    let c = claims_json();
    assert!(c.contains(from), "{from} not in {c}");
    c.replacen(from, to, 1)
}

fn alg_index(alg: Algorithm) -> u64 {
    Algorithm::ALL.iter().position(|a| *a == alg).unwrap() as u64
}
