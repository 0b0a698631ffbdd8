//! Runs the built `keybound` binary for every subcommand, with good and bad input, and
//! checks exit codes, outputs and messages. Vectors: `tests/data/README.md`.
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
use serde_json::Value;

const RFC7638_TP: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";
const RFC8037_TP: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
const RFC9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";
const RFC9449_AT: &str = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
const TOKEN_URL: &str = "https://server.example.com/token";
const RESOURCE_URL: &str = "https://resource.example.org/protectedresource";
/// Four seconds after the Figure 2 proof's iat.
const FIG2_NOW: &str = "1562262620";

const CERTS: [(&str, &str); 4] = [
    ("client-ec", "b64vARhu5-uc_o22lv2IqtMVVl7t7ivnjknOoRqA0Ww"),
    ("client-rsa", "A4Sar00h_bPaaAgmpdB-jarIH1DezpZmhltvDlyM0cU"),
    (
        "oidc-provider-fapi-mtls1",
        "E-TFTHXRZVsBSvZ5p5mc7ZZMle2Urpv9yr9PdGcOqXQ",
    ),
    (
        "oidc-provider-fapi-mtls2",
        "B_QzvtQ9biL043xj_ADE7e9MUdWwbdAr3W3W7JHbK9c",
    ),
];

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn data_str(name: &str) -> String {
    data(name).to_str().unwrap().to_owned()
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name))
        .unwrap()
        .trim()
        .to_owned()
}

fn keybound() -> Command {
    Command::new(env!("CARGO_BIN_EXE_keybound"))
}

fn run(args: &[&str]) -> Output {
    keybound().args(args).output().unwrap()
}

fn run_stdin(args: &[&str], stdin: impl Into<Vec<u8>>) -> Output {
    keybound().args(args).write_stdin(stdin).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

#[track_caller]
fn assert_ok(o: &Output) -> String {
    assert_eq!(code(o), 0, "stderr: {}\nstdout: {}", stderr(o), stdout(o));
    stdout(o).trim_end().to_owned()
}

/// A usage error: exit 2, nothing on stdout, one `error:` line on stderr containing `needle`.
#[track_caller]
fn assert_usage_error(o: &Output, needle: &str) {
    assert_eq!(code(o), 2, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    assert!(o.stdout.is_empty(), "stdout: {}", stdout(o));
    let err = stderr(o);
    assert!(err.contains(needle), "stderr {err:?} lacks {needle:?}");
}

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not JSON ({e}): {s}"))
}

/// base64url without padding (to craft proofs with altered headers).
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The Figure 2 proof with its header replaced (signature left as is).
fn fig2_with_header(header: &str) -> String {
    let proof = read("rfc9449_fig2.proof");
    let (_, rest) = proof.split_once('.').unwrap();
    format!("{}.{rest}", b64url(header.as_bytes()))
}

fn verify_fig2(extra: &[&str], proof: &str) -> Output {
    let mut args = vec!["dpop", "verify", "--htm", "POST", "--htu", TOKEN_URL];
    args.extend_from_slice(extra);
    args.push(proof);
    run(&args)
}

/// Runs `dpop verify`, expects exit 1 and returns the JSON answer.
#[track_caller]
fn rejected(o: &Output, error: &str, reason: &str) -> Value {
    assert_eq!(code(o), 1, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let v = json(stdout(o).trim());
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["error"], error, "{v}");
    assert_eq!(v["reason"], reason, "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    v
}

// ------------------------------------------------------------------------------------
// help

#[test]
fn help_lists_commands_and_examples() {
    let out = assert_ok(&run(&["--help"]));
    for word in ["jwk", "cert", "dpop", "profile", "demo", "Examples"] {
        assert!(out.contains(word), "{word} missing from --help");
    }
    let verify = assert_ok(&run(&["dpop", "verify", "--help"]));
    assert!(verify.contains("key_binding") && verify.contains("--batch"));
}

#[test]
fn no_subcommand_is_a_usage_error() {
    assert_eq!(code(&run(&[])), 2);
    assert_eq!(code(&run(&["frobnicate"])), 2);
}

// ------------------------------------------------------------------------------------
// jwk thumbprint

#[test]
fn jwk_thumbprint_rfc7638_example() {
    let out = assert_ok(&run(&[
        "jwk",
        "thumbprint",
        &data_str("rfc7638_rsa.jwk.json"),
    ]));
    assert_eq!(out, RFC7638_TP);
}

#[test]
fn jwk_thumbprint_uri_is_rfc9278() {
    let out = assert_ok(&run(&[
        "jwk",
        "thumbprint",
        "--uri",
        &data_str("rfc7638_rsa.jwk.json"),
    ]));
    assert_eq!(
        out,
        format!("urn:ietf:params:oauth:jwk-thumbprint:sha-256:{RFC7638_TP}")
    );
}

#[test]
fn jwk_thumbprint_rfc8037_private_and_public_from_stdin() {
    for file in [
        "rfc8037_ed25519_private.jwk.json",
        "rfc8037_ed25519_public.jwk.json",
    ] {
        let out = assert_ok(&run_stdin(&["jwk", "thumbprint", "-"], read(file)));
        assert_eq!(out, RFC8037_TP, "{file}");
    }
}

#[test]
fn jwk_thumbprint_rfc9449_proof_key() {
    let out = assert_ok(&run(&[
        "jwk",
        "thumbprint",
        &data_str("rfc9449_dpop_public.jwk.json"),
    ]));
    assert_eq!(out, RFC9449_JKT);
}

#[test]
fn jwk_thumbprint_missing_file_names_it() {
    let o = run(&["jwk", "thumbprint", "/nonexistent/key.json"]);
    assert_usage_error(&o, "\"/nonexistent/key.json\" not found");
}

#[test]
fn jwk_thumbprint_invalid_json_is_not_a_jwk() {
    let o = run_stdin(&["jwk", "thumbprint", "-"], "{\"kty\":");
    assert_usage_error(&o, "standard input is not a JWK");
}

#[test]
fn jwk_thumbprint_of_a_non_key_object() {
    let o = run_stdin(&["jwk", "thumbprint", "-"], r#"{"kty":"EC","crv":"P-256"}"#);
    assert_usage_error(&o, "is not a JWK");
}

#[test]
fn jwk_thumbprint_empty_stdin() {
    let o = run_stdin(&["jwk", "thumbprint", "-"], "");
    assert_usage_error(&o, "standard input is empty");
}

#[test]
fn jwk_thumbprint_of_a_certificate_file() {
    let o = run(&["jwk", "thumbprint", &data_str("client-ec.pem")]);
    assert_usage_error(&o, "is not a JWK");
}

// ------------------------------------------------------------------------------------
// jwk generate + dpop sign + verify round trip

fn generate(alg: &str) -> tempfile_path::TempFile {
    let out = assert_ok(&run(&["jwk", "generate", "--alg", alg]));
    let v = json(&out);
    assert!(v["d"].is_string(), "{alg}: private JWK expected, got {v}");
    assert_eq!(v["alg"], alg);
    tempfile_path::TempFile::with_contents(&format!("key-{alg}.json"), &out)
}

/// A tiny self-cleaning temp file (no extra dev-dependency).
mod tempfile_path {
    use core::sync::atomic::{AtomicUsize, Ordering};
    use std::path::PathBuf;

    static COUNTER: AtomicUsize = AtomicUsize::new(0);

    pub(crate) struct TempFile(pub(crate) PathBuf);

    impl TempFile {
        pub(crate) fn with_contents(name: &str, contents: &str) -> Self {
            let n = COUNTER.fetch_add(1, Ordering::SeqCst);
            let dir =
                std::env::temp_dir().join(format!("keybound-cli-test-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(name);
            std::fs::write(&path, contents).unwrap();
            TempFile(path)
        }

        pub(crate) fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[test]
fn generate_sign_verify_round_trip_every_algorithm() {
    for alg in ["ES256", "ES384", "PS256", "RS256", "EdDSA"] {
        let key = generate(alg);
        let jkt = assert_ok(&run(&["jwk", "thumbprint", key.path()]));
        let proof = assert_ok(&run(&[
            "dpop",
            "sign",
            "--key",
            key.path(),
            "--htm",
            "GET",
            "--htu",
            "https://api.example.com/data?page=2",
            "--access-token",
            "token-123",
            "--nonce",
            "n-1",
            "--iat",
            "1700000000",
        ]));
        let o = run(&[
            "dpop",
            "verify",
            "--htm",
            "GET",
            "--htu",
            "https://API.example.com:443/data",
            "--now",
            "1700000005",
            "--access-token",
            "token-123",
            "--nonce",
            "n-1",
            "--jkt",
            &jkt,
            &proof,
        ]);
        let v = json(&assert_ok(&o));
        assert_eq!(v["valid"], true, "{alg}: {v}");
        assert_eq!(v["jkt"], jkt.as_str());
        assert_eq!(v["iat"], 1_700_000_000);
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 4, "exactly valid, jkt, jti, iat: {v}");

        let inspected = json(&assert_ok(&run_stdin(&["dpop", "inspect", "-"], proof)));
        assert_eq!(inspected["header"]["alg"], alg);
        assert_eq!(inspected["header"]["typ"], "dpop+jwt");
        assert_eq!(inspected["claims"]["htu"], "https://api.example.com/data");
        assert_eq!(inspected["claims"]["nonce"], "n-1");
        assert!(inspected["claims"]["ath"].is_string());
        assert_eq!(inspected["jkt"], jkt.as_str());
    }
}

#[test]
fn jwk_generate_unknown_alg_is_a_usage_error() {
    let o = run(&["jwk", "generate", "--alg", "HS256"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("HS256"));
}

#[test]
fn fapi2_profile_refuses_rs256_proofs() {
    let key = generate("RS256");
    let proof = assert_ok(&run(&[
        "dpop",
        "sign",
        "--key",
        key.path(),
        "--htm",
        "GET",
        "--htu",
        "https://a.example/",
    ]));
    let args = [
        "dpop",
        "verify",
        "--htm",
        "GET",
        "--htu",
        "https://a.example/",
    ];
    let mut fapi = args.to_vec();
    fapi.extend(["--profile", "fapi2-baseline", proof.as_str()]);
    let v = rejected(&run(&fapi), "invalid_dpop_proof", "alg");
    assert!(
        v["detail"].as_str().unwrap().contains("fapi2-baseline"),
        "{v}"
    );
    let mut plain = args.to_vec();
    plain.push(proof.as_str());
    assert_ok(&run(&plain));
}

#[test]
fn sign_with_missing_key_file() {
    let o = run(&[
        "dpop",
        "sign",
        "--key",
        "/nonexistent/k.json",
        "--htm",
        "GET",
        "--htu",
        "https://a.example/",
    ]);
    assert_usage_error(&o, "key file \"/nonexistent/k.json\" not found");
}

#[test]
fn sign_with_public_jwk_is_refused() {
    let o = run(&[
        "dpop",
        "sign",
        "--key",
        &data_str("rfc9449_dpop_public.jwk.json"),
        "--htm",
        "GET",
        "--htu",
        "https://a.example/",
    ]);
    assert_usage_error(&o, "is not a usable private JWK");
}

#[test]
fn sign_with_relative_htu_is_refused() {
    let key = generate("ES256");
    let o = run(&[
        "dpop",
        "sign",
        "--key",
        key.path(),
        "--htm",
        "GET",
        "--htu",
        "/data",
    ]);
    assert_usage_error(&o, "--htu \"/data\" is not an absolute http(s) URI");
}

// ------------------------------------------------------------------------------------
// dpop verify: RFC 9449 examples

#[test]
fn verify_rfc9449_figure2_proof() {
    let o = verify_fig2(&["--now", FIG2_NOW], &read("rfc9449_fig2.proof"));
    assert_eq!(
        assert_ok(&o),
        format!(
            r#"{{"valid":true,"jkt":"{RFC9449_JKT}","jti":"-BwC3ESc6acc2lTc","iat":1562262616}}"#
        )
    );
}

#[test]
fn verify_rfc9449_figure2_proof_from_file_and_stdin() {
    let from_file = verify_fig2(&["--now", FIG2_NOW], &data_str("rfc9449_fig2.proof"));
    let mut args = vec!["dpop", "verify", "--htm", "POST", "--htu", TOKEN_URL];
    args.extend(["--now", FIG2_NOW, "-"]);
    let from_stdin = run_stdin(&args, read("rfc9449_fig2.proof"));
    assert_eq!(assert_ok(&from_file), assert_ok(&from_stdin));
}

#[test]
fn verify_rfc9449_figure7_refresh_proof() {
    let v = json(&assert_ok(&verify_fig2(
        &["--now", "1562265300", "--jkt", RFC9449_JKT],
        &read("rfc9449_fig7.proof"),
    )));
    assert_eq!(v["iat"], 1_562_265_296);
}

#[test]
fn verify_rfc9449_figure13_resource_proof_with_ath_and_profiles() {
    for profile in ["rfc9449", "fapi2-baseline", "fapi2-message-signing"] {
        let o = run(&[
            "dpop",
            "verify",
            "--htm",
            "GET",
            "--htu",
            RESOURCE_URL,
            "--now",
            "1562262630",
            "--access-token",
            RFC9449_AT,
            "--jkt",
            &format!("urn:ietf:params:oauth:jwk-thumbprint:sha-256:{RFC9449_JKT}"),
            "--profile",
            profile,
            &read("rfc9449_fig13.proof"),
        ]);
        let v = json(&assert_ok(&o));
        assert_eq!(v["jti"], "e1j3V_bKic8-LAEB", "{profile}");
    }
}

#[test]
fn inspect_rfc9449_figure13() {
    let v = json(&assert_ok(&run(&[
        "dpop",
        "inspect",
        &read("rfc9449_fig13.proof"),
    ])));
    assert_eq!(v["header"]["jwk"]["crv"], "P-256");
    assert_eq!(
        v["claims"]["ath"],
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
    assert_eq!(v["claims"]["iat"], 1_562_262_618);
    assert_eq!(v["jkt"], RFC9449_JKT);
}

#[test]
fn inspect_garbage_is_a_usage_error() {
    assert_usage_error(
        &run(&["dpop", "inspect", "not-a-proof"]),
        "is not a DPoP proof",
    );
    assert_usage_error(&run_stdin(&["dpop", "inspect", "-"], "  \n"), "empty");
}

// ------------------------------------------------------------------------------------
// dpop verify: one test per reason

#[test]
fn reason_htm_shows_both_methods() {
    let o = run(&[
        "dpop",
        "verify",
        "--htm",
        "GET",
        "--htu",
        TOKEN_URL,
        "--now",
        FIG2_NOW,
        &read("rfc9449_fig2.proof"),
    ]);
    let v = rejected(&o, "invalid_dpop_proof", "htm");
    let d = v["detail"].as_str().unwrap();
    assert!(d.contains("\"POST\"") && d.contains("\"GET\""), "{d}");
}

#[test]
fn reason_htu_shows_normalized_uris() {
    let o = run(&[
        "dpop",
        "verify",
        "--htm",
        "POST",
        "--htu",
        "HTTPS://Server.Example.com:443/other",
        "--now",
        FIG2_NOW,
        &read("rfc9449_fig2.proof"),
    ]);
    let v = rejected(&o, "invalid_dpop_proof", "htu");
    let d = v["detail"].as_str().unwrap();
    assert!(d.contains("https://server.example.com/token"), "{d}");
    assert!(
        d.contains("normalized \"https://server.example.com/other\""),
        "{d}"
    );
}

#[test]
fn reason_iat_too_old_and_in_future_show_window() {
    let v = rejected(
        &verify_fig2(&["--now", "1562263000"], &read("rfc9449_fig2.proof")),
        "invalid_dpop_proof",
        "iat",
    );
    let d = v["detail"].as_str().unwrap();
    assert!(
        d.contains("1562262616") && d.contains("384 s before") && d.contains("300 s"),
        "{d}"
    );

    let v = rejected(
        &verify_fig2(&["--now", "1562262000"], &read("rfc9449_fig2.proof")),
        "invalid_dpop_proof",
        "iat",
    );
    assert!(v["detail"].as_str().unwrap().contains("after now"), "{v}");
}

#[test]
fn reason_iat_fapi2_window_is_60_seconds() {
    let proof = read("rfc9449_fig2.proof");
    assert_ok(&verify_fig2(&["--now", "1562262676"], &proof));
    rejected(
        &verify_fig2(
            &["--now", "1562262677", "--profile", "fapi2-baseline"],
            &proof,
        ),
        "invalid_dpop_proof",
        "iat",
    );
}

#[test]
fn reason_ath_wrong_and_missing() {
    let v = rejected(
        &run(&[
            "dpop",
            "verify",
            "--htm",
            "GET",
            "--htu",
            RESOURCE_URL,
            "--now",
            "1562262620",
            "--access-token",
            "another-token",
            &read("rfc9449_fig13.proof"),
        ]),
        "invalid_dpop_proof",
        "ath",
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo")
    );
    rejected(
        &verify_fig2(
            &["--now", FIG2_NOW, "--access-token", RFC9449_AT],
            &read("rfc9449_fig2.proof"),
        ),
        "invalid_dpop_proof",
        "ath",
    );
}

#[test]
fn reason_nonce_is_use_dpop_nonce() {
    let v = rejected(
        &verify_fig2(
            &["--now", FIG2_NOW, "--nonce", "eyJ7S_zG"],
            &read("rfc9449_fig2.proof"),
        ),
        "use_dpop_nonce",
        "nonce",
    );
    assert!(v["detail"].as_str().unwrap().contains("eyJ7S_zG"));
}

#[test]
fn reason_key_binding_shows_both_thumbprints() {
    let v = rejected(
        &verify_fig2(
            &["--now", FIG2_NOW, "--jkt", RFC8037_TP],
            &read("rfc9449_fig2.proof"),
        ),
        "invalid_dpop_proof",
        "key_binding",
    );
    let d = v["detail"].as_str().unwrap();
    assert!(d.contains(RFC9449_JKT) && d.contains(RFC8037_TP), "{d}");
    // Thumbprints may start with '-': still a value, not an option.
    let dash = format!("-{}", "A".repeat(42));
    rejected(
        &verify_fig2(
            &["--now", FIG2_NOW, "--jkt", &dash],
            &read("rfc9449_fig2.proof"),
        ),
        "invalid_dpop_proof",
        "key_binding",
    );
}

#[test]
fn reason_signature_when_payload_altered() {
    let proof = read("rfc9449_fig2.proof");
    let proof13 = read("rfc9449_fig13.proof");
    // Figure 2's header and signature with Figure 13's payload.
    let mut p2 = proof.split('.');
    let mut p13 = proof13.split('.');
    let spliced = format!(
        "{}.{}.{}",
        p2.next().unwrap(),
        p13.nth(1).unwrap(),
        p2.nth(1).unwrap()
    );
    let o = run(&[
        "dpop",
        "verify",
        "--htm",
        "GET",
        "--htu",
        RESOURCE_URL,
        "--now",
        "1562262620",
        &spliced,
    ]);
    rejected(&o, "invalid_dpop_proof", "signature");
}

#[test]
fn reason_malformed_for_structure() {
    rejected(
        &verify_fig2(&["--now", FIG2_NOW], "abc.def"),
        "invalid_dpop_proof",
        "malformed",
    );
    rejected(
        &verify_fig2(&["--now", FIG2_NOW], "a.b.c.d"),
        "invalid_dpop_proof",
        "malformed",
    );
    // A mistyped file name is read as a proof; the detail says so.
    let v = rejected(
        &verify_fig2(&["--now", FIG2_NOW], "proof.txt"),
        "invalid_dpop_proof",
        "malformed",
    );
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("no file named \"proof.txt\""),
        "{v}"
    );
    let dup = fig2_with_header(r#"{"typ":"dpop+jwt","typ":"dpop+jwt","alg":"ES256"}"#);
    rejected(
        &verify_fig2(&["--now", FIG2_NOW], &dup),
        "invalid_dpop_proof",
        "malformed",
    );
}

#[test]
fn reason_typ_alg_jwk_from_header() {
    let jwk = r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;
    let cases = [
        (format!(r#"{{"typ":"JWT","alg":"ES256","jwk":{jwk}}}"#), "typ", "dpop+jwt"),
        (format!(r#"{{"alg":"ES256","jwk":{jwk}}}"#), "typ", "typ"),
        (format!(r#"{{"typ":"dpop+jwt","alg":"none","jwk":{jwk}}}"#), "alg", "\"none\""),
        (format!(r#"{{"typ":"dpop+jwt","alg":"HS256","jwk":{jwk}}}"#), "alg", "\"HS256\""),
        (r#"{"typ":"dpop+jwt","alg":"ES256"}"#.to_owned(), "jwk", "jwk"),
        (
            r#"{"typ":"dpop+jwt","alg":"ES256","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}"#.to_owned(),
            "jwk",
            r#"needs kty "EC" crv "P-256""#,
        ),
        (
            r#"{"typ":"dpop+jwt","alg":"EdDSA","jwk":{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}"#.to_owned(),
            "jwk",
            r#"private member "d""#,
        ),
    ];
    for (header, reason, needle) in cases {
        let proof = fig2_with_header(&header);
        let v = rejected(
            &verify_fig2(&["--now", FIG2_NOW], &proof),
            "invalid_dpop_proof",
            reason,
        );
        let detail = v["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{header}: {detail}");
    }
}

#[test]
fn rejects_forged_small_order_ed25519_proof_with_reason_jwk() {
    // The identity point as the key, R = identity and S = 0 as the signature: it would verify
    // any message on a backend that accepts small-order keys (issue 12 item 1).
    let mut x = [0u8; 32];
    x[0] = 1;
    let header = format!(
        r#"{{"typ":"dpop+jwt","alg":"EdDSA","jwk":{{"kty":"OKP","crv":"Ed25519","x":"{}"}}}}"#,
        b64url(&x)
    );
    let proof = fig2_with_header(&header);
    let (rest, _) = proof.rsplit_once('.').unwrap();
    let mut sig = [0u8; 64];
    sig[0] = 1;
    let forged = format!("{rest}.{}", b64url(&sig));
    let v = rejected(
        &verify_fig2(&["--now", FIG2_NOW], &forged),
        "invalid_dpop_proof",
        "jwk",
    );
    let detail = v["detail"].as_str().unwrap();
    assert!(detail.contains("small order"), "{detail}");
}

#[test]
fn unsigned_proof_with_alg_none_and_empty_signature_is_reason_alg() {
    let jwk = r#"{"kty":"EC","x":"l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs","y":"9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA","crv":"P-256"}"#;
    let proof = fig2_with_header(&format!(r#"{{"typ":"dpop+jwt","alg":"none","jwk":{jwk}}}"#));
    let (rest, _) = proof.rsplit_once('.').unwrap();
    rejected(
        &verify_fig2(&["--now", FIG2_NOW], &format!("{rest}.")),
        "invalid_dpop_proof",
        "alg",
    );
}

// ------------------------------------------------------------------------------------
// dpop verify: usage errors

#[test]
fn verify_unknown_profile() {
    let o = verify_fig2(&["--profile", "fapi1"], &read("rfc9449_fig2.proof"));
    assert_usage_error(&o, "unknown profile \"fapi1\"");
}

#[test]
fn verify_bad_jkt() {
    let o = verify_fig2(&["--jkt", "abc"], &read("rfc9449_fig2.proof"));
    assert_usage_error(&o, "jkt \"abc\"");
}

#[test]
fn accepts_jkt_uri_with_any_case_of_urn_and_ietf() {
    // RFC 9278 URI; RFC 8141 §3.1: the "urn" scheme and the NID compare case-insensitively.
    let proof = read("rfc9449_fig2.proof");
    for prefix in ["urn:ietf:", "URN:IETF:", "Urn:Ietf:", "uRn:iEtF:"] {
        let uri = format!("{prefix}params:oauth:jwk-thumbprint:sha-256:{RFC9449_JKT}");
        let o = verify_fig2(&["--now", FIG2_NOW, "--jkt", &uri], &proof);
        assert_eq!(assert_ok(&o), FIG2_VALID, "{uri}");
        let line = fig2_line_with(&format!(r#","jkt":"{uri}""#));
        let o = run_stdin(&["dpop", "verify", "--batch"], line);
        assert_eq!(assert_ok(&o), FIG2_VALID, "batch {uri}");
    }
    // Another key's URI is a key_binding fault, not a usage error.
    let other = format!("URN:ietf:params:oauth:jwk-thumbprint:sha-256:{RFC7638_TP}");
    let o = verify_fig2(&["--now", FIG2_NOW, "--jkt", &other], &proof);
    rejected(&o, "invalid_dpop_proof", "key_binding");
}

#[test]
fn rejects_jkt_uri_the_library_refuses() {
    let proof = read("rfc9449_fig2.proof");
    let o = verify_fig2(
        &[
            "--jkt",
            &format!("URN:ietf:params:oauth:jwk-thumbprint:sha-512:{RFC9449_JKT}"),
        ],
        &proof,
    );
    assert_usage_error(&o, "uses a hash other than sha-256");
    let o = verify_fig2(
        &[
            "--jkt",
            &format!("urn:ietf:params:OAUTH:jwk-thumbprint:sha-256:{RFC9449_JKT}"),
        ],
        &proof,
    );
    assert_usage_error(&o, "not a JWK thumbprint URI");
}

#[test]
fn verify_missing_htm_is_a_usage_error() {
    let o = run(&["dpop", "verify", "--htu", TOKEN_URL, "x.y.z"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("--htm"));
}

#[test]
fn verify_relative_htu_is_a_usage_error() {
    let o = run(&["dpop", "verify", "--htm", "GET", "--htu", "/token", "x.y.z"]);
    assert_usage_error(&o, "--htu \"/token\"");
}

#[test]
fn verify_empty_stdin_is_a_usage_error() {
    let o = run_stdin(
        &["dpop", "verify", "--htm", "GET", "--htu", TOKEN_URL, "-"],
        "",
    );
    assert_usage_error(&o, "standard input is empty");
}

// ------------------------------------------------------------------------------------
// dpop verify --batch

fn batch_line(proof: &str, htm: &str, htu: &str, now: u64) -> String {
    serde_json::json!({
        "proof": proof, "htm": htm, "htu": htu, "now": now,
        "access_token": null, "jkt": null, "nonce": null, "profile": null
    })
    .to_string()
}

#[test]
fn batch_reports_replay_for_second_copy() {
    let fig2 = read("rfc9449_fig2.proof");
    let fig13 = read("rfc9449_fig13.proof");
    let input = [
        batch_line(&fig2, "POST", TOKEN_URL, 1_562_262_620),
        serde_json::json!({
            "proof": fig13, "htm": "GET", "htu": RESOURCE_URL, "now": 1_562_262_620u64,
            "access_token": RFC9449_AT, "jkt": RFC9449_JKT, "profile": "fapi2-baseline"
        })
        .to_string(),
        String::new(),
        batch_line(&fig2, "POST", TOKEN_URL, 1_562_262_625),
        batch_line(&fig2, "GET", TOKEN_URL, 1_562_262_625),
    ]
    .join("\n");
    let o = run_stdin(&["dpop", "verify", "--batch"], input);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let lines: Vec<Value> = stdout(&o).lines().map(json).collect();
    assert_eq!(lines.len(), 4, "one answer per non-blank line");
    assert_eq!(lines[0]["valid"], true);
    assert_eq!(lines[1]["valid"], true);
    assert_eq!(lines[2]["valid"], false);
    assert_eq!(lines[2]["reason"], "replay");
    assert_eq!(lines[2]["error"], "invalid_dpop_proof");
    assert_eq!(lines[3]["reason"], "htm", "a failing proof is not recorded");
}

#[test]
fn batch_bench_passes_print_in_process_figures_and_answer_once() {
    let fig2 = read("rfc9449_fig2.proof");
    let input = [
        batch_line(&fig2, "POST", TOKEN_URL, 1_562_262_620),
        batch_line(&fig2, "POST", TOKEN_URL, 1_562_262_621),
        batch_line(&fig2, "GET", TOKEN_URL, 1_562_262_621),
    ]
    .join("\n");
    let plain = run_stdin(&["dpop", "verify", "--batch"], input.clone());
    let o = keybound()
        .args(["dpop", "verify", "--batch"])
        .env("DPOP_BENCH_PASSES", "5")
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(code(&o), code(&plain));
    // Answers from the first pass only, the same as without passes (a fresh replay store
    // each pass: the second copy is a replay in every pass, never the first).
    assert_eq!(stdout(&o), stdout(&plain));
    let err = stderr(&o);
    for name in ["median_us_per_proof=", "min_us_per_proof="] {
        let v: f64 = err
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} missing: {err}"))
            .parse()
            .unwrap();
        assert!(v > 0.0 && v < 1e6, "{name}{v}");
    }
    let o = keybound()
        .args(["dpop", "verify", "--batch"])
        .env("DPOP_BENCH_PASSES", "zero")
        .write_stdin("{}")
        .output()
        .unwrap();
    assert_usage_error(&o, "DPOP_BENCH_PASSES");
}

#[test]
fn batch_answers_each_line_before_the_next_arrives() {
    use std::io::{BufRead as _, Write as _};
    let fig2 = read("rfc9449_fig2.proof");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_keybound"))
        .args(["dpop", "verify", "--batch"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    for now in [1_562_262_620u64, 1_562_262_621] {
        writeln!(stdin, "{}", batch_line(&fig2, "POST", TOKEN_URL, now)).unwrap();
        stdin.flush().unwrap();
        // The answer comes while stdin is still open (a coprocess is not left waiting).
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        assert!(line.starts_with('{'), "{line}");
    }
    drop(stdin);
    assert_eq!(
        child.wait().unwrap().code(),
        Some(1),
        "the second copy is a replay"
    );
}

#[test]
fn batch_all_valid_exits_zero() {
    let o = run_stdin(
        &["dpop", "verify", "--batch"],
        batch_line(
            &read("rfc9449_fig2.proof"),
            "POST",
            TOKEN_URL,
            1_562_262_620,
        ),
    );
    assert_eq!(json(&assert_ok(&o))["jti"], "-BwC3ESc6acc2lTc");
}

#[test]
fn batch_bad_lines_answer_invalid_input_and_exit_2() {
    let input = [
        "{not json".to_owned(),
        r#"{"proof":"a.b.c","htm":"GET"}"#.to_owned(),
        r#"{"proof":"a.b.c","htm":"GET","htu":"https://a.example/","nonse":"x"}"#.to_owned(),
        batch_line(
            &read("rfc9449_fig2.proof"),
            "POST",
            TOKEN_URL,
            1_562_262_620,
        ),
    ]
    .join("\n");
    let o = run_stdin(&["dpop", "verify", "--batch"], input);
    assert_eq!(code(&o), 2);
    let lines: Vec<Value> = stdout(&o).lines().map(json).collect();
    assert_eq!(lines.len(), 4);
    for v in &lines[..3] {
        assert_eq!(v["error"], "invalid_input", "{v}");
    }
    assert!(lines[1]["detail"].as_str().unwrap().contains("\"htu\""));
    assert!(lines[2]["detail"].as_str().unwrap().contains("\"nonse\""));
    assert_eq!(lines[3]["valid"], true);
    assert!(stderr(&o).contains("line 1"));
}

#[test]
fn batch_overlong_and_non_utf8_lines_are_input_errors() {
    let mut input = "x".repeat(4 * 1024 * 1024 + 1).into_bytes();
    input.extend_from_slice(b"\n\xff\xfe\n");
    input.extend_from_slice(
        batch_line(
            &read("rfc9449_fig2.proof"),
            "POST",
            TOKEN_URL,
            1_562_262_620,
        )
        .as_bytes(),
    );
    let o = run_stdin(&["dpop", "verify", "--batch"], input);
    assert_eq!(code(&o), 2);
    let lines: Vec<Value> = stdout(&o).lines().map(json).collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0]["detail"]
            .as_str()
            .unwrap()
            .contains("line 1: longer than")
    );
    assert!(
        lines[1]["detail"]
            .as_str()
            .unwrap()
            .contains("line 2: not UTF-8")
    );
    assert_eq!(lines[2]["valid"], true);
}

/// The documented batch answer for a line that cannot be read.
fn invalid_input(detail: &str) -> String {
    assert!(!detail.contains(['"', '\\']), "{detail}");
    format!(r#"{{"valid":false,"error":"invalid_input","detail":"{detail}"}}"#)
}

/// The valid answer for the Figure 2 proof.
const FIG2_VALID: &str = r#"{"valid":true,"jkt":"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I","jti":"-BwC3ESc6acc2lTc","iat":1562262616}"#;

/// A Figure 2 batch line with `tail` (JSON members, already serialized) before its `}`.
fn fig2_line_with(tail: &str) -> String {
    format!(
        r#"{{"proof":"{}","htm":"POST","htu":"{TOKEN_URL}","now":1562262620{tail}}}"#,
        read("rfc9449_fig2.proof")
    )
}

#[test]
fn rejects_batch_line_with_duplicate_member_as_invalid_input() {
    // A second `jkt` (plain or spelled with an escape) must not silently drop the binding.
    let cases = [
        (
            fig2_line_with(&format!(r#","jkt":"{RFC7638_TP}","jkt":null"#)),
            r#""jkt":null"#,
        ),
        (
            fig2_line_with(&format!(r#","jkt":"{RFC7638_TP}","j\u006bt":null"#)),
            r#""j\u006bt""#,
        ),
        (fig2_line_with(r#","htm":"GET""#), r#""htm":"GET""#),
    ];
    let lines: Vec<&str> = cases.iter().map(|(l, _)| l.as_str()).collect();
    let o = run_stdin(&["dpop", "verify", "--batch"], lines.join("\n"));
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let expected: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (line, second_name))| {
            // The offset of the second occurrence of the name.
            let second = line.rfind(second_name).unwrap();
            invalid_input(&format!(
                "line {}: not valid JSON: duplicate JSON member name at byte {second}",
                i + 1
            ))
        })
        .collect();
    assert_eq!(stdout(&o), format!("{}\n", expected.join("\n")));
    assert!(stderr(&o).contains("error: line 2: not valid JSON: duplicate JSON member name"));
}

#[test]
fn accepts_batch_line_whose_names_and_values_use_escapes() {
    // RFC 8259 §7: escapes are decoded before names are matched and values are read.
    let line = format!(
        r#"{{"pro\u006ff":"{}","htm":"P\u004fST","htu":"https:\/\/server.example.com\/token","now":1562262620,"j\u006bt":"{RFC9449_JKT}"}}"#,
        read("rfc9449_fig2.proof")
    );
    let o = run_stdin(&["dpop", "verify", "--batch"], line);
    assert_eq!(assert_ok(&o), FIG2_VALID);
    // The decoded jkt is enforced: another key's thumbprint, escaped, is a key_binding fault.
    let line = fig2_line_with(r#","jkt":"\u004ezbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs""#);
    let o = run_stdin(&["dpop", "verify", "--batch"], line);
    assert_eq!(code(&o), 1);
    assert_eq!(json(stdout(&o).trim())["reason"], "key_binding");
}

#[test]
fn batch_line_with_oversized_proof_gets_the_library_verdict() {
    // A readable line whose proof exceeds a cap is a verdict (malformed), not an input error.
    let fig2 = read("rfc9449_fig2.proof");
    let (_, rest) = fig2.split_once('.').unwrap();
    let megabyte = format!(
        "{}.{}.{}",
        "A".repeat(1 << 20),
        "B".repeat(10),
        "C".repeat(10)
    );
    let nested_header = format!(
        r#"{{"typ":"dpop+jwt","alg":"ES256","x":{}{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let nested = format!("{}.{rest}", b64url(nested_header.as_bytes()));
    let input = [
        batch_line(&megabyte, "POST", TOKEN_URL, 1_562_262_620),
        batch_line(&nested, "POST", TOKEN_URL, 1_562_262_620),
        batch_line(&fig2, "POST", TOKEN_URL, 1_562_262_620),
    ]
    .join("\n");
    let started = std::time::Instant::now();
    let o = run_stdin(&["dpop", "verify", "--batch"], input);
    let elapsed = started.elapsed();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        [
            r#"{"valid":false,"error":"invalid_dpop_proof","reason":"malformed","detail":"proof is 1048598 bytes, more than the 8192-byte cap"}"#,
            r#"{"valid":false,"error":"invalid_dpop_proof","reason":"malformed","detail":"header is not a strict JSON object: JSON nesting deeper than 16 levels at byte 51"}"#,
            FIG2_VALID,
            "",
        ]
        .join("\n")
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    // Three lines, each answered in well under a second (about 0.05 s in all, debug build).
    assert!(elapsed.as_secs_f64() < 3.0, "{elapsed:?}");
}

#[test]
fn batch_line_over_4_mib_is_invalid_input_and_skipped_unread() {
    // A 20 MB line: not buffered whole, answered as an input error; the next line is served.
    let huge = batch_line(&"x".repeat(20 << 20), "POST", TOKEN_URL, 1_562_262_620);
    let input = format!(
        "{huge}\n{}",
        batch_line(
            &read("rfc9449_fig2.proof"),
            "POST",
            TOKEN_URL,
            1_562_262_620
        )
    );
    let started = std::time::Instant::now();
    let o = run_stdin(&["dpop", "verify", "--batch"], input);
    let elapsed = started.elapsed();
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        format!(
            "{}\n{FIG2_VALID}\n",
            invalid_input("line 1: longer than 4194304 bytes (4 MiB); skipped without being read")
        )
    );
    assert!(elapsed.as_secs_f64() < 3.0, "{elapsed:?}");
}

#[test]
fn batch_empty_input_is_a_usage_error() {
    assert_usage_error(&run_stdin(&["dpop", "verify", "--batch"], ""), "empty");
}

#[test]
fn batch_conflicts_with_single_request_options() {
    let o = run_stdin(&["dpop", "verify", "--batch", "--htm", "GET"], "");
    assert_eq!(code(&o), 2);
}

// ------------------------------------------------------------------------------------
// cert thumbprint

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn cert_thumbprint_every_format_matches_vectors() {
    for (name, expected) in CERTS {
        let pem = read(&format!("{name}.pem"));
        let encodings: Vec<(&str, Vec<u8>)> = vec![
            ("pem", pem.clone().into_bytes()),
            ("nginx", percent_encode(&format!("{pem}\n")).into_bytes()),
            (
                "xfcc",
                format!("By=spiffe://proxy;Cert=\"{}\"", percent_encode(&pem)).into_bytes(),
            ),
            ("rfc9440", format!(":{}:", pem_body(&pem)).into_bytes()),
        ];
        for (format, bytes) in encodings {
            for f in [format, "auto"] {
                let out = assert_ok(&run_stdin(
                    &["cert", "thumbprint", "--format", f, "-"],
                    bytes.clone(),
                ));
                assert_eq!(out, expected, "{name} as {format} (--format {f})");
            }
        }
        let out = assert_ok(&run(&[
            "cert",
            "thumbprint",
            &data_str(&format!("{name}.pem")),
        ]));
        assert_eq!(out, expected, "{name}.pem file");
    }
    for (name, expected) in &CERTS[..2] {
        for f in ["der", "auto"] {
            let out = assert_ok(&run(&[
                "cert",
                "thumbprint",
                "--format",
                f,
                &data_str(&format!("{name}.der")),
            ]));
            assert_eq!(out, *expected, "{name}.der --format {f}");
        }
    }
}

fn chain_file(name: &str, parts: &[&str]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("keybound-cli-{}-{name}", std::process::id()));
    let text: String = parts.iter().map(|p| read(p) + "\n").collect();
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn cert_thumbprint_of_a_pem_chain_prints_the_leaf_and_says_so() {
    // Leaf first, as `openssl x509` reads a chain file.
    let chain = chain_file(
        "chain.pem",
        &[
            "client-ec.pem",
            "client-rsa.pem",
            "oidc-provider-fapi-mtls1.pem",
        ],
    );
    let path = chain.to_str().unwrap();
    let o = run(&["cert", "thumbprint", path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{}\n", CERTS[0].1));
    assert_eq!(
        stderr(&o),
        format!(
            "note: file \"{path}\" holds a chain of 3 certificates; printed the thumbprint of the first (the leaf)\n"
        )
    );
    let o = run_stdin(
        &["cert", "thumbprint", "--format", "pem", "-"],
        std::fs::read(&chain).unwrap(),
    );
    assert_eq!(stdout(&o), format!("{}\n", CERTS[0].1));
    assert_eq!(
        stderr(&o),
        "note: standard input holds a chain of 3 certificates; printed the thumbprint of the first (the leaf)\n"
    );
    // A single certificate prints no note.
    let o = run(&["cert", "thumbprint", &data_str("client-rsa.pem")]);
    assert_eq!(stdout(&o), format!("{}\n", CERTS[1].1));
    assert!(stderr(&o).is_empty());
    std::fs::remove_file(chain).unwrap();
}

#[test]
fn rejects_pem_chain_with_a_non_certificate_block_and_chains_in_proxy_headers() {
    let chain = chain_file("with-key.pem", &["client-ec.pem"]);
    let mut text = std::fs::read_to_string(&chain).unwrap();
    text.push_str("-----BEGIN PRIVATE KEY-----\nMAcwADAAAwEA\n-----END PRIVATE KEY-----\n");
    std::fs::write(&chain, text).unwrap();
    let path = chain.to_str().unwrap();
    assert_usage_error(
        &run(&["cert", "thumbprint", path]),
        &format!(
            "file \"{path}\" holds a PEM chain whose block 2 is not a certificate: its label is \"PRIVATE KEY\""
        ),
    );
    std::fs::remove_file(&chain).unwrap();
    // Proxy header formats keep their one-certificate rule (nginx forwards only the leaf).
    let two = format!("{}\n{}\n", read("client-ec.pem"), read("client-rsa.pem"));
    let o = run_stdin(
        &["cert", "thumbprint", "--format", "nginx", "-"],
        percent_encode(&two),
    );
    assert_usage_error(&o, "is not a certificate in nginx escaped PEM format");
}

#[test]
fn cert_thumbprint_wrong_format_flag() {
    let o = run(&[
        "cert",
        "thumbprint",
        "--format",
        "p12",
        &data_str("client-ec.pem"),
    ]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("p12"), "{}", stderr(&o));
}

#[test]
fn cert_thumbprint_format_mismatch_names_the_format() {
    let o = run(&[
        "cert",
        "thumbprint",
        "--format",
        "der",
        &data_str("client-ec.pem"),
    ]);
    assert_usage_error(&o, "is not a certificate in DER format");
    let o = run(&[
        "cert",
        "thumbprint",
        "--format",
        "rfc9440",
        &data_str("client-ec.pem"),
    ]);
    assert_usage_error(&o, "RFC 9440");
}

#[test]
fn cert_thumbprint_of_a_jwk_is_not_a_certificate() {
    let o = run(&["cert", "thumbprint", &data_str("rfc7638_rsa.jwk.json")]);
    assert_usage_error(&o, "is not a certificate");
}

#[test]
fn cert_thumbprint_missing_file_and_empty_stdin() {
    assert_usage_error(
        &run(&["cert", "thumbprint", "nope.pem"]),
        "\"nope.pem\" not found",
    );
    assert_usage_error(
        &run_stdin(&["cert", "thumbprint", "-"], ""),
        "standard input is empty",
    );
}

// ------------------------------------------------------------------------------------
// profile show

#[test]
fn profile_show_every_profile_has_standard_metadata() {
    for name in ["rfc9449", "fapi2-baseline", "fapi2-message-signing"] {
        let v = json(&assert_ok(&run(&["profile", "show", name])));
        let md = v["metadata"]
            .as_object()
            .unwrap_or_else(|| panic!("{name}: {v}"));
        let algs = md["dpop_signing_alg_values_supported"].as_array().unwrap();
        assert!(algs.iter().any(|a| a == "ES256"), "{name}: {v}");
        if name != "rfc9449" {
            assert!(
                !algs.iter().any(|a| a == "RS256"),
                "{name} allows RS256: {v}"
            );
        }
    }
}

#[test]
fn profile_show_enable_mtls() {
    let v = json(&assert_ok(&run(&[
        "profile",
        "show",
        "fapi2-baseline",
        "--enable",
        "dpop,mtls",
    ])));
    assert_eq!(
        v["metadata"]["tls_client_certificate_bound_access_tokens"], true,
        "{v}"
    );
    assert!(
        v["metadata"]["dpop_signing_alg_values_supported"].is_array(),
        "{v}"
    );
}

#[test]
fn profile_show_unknown_profile_and_feature() {
    assert_usage_error(
        &run(&["profile", "show", "fapi3"]),
        "unknown profile \"fapi3\"",
    );
    assert_usage_error(
        &run(&["profile", "show", "rfc9449", "--enable", "dpop,magic"]),
        "unknown feature \"magic\"",
    );
}

// ------------------------------------------------------------------------------------
// demo

#[test]
fn demo_every_scenario_matches() {
    let o = keybound()
        .arg("demo")
        .timeout(core::time::Duration::from_secs(120))
        .output()
        .unwrap();
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "stdout:\n{out}\nstderr:\n{}", stderr(&o));
    assert!(out.contains("all 11 scenarios matched"), "{out}");
    assert!(!out.contains("UNEXPECTED"), "{out}");
    for scenario in [
        "legitimate DPoP call",
        "stolen DPoP token sent as Bearer",
        "thief's own DPoP key",
        "forged token",
        "replayed",
        "nonce required",
        "client's certificate",
        "thief's certificate",
    ] {
        assert!(out.contains(scenario), "{scenario} missing:\n{out}");
    }
}
