//! `keybound token verify`: RFC 9068 tokens against a JWKS file, exact JSON and exit codes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use std::path::PathBuf;
use std::process::Output;

use assert_cmd::Command;
use keybound::cnf::Confirmation;
use keybound::jose::{Algorithm, SigningKey};
use keybound::jwt::{TokenClaims, mint};
use serde_json::Value;

const NOW: u64 = 1_700_000_000;
const ISS: &str = "https://as.example.com";
const AUD: &str = "https://api.example.com";

struct Fixture {
    dir: PathBuf,
    key: SigningKey,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir =
            std::env::temp_dir().join(format!("keybound-token-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = SigningKey::generate_os_rng(Algorithm::Es256).unwrap();
        let public = key.public_jwk().replacen('{', r#"{"kid":"k1","#, 1);
        std::fs::write(dir.join("jwks.json"), format!(r#"{{"keys":[{public}]}}"#)).unwrap();
        Fixture { dir, key }
    }

    fn jwks(&self) -> String {
        self.dir.join("jwks.json").to_str().unwrap().to_owned()
    }

    fn token(&self, cnf: Option<&Confirmation>, exp: u64) -> String {
        let mut claims =
            TokenClaims::new(ISS, "alice", &[AUD], "client-1", NOW, exp, "t-1").with_scope("read");
        if let Some(cnf) = cnf {
            claims = claims.with_cnf(cnf);
        }
        mint(
            &self.key,
            Some("k1"),
            &claims,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn verify(f: &Fixture, extra: &[&str], token: &str) -> Output {
    let jwks = f.jwks();
    let mut args = vec![
        "token",
        "verify",
        "--jwks",
        &jwks,
        "--issuer",
        ISS,
        "--audience",
        AUD,
    ];
    args.extend_from_slice(extra);
    args.push(token);
    Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args(&args)
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn token_verify_prints_claims_and_cnf_and_exits_0() {
    let f = Fixture::new("ok");
    let jkt = SigningKey::generate_os_rng(Algorithm::EdDsa)
        .unwrap()
        .thumbprint();
    let token = f.token(Some(&Confirmation::from_jkt(jkt)), NOW + 300);
    let out = verify(&f, &["--now", &NOW.to_string()], &token);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["valid"], true);
    assert_eq!(v["claims"]["sub"], "alice");
    assert_eq!(v["claims"]["scope"], "read");
    assert_eq!(v["cnf"]["jkt"], jkt.to_string());
    assert_eq!(
        (v["alg"].as_str(), v["kid"].as_str()),
        (Some("ES256"), Some("k1"))
    );
    // From standard input too.
    let jwks = f.jwks();
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args([
            "token",
            "verify",
            "--jwks",
            &jwks,
            "--issuer",
            ISS,
            "--audience",
            AUD,
        ])
        .args(["--now", &NOW.to_string(), "-"])
        .write_stdin(format!("{token}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["cnf"]["jkt"], jkt.to_string());
}

#[test]
fn token_verify_reports_the_member_at_fault_and_exits_1() {
    let f = Fixture::new("bad");
    let token = f.token(None, NOW + 300);
    let late = (NOW + 400).to_string();
    let out = verify(&f, &["--now", &late], &token);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out);
    assert_eq!(
        (
            v["valid"].as_bool(),
            v["error"].as_str(),
            v["reason"].as_str()
        ),
        (Some(false), Some("invalid_token"), Some("exp"))
    );
    assert!(v["detail"].as_str().unwrap().contains("expired"), "{v}");
    let out = verify(&f, &["--now", &NOW.to_string()], "not.a.jwt");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["reason"], "malformed");
    // Another audience.
    let jwks = f.jwks();
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args(["token", "verify", "--jwks", &jwks, "--issuer", ISS])
        .args([
            "--audience",
            "https://other.example.com",
            "--now",
            &NOW.to_string(),
            &token,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out)["reason"], "aud");
}

#[test]
fn token_verify_usage_errors_exit_2() {
    let f = Fixture::new("usage");
    let token = f.token(None, NOW + 300);
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args(["token", "verify", "--jwks", "/nonexistent/jwks.json"])
        .args(["--issuer", ISS, "--audience", AUD, &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not found"));
    std::fs::write(
        f.dir.join("bad.json"),
        r#"{"keys":[{"kty":"oct","k":"AA"}]}"#,
    )
    .unwrap();
    let bad = f.dir.join("bad.json");
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args(["token", "verify", "--jwks", bad.to_str().unwrap()])
        .args(["--issuer", ISS, "--audience", AUD, &token])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("private or symmetric"),
        "{out:?}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args([
            "token",
            "verify",
            "--issuer",
            ISS,
            "--audience",
            AUD,
            &token,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
