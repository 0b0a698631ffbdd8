//! `keybound demo`: sender-constrained tokens end to end on loopback.
//!
//! A throwaway CA and certificates (rcgen), a real HTTPS resource server (tokio-rustls,
//! hyper) guarding its resources with [`keybound_tower::KeyboundLayer`], an authorization
//! server minting
//! `cnf`-bound JWT access tokens, and a client that plays the legitimate calls and the
//! attacks over real TLS connections.

mod authz;
mod http;
mod pki;
mod server;

/// Writes a line to stdout, ignoring a closed pipe (`keybound demo | head` must not panic).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Writes text to stdout as is, ignoring a closed pipe.
fn say_raw(text: &str) {
    use std::io::Write as _;
    let _ = std::io::stdout().write_all(text.as_bytes());
}

use core::fmt::Write as _;
use core::time::Duration;
use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use keybound::dpop::{Algorithm, ProofParams, SigningKey};
use rustls::pki_types::ServerName;

use self::authz::{AuthorizationServer, Bind};
use self::http::Response;
use self::pki::Pki;
use self::server::{NONCE_RESOURCE, RESOURCE, Server, VERIFY_TIME_HEADER};
use crate::error::{CliError, EXIT_INVALID, EXIT_OK};
use crate::input::unix_now;

/// What a scenario must produce: an HTTP status and, for rejections, the reason.
#[derive(Clone, Copy)]
struct Expect {
    status: u16,
    reason: Option<&'static str>,
}

impl Expect {
    const fn ok() -> Self {
        Expect {
            status: 200,
            reason: None,
        }
    }

    const fn rejected(status: u16, reason: &'static str) -> Self {
        Expect {
            status,
            reason: Some(reason),
        }
    }

    fn label(&self) -> String {
        match self.reason {
            Some(r) => format!("{} {r}", self.status),
            None => self.status.to_string(),
        }
    }
}

/// What a scenario produced.
struct Outcome {
    name: &'static str,
    expected: Expect,
    status: Option<u16>,
    error: Option<String>,
    reason: Option<String>,
    detail: String,
    latency: Duration,
    server_micros: Option<u64>,
}

impl Outcome {
    fn matched(&self) -> bool {
        self.status == Some(self.expected.status)
            && match self.expected.reason {
                Some(r) => self.reason.as_deref() == Some(r),
                None => true,
            }
    }

    fn got_label(&self) -> String {
        match (self.status, &self.reason) {
            (None, _) => "no answer".to_owned(),
            (Some(200), _) | (Some(_), None) => {
                self.status.map(|s| s.to_string()).unwrap_or_default()
            }
            (Some(s), Some(r)) => format!("{s} {r}"),
        }
    }
}

/// The client side: where the server is, and the TLS configurations of each identity.
struct Client {
    server: Server,
    origin: String,
    anonymous: Arc<rustls::ClientConfig>,
    with_client_cert: Arc<rustls::ClientConfig>,
    with_thief_cert: Arc<rustls::ClientConfig>,
}

/// Which certificate the TLS client presents.
#[derive(Clone, Copy)]
enum Tls {
    Anonymous,
    Client,
    Thief,
}

impl Client {
    /// One request over a new TLS connection; `Err` carries what went wrong on the wire.
    fn get(
        &self,
        tls: Tls,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<(Response, Duration), String> {
        let config = match tls {
            Tls::Anonymous => &self.anonymous,
            Tls::Client => &self.with_client_cert,
            Tls::Thief => &self.with_thief_cert,
        };
        let start = Instant::now();
        let tcp = TcpStream::connect_timeout(&self.server.addr, Duration::from_secs(5))
            .map_err(|e| format!("connect: {e}"))?;
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = tcp.set_nodelay(true);
        let name = ServerName::from(self.server.addr.ip());
        let conn = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| format!("TLS: {e}"))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        let host = self.server.addr.to_string();
        let response =
            http::exchange(&mut stream, &host, path, headers).map_err(|e| format!("HTTP: {e}"))?;
        Ok((response, start.elapsed()))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin)
    }
}

fn proof(
    key: &SigningKey,
    htu: &str,
    token: &str,
    nonce: Option<&str>,
) -> Result<String, CliError> {
    let mut params = ProofParams::new("GET", htu, unix_now()).with_access_token(token);
    if let Some(n) = nonce {
        params = params.with_nonce(n);
    }
    key.sign_proof_os_rng(&params)
        .map_err(|e| CliError::failure(format!("cannot sign a DPoP proof: {e}")))
}

fn dpop_key(what: &str) -> Result<SigningKey, CliError> {
    SigningKey::generate_os_rng(Algorithm::Es256)
        .map_err(|e| CliError::failure(format!("cannot create the {what} DPoP key: {e}")))
}

/// Parses the server's JSON answer into (error, reason, detail).
fn body_fields(body: &str) -> (Option<String>, Option<String>, String) {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let field = |n: &str| v.get(n).and_then(|x| x.as_str()).map(str::to_owned);
    let detail =
        field("error_description").unwrap_or_else(|| match (field("sub"), field("binding")) {
            (Some(sub), Some(b)) => format!("resource served to {sub} ({b}-bound token)"),
            _ => String::new(),
        });
    (field("error"), field("reason"), detail)
}

fn millis(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// Runs one scenario and prints its progress line.
fn play(
    n: usize,
    total: usize,
    name: &'static str,
    expected: Expect,
    result: Result<(Response, Duration), String>,
) -> (Outcome, Option<Response>) {
    let (outcome, response) = match result {
        Ok((resp, latency)) => {
            let (error, reason, detail) = body_fields(&resp.body);
            let server_micros = resp.header(VERIFY_TIME_HEADER).and_then(|v| v.parse().ok());
            (
                Outcome {
                    name,
                    expected,
                    status: Some(resp.status),
                    error,
                    reason,
                    detail,
                    latency,
                    server_micros,
                },
                Some(resp),
            )
        }
        Err(e) => (
            Outcome {
                name,
                expected,
                status: None,
                error: None,
                reason: None,
                detail: e,
                latency: Duration::ZERO,
                server_micros: None,
            },
            None,
        ),
    };
    let verdict = if outcome.matched() {
        "ok"
    } else {
        "UNEXPECTED"
    };
    let mut line = format!("[{n:>2}/{total}] {name:<48} -> {}", outcome.got_label());
    if let Some(e) = &outcome.error {
        let _ = write!(line, " ({e})");
    }
    let _ = write!(line, "  {verdict}");
    say!("{line}");
    if !outcome.detail.is_empty() {
        say!("         {}", outcome.detail);
    }
    let _ = std::io::stdout().flush();
    (outcome, response)
}

const TOTAL: usize = 11;

fn scenarios(
    client: &Client,
    authz: &AuthorizationServer,
    pki: &Pki,
) -> Result<Vec<Outcome>, CliError> {
    let alice = dpop_key("client")?;
    let mallory = dpop_key("thief")?;
    let now = unix_now();
    let dpop_token = authz.mint("client-app", Bind::Dpop(alice.thumbprint()), now)?;
    let cert_token = authz.mint(
        "client-app",
        Bind::Mtls(keybound::mtls::x5t_s256(&pki.client.cert)),
        now,
    )?;
    say!(
        "[setup] client DPoP key ES256, jkt {}; thief DPoP key jkt {}",
        alice.thumbprint(),
        mallory.thumbprint()
    );
    say!(
        "[setup] AS minted a DPoP-bound token (cnf.jkt) and a certificate-bound token (cnf.x5t#S256 {})",
        keybound::mtls::x5t_s256(&pki.client.cert)
    );
    say!("");

    let resource = client.url(RESOURCE);
    let nonce_resource = client.url(NONCE_RESOURCE);
    let dpop_auth = format!("DPoP {dpop_token}");
    let bearer_dpop = format!("Bearer {dpop_token}");
    let bearer_cert = format!("Bearer {cert_token}");
    let mut out = Vec::with_capacity(TOTAL);
    let mut n = 0;
    let mut step = |name, expected, result| {
        n += 1;
        let (outcome, response) = play(n, TOTAL, name, expected, result);
        out.push(outcome);
        response
    };

    // 1. The legitimate client: DPoP token + fresh proof signed with its key.
    let legit_proof = proof(&alice, &resource, &dpop_token, None)?;
    step(
        "legitimate DPoP call",
        Expect::ok(),
        client.get(
            Tls::Anonymous,
            RESOURCE,
            &[("Authorization", &dpop_auth), ("DPoP", &legit_proof)],
        ),
    );
    // 2. A thief copies the token from a log and sends it as a plain bearer token.
    step(
        "stolen DPoP token sent as Bearer",
        Expect::rejected(401, "dpop_token_as_bearer"),
        client.get(Tls::Anonymous, RESOURCE, &[("Authorization", &bearer_dpop)]),
    );
    // 3. The thief signs a proof with a key of their own.
    let thief_proof = proof(&mallory, &resource, &dpop_token, None)?;
    step(
        "stolen DPoP token + thief's own DPoP key",
        Expect::rejected(401, "key_binding"),
        client.get(
            Tls::Anonymous,
            RESOURCE,
            &[("Authorization", &dpop_auth), ("DPoP", &thief_proof)],
        ),
    );
    // 4. The thief captured a whole request and replays it, proof included.
    step(
        "replayed request (same proof again)",
        Expect::rejected(401, "replay"),
        client.get(
            Tls::Anonymous,
            RESOURCE,
            &[("Authorization", &dpop_auth), ("DPoP", &legit_proof)],
        ),
    );
    // 5. A proof made for another URL is refused.
    let other_url_proof = proof(&alice, &client.url("/admin"), &dpop_token, None)?;
    step(
        "proof made for another URL (htu)",
        Expect::rejected(401, "htu"),
        client.get(
            Tls::Anonymous,
            RESOURCE,
            &[("Authorization", &dpop_auth), ("DPoP", &other_url_proof)],
        ),
    );
    // 6-7. A resource that requires server nonces: challenge, then retry with the nonce.
    let first = proof(&alice, &nonce_resource, &dpop_token, None)?;
    let challenge = step(
        "nonce required: first call is challenged",
        Expect::rejected(401, "nonce"),
        client.get(
            Tls::Anonymous,
            NONCE_RESOURCE,
            &[("Authorization", &dpop_auth), ("DPoP", &first)],
        ),
    );
    let nonce = challenge
        .as_ref()
        .and_then(|r| r.header("DPoP-Nonce"))
        .map(str::to_owned);
    let retry = match &nonce {
        Some(nonce) => {
            let p = proof(&alice, &nonce_resource, &dpop_token, Some(nonce))?;
            client.get(
                Tls::Anonymous,
                NONCE_RESOURCE,
                &[("Authorization", &dpop_auth), ("DPoP", &p)],
            )
        }
        None => Err("the challenge carried no DPoP-Nonce header".to_owned()),
    };
    step(
        "nonce required: retry with the server nonce",
        Expect::ok(),
        retry,
    );
    // 8. The thief mints a token of their own, bound to their key, with another AS key.
    let forger = AuthorizationServer::new(&client.origin)?;
    let forged = forger.mint("client-app", Bind::Dpop(mallory.thumbprint()), now)?;
    let forged_auth = format!("DPoP {forged}");
    let forged_proof = proof(&mallory, &resource, &forged, None)?;
    step(
        "forged token bound to the thief's key",
        Expect::rejected(401, "invalid_token"),
        client.get(
            Tls::Anonymous,
            RESOURCE,
            &[("Authorization", &forged_auth), ("DPoP", &forged_proof)],
        ),
    );
    // 9-11. Certificate-bound token: the right certificate, another one, none.
    step(
        "certificate-bound token, client's certificate",
        Expect::ok(),
        client.get(Tls::Client, RESOURCE, &[("Authorization", &bearer_cert)]),
    );
    step(
        "certificate-bound token, thief's certificate",
        Expect::rejected(401, "certificate_mismatch"),
        client.get(Tls::Thief, RESOURCE, &[("Authorization", &bearer_cert)]),
    );
    step(
        "certificate-bound token, no certificate",
        Expect::rejected(401, "certificate_missing"),
        client.get(Tls::Anonymous, RESOURCE, &[("Authorization", &bearer_cert)]),
    );
    Ok(out)
}

fn table(outcomes: &[Outcome]) -> String {
    let name_w = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let exp_w = outcomes
        .iter()
        .map(|o| o.expected.label().len())
        .max()
        .unwrap_or(8)
        .max(8);
    let got_w = outcomes
        .iter()
        .map(|o| o.got_label().len())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut s = String::new();
    let _ = writeln!(
        s,
        " #  {:<name_w$}  {:<exp_w$}  {:<got_w$}  {:>9}  {:>8}  result",
        "scenario", "expected", "got", "latency", "verify"
    );
    let rule = 4 + name_w + 2 + exp_w + 2 + got_w + 2 + 9 + 2 + 8 + 2 + 6;
    let _ = writeln!(s, "{}", "-".repeat(rule));
    for (i, o) in outcomes.iter().enumerate() {
        let verify = o
            .server_micros
            .map(|us| format!("{us} µs"))
            .unwrap_or_else(|| "-".to_owned());
        let _ = writeln!(
            s,
            "{:>2}  {:<name_w$}  {:<exp_w$}  {:<got_w$}  {:>9}  {:>8}  {}",
            i + 1,
            o.name,
            o.expected.label(),
            o.got_label(),
            millis(o.latency),
            verify,
            if o.matched() { "ok" } else { "UNEXPECTED" }
        );
    }
    s
}

/// Runs the demo; exit 0 when every scenario had the expected outcome, 1 otherwise.
pub(crate) fn run() -> Result<u8, CliError> {
    let started = Instant::now();
    say!("keybound demo: sender-constrained access tokens, DPoP (RFC 9449) and mTLS (RFC 8705)");
    say!("");

    let t = Instant::now();
    let pki = pki::create()?;
    say!(
        "[setup] throwaway CA + server, client and thief certificates (ECDSA P-256) in {}",
        millis(t.elapsed())
    );

    let (server, authz) = Server::start(pki::server_config(&pki)?, |origin| {
        AuthorizationServer::new(origin).map(Arc::new)
    })?;
    let origin = format!("https://{}", server.addr);
    say!(
        "[setup] HTTPS resource server on {origin} (TLS 1.3, client certificates optional); protected: {RESOURCE}, {NONCE_RESOURCE} (nonce required)"
    );
    say!(
        "[setup] authorization server (ES256 JWT access tokens, issuer {})",
        authz::ISSUER
    );

    let client = Client {
        origin,
        anonymous: pki::client_config(&pki, None)?,
        with_client_cert: pki::client_config(&pki, Some(&pki.client))?,
        with_thief_cert: pki::client_config(&pki, Some(&pki.thief))?,
        server,
    };
    let outcomes = scenarios(&client, &authz, &pki);
    client.server.stop();
    let outcomes = outcomes?;

    say!("");
    say_raw(&table(&outcomes));
    let matched = outcomes.iter().filter(|o| o.matched()).count();
    say!("");
    if matched == outcomes.len() {
        say!(
            "all {} scenarios matched in {}: a stolen token is useless without the client's key or certificate.",
            outcomes.len(),
            millis(started.elapsed())
        );
        Ok(EXIT_OK)
    } else {
        say!(
            "{} of {} scenarios did NOT match the expected outcome.",
            outcomes.len() - matched,
            outcomes.len()
        );
        Ok(EXIT_INVALID)
    }
}
