//! `keybound-interop-rs`: a small resource server over [`keybound::rs`] for the interop checks
//! of `cargo xtask interop` (real clients: curl with client certificates, nginx as a
//! TLS-terminating reverse proxy).
//!
//! ```text
//! keybound-interop-rs (--tokens FILE | --jwks FILE --issuer I --audience A)
//!     [--listen 127.0.0.1:0] [--origin URL]
//!     [--require-nonce]                    DPoP nonces from a stateless HMAC source (RFC 9449 §9)
//!     [--tls-cert PEM --tls-key PEM]       HTTPS; asks every client for a certificate (optional)
//!     [--trust-proxy PREFIX]...            peers whose certificate header is believed
//!     [--cert-header NAME]                 default x-ssl-client-cert (nginx $ssl_client_escaped_cert)
//!     [--lifeline] [--max-seconds S]       exit at stdin EOF / after S seconds (default 600)
//! ```
//!
//! The first line on stdout is `listening <origin>`. `--tokens FILE` is a JSON object mapping
//! each access token to what introspection would say about it: `{"TOKEN": {"sub": "…", "cnf":
//! {…}}}`; with `--jwks`, tokens are RFC 9068 JWTs validated by [`keybound::jwt`] against that
//! JWK Set, issuer and audience (the `cnf` claim then comes from the token, and the answer
//! names its `sub` and `client_id`; a refused token's reason is `token_reason`).
//! Every response is JSON and names the certificate the server saw: `client_cert` (the one
//! used for binding, with its source `tls` or `header`) and `peer_tls_cert` (the TCP peer's
//! own handshake certificate, e.g. the proxy's), each as `x5t#S256`.
//!
//! One request per connection, no request body, `Connection: close`.

use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::collections::HashMap;
use std::io::{BufRead as _, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;

use keybound::CertThumbprint;
use keybound::Confirmation;
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::jwt::{Jwks, TokenPolicy, validate_token};
use keybound::mtls::{CertFormat, CertSource, IpPrefix, TrustedProxies};
use keybound::rs::{Binding, ClientCert, Rejection, ResourceServer, RsConfig, RsRequest};
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Map, Value, json};

/// Largest request head read (an nginx-escaped certificate header is a few KiB).
const MAX_HEAD: usize = 32 * 1024;
/// Socket read / write timeout per connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a token's `cnf` comes from.
enum Tokens {
    /// An introspection table: token → raw `cnf` JSON.
    Table(HashMap<String, Vec<u8>>),
    /// RFC 9068 JWTs checked against a JWKS, an issuer and an audience.
    Jwt {
        jwks: Jwks,
        issuer: String,
        audience: String,
    },
}

struct Config {
    listen: SocketAddr,
    origin: Option<String>,
    tokens: Tokens,
    /// Secret of the HMAC nonce source when `--require-nonce` is given.
    nonce_secret: Option<[u8; 32]>,
    tls: Option<Arc<rustls::ServerConfig>>,
    trusted: Vec<IpPrefix>,
    cert_header: String,
    lifeline: bool,
    max_seconds: u64,
}

/// What every request handler shares.
struct State {
    config: Config,
    origin: String,
    replay: Arc<MemoryReplayStore>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keybound-interop-rs: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), String> {
    let config = parse_args(std::env::args().skip(1))?;
    let listener =
        TcpListener::bind(config.listen).map_err(|e| format!("bind {}: {e}", config.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let origin = config
        .origin
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{addr}"));
    println!("listening {scheme}://{addr}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;

    // Bounded lifetime: never outlive the run that started us.
    let max = Duration::from_secs(config.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        eprintln!("keybound-interop-rs: --max-seconds reached, exiting");
        std::process::exit(3);
    });
    if config.lifeline {
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut sink);
            std::process::exit(0);
        });
    }

    let state = Arc::new(State {
        config,
        origin,
        replay: Arc::new(MemoryReplayStore::new(4096)),
    });
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let state = Arc::clone(&state);
        // A connection that cannot get a thread is dropped; the client sees EOF.
        let _ = std::thread::Builder::new().spawn(move || serve(stream, &state));
    }
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Config, String> {
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (mut origin, mut tokens, mut cert, mut key) = (None, None, None, None);
    let (mut jwks, mut issuer, mut audience) = (None, None, None);
    let mut require_nonce = false;
    let mut trusted = Vec::new();
    let mut cert_header = "x-ssl-client-cert".to_owned();
    let (mut lifeline, mut max_seconds) = (false, 600);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--origin" => origin = Some(value()?.trim_end_matches('/').to_owned()),
            "--tokens" => tokens = Some(value()?),
            "--jwks" => jwks = Some(value()?),
            "--issuer" => issuer = Some(value()?),
            "--audience" => audience = Some(value()?),
            "--require-nonce" => require_nonce = true,
            "--tls-cert" => cert = Some(value()?),
            "--tls-key" => key = Some(value()?),
            "--trust-proxy" => {
                trusted.push(IpPrefix::parse(&value()?).map_err(|e| format!("--trust-proxy: {e}"))?)
            }
            "--cert-header" => cert_header = value()?.to_ascii_lowercase(),
            "--lifeline" => lifeline = true,
            "--max-seconds" => {
                max_seconds = value()?
                    .parse()
                    .map_err(|e| format!("--max-seconds: {e}"))?;
            }
            other => return Err(format!("unknown argument `{other}` (see the crate docs)")),
        }
    }
    let tokens = match (tokens, jwks, issuer, audience) {
        (Some(file), None, None, None) => Tokens::Table(load_tokens(&file)?),
        (None, Some(file), Some(issuer), Some(audience)) => {
            let bytes = std::fs::read(&file).map_err(|e| format!("{file}: {e}"))?;
            let jwks = Jwks::parse(&bytes).map_err(|e| format!("{file}: {e}"))?;
            Tokens::Jwt {
                jwks,
                issuer,
                audience,
            }
        }
        _ => return Err("either --tokens FILE or --jwks FILE --issuer I --audience A".into()),
    };
    let nonce_secret = if require_nonce {
        let mut secret = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut secret))
            .map_err(|e| format!("/dev/urandom: {e}"))?;
        Some(secret)
    } else {
        None
    };
    let tls = match (cert, key) {
        (Some(c), Some(k)) => Some(tls_config(&c, &k)?),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(Config {
        listen,
        origin,
        tokens,
        nonce_secret,
        tls,
        trusted,
        cert_header,
        lifeline,
        max_seconds,
    })
}

/// `{"TOKEN": {"sub": …, "cnf": {…}}}` → token → raw `cnf` JSON (parsed per request by
/// keybound, as a host would parse an introspection response).
fn load_tokens(path: &str) -> Result<HashMap<String, Vec<u8>>, String> {
    let text = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let doc: Value = serde_json::from_slice(&text).map_err(|e| format!("{path}: {e}"))?;
    let entries = doc
        .as_object()
        .ok_or_else(|| format!("{path}: not a JSON object"))?;
    entries
        .iter()
        .map(|(token, info)| {
            let cnf = info.get("cnf").cloned().unwrap_or_else(|| json!({}));
            serde_json::to_vec(&cnf)
                .map(|bytes| (token.clone(), bytes))
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// Server certificate chain and key from PEM files; client certificates requested but
/// optional, accepted by value (keybound-mtls's self-signed verifier: the handshake proves
/// possession, the token's `cnf."x5t#S256"` pins the certificate).
fn tls_config(cert: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{cert}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = keybound::mtls::rustls::SelfSignedClientCertVerifier::new(
        &provider,
        keybound::mtls::rustls::ClientCertMode::Optional,
    )
    .into_arc();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    Ok(Arc::new(config))
}

fn serve(tcp: TcpStream, state: &State) {
    let _ = tcp.set_read_timeout(Some(IO_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(IO_TIMEOUT));
    let Ok(peer) = tcp.peer_addr() else { return };
    match &state.config.tls {
        Some(tls) => {
            let Ok(conn) = rustls::ServerConnection::new(Arc::clone(tls)) else {
                return;
            };
            let mut stream = rustls::StreamOwned::new(conn, tcp);
            // Reading drives the handshake; a failed handshake or bad request just closes.
            let Ok(request) = read_request(&mut stream) else {
                return;
            };
            let leaf = keybound::mtls::rustls::peer_leaf(&stream.conn).map(<[u8]>::to_vec);
            let response = handle(state, peer.ip(), leaf.as_deref(), &request);
            if write_response(&mut stream, &response).is_ok() {
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
        None => {
            let mut stream = tcp;
            let Ok(request) = read_request(&mut stream) else {
                return;
            };
            let response = handle(state, peer.ip(), None, &request);
            let _ = write_response(&mut stream, &response);
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, Vec<u8>)>,
}

impl Request {
    fn header_values(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Value,
}

fn read_request(stream: &mut impl Read) -> std::io::Result<Request> {
    let bad = |msg: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned());
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD {
            return Err(bad("head too large"));
        }
        // Byte-wise after the first read would be slow; a GET has no body, so over-reading
        // past the head is harmless.
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("closed before the end of the head"));
        }
        head.extend_from_slice(chunk.get(..n).unwrap_or_default());
        if let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            head.truncate(end + 4);
        }
    }
    let mut lines = head.as_slice().lines();
    let request_line = lines.next().ok_or_else(|| bad("empty"))??;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
        return Err(bad("request line"));
    };
    let mut headers = Vec::new();
    for line in lines {
        let line = line?;
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').ok_or_else(|| bad("header line"))?;
        headers.push((name.trim().to_owned(), value.trim().as_bytes().to_vec()));
    }
    Ok(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        headers,
    })
}

fn write_response(stream: &mut impl Write, response: &Response) -> std::io::Result<()> {
    let body = response.body.to_string();
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        response.status,
        body.len()
    );
    for (name, value) in &response.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&body);
    stream.write_all(out.as_bytes())?;
    stream.flush()
}

fn x5t(der: &[u8]) -> String {
    CertThumbprint::from_bytes(keybound::mtls::x5t_s256_bytes(der)).to_b64_string()
}

/// The whole resource-server decision for one request.
fn handle(state: &State, peer: IpAddr, tls_leaf: Option<&[u8]>, req: &Request) -> Response {
    let cfg = &state.config;
    let policy = if cfg.trusted.is_empty() {
        TrustedProxies::none()
    } else {
        TrustedProxies::peers(&cfg.trusted, CertFormat::NginxEscaped)
    };
    let cert_values = req.header_values(&cfg.cert_header);
    let mut buf = vec![0u8; cert_values.iter().map(|v| v.len()).max().unwrap_or(0)];
    let mut seen = Map::new();
    seen.insert("peer".into(), json!(peer.to_string()));
    seen.insert("peer_tls_cert".into(), json!(tls_leaf.map(x5t)));
    seen.insert("client_cert".into(), Value::Null);
    let presented = match policy.client_cert(peer, tls_leaf, &cert_values, &mut buf) {
        Ok(p) => p,
        Err(e) => {
            seen.insert("error".into(), json!("invalid_request"));
            seen.insert("reason".into(), json!("client_cert_header"));
            seen.insert("detail".into(), json!(e.to_string()));
            return Response {
                status: 400,
                headers: Vec::new(),
                body: Value::Object(seen),
            };
        }
    };
    if let Some(p) = &presented {
        let source = match p.source {
            CertSource::Tls => "tls",
            _ => "header",
        };
        seen.insert(
            "client_cert".into(),
            json!({"x5t#S256": x5t(p.der.as_bytes()), "source": source}),
        );
    }

    let path = req.path.split(['?', '#']).next().unwrap_or_default();
    let uri = format!("{}{path}", state.origin);
    let authorization = req.header_values("authorization");
    let dpop = req.header_values("dpop");
    let mut rs_req = RsRequest::new(&req.method, &uri)
        .with_authorization(&authorization)
        .with_dpop(&dpop);
    if let Some(p) = &presented {
        rs_req = rs_req.with_client_cert(ClientCert::Der(p.der.as_bytes()));
    }
    let mut rs_config = RsConfig::new(Arc::clone(&state.replay));
    if let Some(secret) = cfg.nonce_secret {
        rs_config = rs_config.with_nonce(HmacNonceSource::new(secret, 60));
    }
    let rs = ResourceServer::new(rs_config);
    // 1. Scheme and token; 2. the token itself (an introspection table or an RFC 9068 JWT)
    // → cnf; 3. the sender constraint.
    let creds = match rs.credentials(&rs_req) {
        Ok(c) => c,
        Err(rej) => return rejection(&rej, seen),
    };
    let cnf = match &cfg.tokens {
        Tokens::Table(table) => {
            let Some(cnf_json) = table.get(creds.token) else {
                return rejection(&rs.reject_invalid_token(creds.scheme), seen);
            };
            match Confirmation::parse(cnf_json) {
                Ok(c) => c,
                Err(_) => return rejection(&rs.reject_invalid_token(creds.scheme), seen),
            }
        }
        Tokens::Jwt {
            jwks,
            issuer,
            audience,
        } => {
            let policy = TokenPolicy::new(issuer, audience);
            let verifier = keybound::dpop::DefaultVerifier::default();
            match validate_token(creds.token, jwks, &policy, &verifier, keybound::unix_now()) {
                Ok(at) => {
                    seen.insert("sub".into(), json!(at.subject()));
                    seen.insert("client_id".into(), json!(at.client_id()));
                    at.cnf().copied().unwrap_or_default()
                }
                Err(e) => {
                    seen.insert("token_reason".into(), json!(e.reason()));
                    return rejection(&rs.reject_invalid_token(creds.scheme), seen);
                }
            }
        }
    };
    match rs.verify_now(&rs_req, &cnf) {
        Ok(accepted) => {
            seen.insert("ok".into(), json!(true));
            let binding = match accepted.binding() {
                Binding::Dpop { .. } => "dpop",
                Binding::Mtls { .. } => "mtls",
                Binding::Both { .. } => "dpop+mtls",
                _ => "bearer",
            };
            seen.insert("binding".into(), json!(binding));
            Response {
                status: 200,
                headers: Vec::new(),
                body: Value::Object(seen),
            }
        }
        Err(rej) => rejection(&rej, seen),
    }
}

fn rejection(rej: &Rejection, mut body: Map<String, Value>) -> Response {
    let mut headers: Vec<(&'static str, String)> = rej
        .www_authenticate()
        .iter()
        .map(|c| ("WWW-Authenticate", c.clone()))
        .collect();
    if let Some(nonce) = rej.dpop_nonce() {
        headers.push(("DPoP-Nonce", nonce.to_owned()));
    }
    body.insert("ok".into(), json!(false));
    body.insert("error".into(), json!(rej.error()));
    body.insert("reason".into(), json!(rej.reason()));
    body.insert("detail".into(), json!(rej.description()));
    Response {
        status: rej.status(),
        headers,
        body: Value::Object(body),
    }
}
