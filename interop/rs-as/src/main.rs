//! `keybound-interop-as`: a small OAuth 2.0 authorization server built on the facade's
//! [`keybound::authz`], for the end-to-end checks of `cargo xtask interop`
//! (interop/check_oidc.mjs, flow E: openid-client → a keybound AS).
//!
//! ```text
//! keybound-interop-as DEPLOYMENT_JSON [--listen 127.0.0.1:0] [--lifeline] [--max-seconds S]
//! ```
//!
//! It reads the deployment file written by interop/oidc/harness.mjs: the clients (`kb-dpop`,
//! `private_key_jwt` with the public part of `client_auth_key`; `kb-public`, `none`; clients
//! of other methods are skipped), their grant types, redirect URI and
//! `dpop_bound_access_tokens`, `rs.resource` (the one audience it issues tokens for),
//! `test_user` (the user its authorization endpoint signs in) and the PKI's server
//! certificate, with which it serves HTTPS (TLS 1.2/1.3 with rustls and ring, HTTP/1.1).
//! It generates its own ES256 signing key, and prints `listening https://127.0.0.1:PORT`
//! (its issuer) once up.
//!
//! Endpoints: `/.well-known/oauth-authorization-server` (RFC 8414), `/jwks`, `/par`
//! (RFC 9126; DPoP header and/or `dpop_jkt`, RFC 9449 §10.1), `/authorize` (pushed requests
//! only, one user approved by program, `code` + `state` + `iss`), `/token`
//! (`client_credentials`, `authorization_code` with PKCE S256, `refresh_token`). DPoP with
//! server nonces is required of every client registered `dpop_bound_access_tokens`; access
//! tokens are RFC 9068 JWTs bound by `cnf.jkt`. Stores are in memory, with expiry.
//! Every request is logged on stderr, one line each.

mod assertion;
mod form;
mod server;
mod store;

use core::net::SocketAddr;
use core::time::Duration;
use std::io::{Read as _, Write as _};
use std::process::ExitCode;
use std::sync::Arc;

use axum::Router;
use keybound::jose::SigningKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use crate::assertion::RegisteredKey;
use crate::server::{App, Client, ClientAuth, Settings};

/// TLS handshake and request-head timeout per connection.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

struct Args {
    deployment: String,
    listen: SocketAddr,
    lifeline: bool,
    max_seconds: u64,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut deployment = None;
    let mut listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (mut lifeline, mut max_seconds) = (false, 600);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--listen" => listen = value()?.parse().map_err(|e| format!("--listen: {e}"))?,
            "--lifeline" => lifeline = true,
            "--max-seconds" => {
                max_seconds = value()?
                    .parse()
                    .map_err(|e| format!("--max-seconds: {e}"))?;
            }
            flag if flag.starts_with('-') => {
                return Err(format!("unknown argument `{flag}` (see the crate docs)"));
            }
            _ if deployment.is_none() => deployment = Some(arg),
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    Ok(Args {
        deployment: deployment.ok_or("usage: keybound-interop-as DEPLOYMENT_JSON [--listen ADDR] [--lifeline] [--max-seconds S]")?,
        listen,
        lifeline,
        max_seconds,
    })
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

fn str_at<'v>(v: &'v Value, path: &[&str]) -> Result<&'v str, String> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| format!("deployment has no {}", path.join(".")))?;
    }
    cur.as_str()
        .ok_or_else(|| format!("deployment {} is not a string", path.join(".")))
}

/// One client of the deployment file, or `None` for a method this server does not offer.
fn client(name: &str, c: &Value) -> Result<Option<Client>, String> {
    let id = str_at(c, &["client_id"])?.to_owned();
    let auth = match str_at(c, &["token_endpoint_auth_method"])? {
        "private_key_jwt" => {
            // The deployment holds the client's private JWK; only its public part is kept.
            let jwk = read(str_at(c, &["client_auth_key"])?)?;
            let meta: Value = serde_json::from_slice(&jwk).map_err(|e| format!("{name}: {e}"))?;
            let key = SigningKey::from_jwk(&jwk).map_err(|e| format!("{name}: {e}"))?;
            ClientAuth::PrivateKeyJwt(RegisteredKey {
                jwk: key.public_jwk(),
                kid: meta.get("kid").and_then(Value::as_str).map(str::to_owned),
                alg: key.alg(),
            })
        }
        "none" => ClientAuth::None,
        other => {
            eprintln!("keybound-interop-as: client {id} skipped ({other} is not offered here)");
            return Ok(None);
        }
    };
    let strings = |name: &str| -> Vec<String> {
        c.get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    Ok(Some(Client {
        id,
        auth,
        grant_types: strings("grant_types"),
        redirect_uris: c
            .get("redirect_uri")
            .and_then(Value::as_str)
            .map(|u| vec![u.to_owned()])
            .unwrap_or_default(),
        dpop_bound: c
            .get("dpop_bound_access_tokens")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }))
}

/// The deployment: the server's settings and its TLS certificate and key files.
fn load(path: &str) -> Result<(Settings, String, String), String> {
    let d: Value =
        serde_json::from_slice(&read(path)?).map_err(|e| format!("{path} is not JSON: {e}"))?;
    let mut clients = Vec::new();
    let all = d
        .get("clients")
        .and_then(Value::as_object)
        .ok_or("deployment has no clients")?;
    for (name, c) in all {
        if let Some(c) = client(name, c)? {
            clients.push(c);
        }
    }
    let settings = Settings {
        resource: str_at(&d, &["rs", "resource"])?.to_owned(),
        user: str_at(&d, &["test_user"])?.to_owned(),
        clients,
    };
    Ok((
        settings,
        str_at(&d, &["pki", "server", "cert"])?.to_owned(),
        str_at(&d, &["pki", "server", "key"])?.to_owned(),
    ))
}

fn tls_config(cert: &str, key: &str) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{cert}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{cert}: {e}"))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{key}: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Accepts TLS connections and serves HTTP/1.1 on each until the process ends.
async fn serve(listener: tokio::net::TcpListener, app: Router, tls: Arc<rustls::ServerConfig>) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                eprintln!("keybound-interop-as: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let Ok(Ok(stream)) = tokio::time::timeout(IO_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(IO_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (settings, cert, key) = load(&args.deployment)?;
    let tls = tls_config(&cert, &key)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("bind {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let issuer = format!("https://{addr}");
    let app = Arc::new(App::new(issuer.clone(), settings)?);

    // Bounded lifetime: never outlive the run that started us.
    let max = Duration::from_secs(args.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        eprintln!("keybound-interop-as: --max-seconds reached, exiting");
        std::process::exit(3);
    });
    if args.lifeline {
        std::thread::spawn(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().lock().read_to_end(&mut sink);
            std::process::exit(0);
        });
    }

    println!("listening {issuer}");
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    serve(listener, server::router(app), tls).await;
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let result = match parse_args(std::env::args().skip(1)) {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keybound-interop-as: {e}");
            ExitCode::from(2)
        }
    }
}
