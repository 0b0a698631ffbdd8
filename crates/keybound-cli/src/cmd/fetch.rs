//! `keybound fetch`: one HTTP request like curl, through `keybound-client` (a fresh DPoP proof,
//! the origin's nonce, one retry on `use_dpop_nonce`, a client certificate for mTLS).

use core::time::Duration;
use std::io::Write as _;

use keybound::dpop::SigningKey;
use keybound_client::reqwest::Method;
use keybound_client::{ClientIdentity, DpopClient};

use crate::error::{CliError, EXIT_INVALID, EXIT_OK};
use crate::input::{read_bytes, read_file};

/// `keybound fetch` arguments (the contract in the README's CLI section).
#[derive(clap::Args, Debug)]
#[command(after_help = FETCH_HELP)]
pub(crate) struct FetchCli {
    /// HTTP method (default: GET, or POST with -d).
    #[arg(short = 'X', long = "request", value_name = "M")]
    method: Option<String>,
    /// A request header 'Name: value' (repeatable).
    #[arg(
        short = 'H',
        long = "header",
        value_name = "N: v",
        allow_hyphen_values = true
    )]
    headers: Vec<String>,
    /// Request body; @FILE reads a file, @- standard input. Sets POST and, unless -H names
    /// one, Content-Type: application/x-www-form-urlencoded (as curl does).
    #[arg(
        short = 'd',
        long = "data",
        value_name = "DATA",
        allow_hyphen_values = true
    )]
    data: Option<String>,
    /// Private JWK file: sign a DPoP proof for the request (RFC 9449).
    #[arg(long, value_name = "JWK")]
    key: Option<String>,
    /// Access token: sent as `Authorization: DPoP T` with --key (the proof gets `ath`), as
    /// `Authorization: Bearer T` without.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    access_token: Option<String>,
    /// Client certificate (PEM, leaf first) for mutual TLS (RFC 8705).
    #[arg(long, value_name = "PEM", requires = "cert_key")]
    cert: Option<String>,
    /// The client certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "cert")]
    cert_key: Option<String>,
    /// Trust only the CA certificates in this PEM file (default: the system's roots).
    #[arg(long, value_name = "PEM")]
    cacert: Option<String>,
    /// Print the status line and the response headers before the body.
    #[arg(short = 'i', long = "include")]
    include: bool,
    /// The URL.
    #[arg(value_name = "URL")]
    url: String,
}

const FETCH_HELP: &str = "\
With --key every request carries a fresh DPoP proof (htu = the URL without query and
fragment; ath with --access-token); a DPoP-Nonce from the server is remembered, and a
use_dpop_nonce answer (401 challenge or 400 JSON body) is retried exactly once with a new
proof and the new nonce. Redirects are not followed.

The body goes to standard output; -i puts the status line and headers first.
Exit status: 0 for a 2xx answer, 1 for another status, 2 for a usage or transport error.

Examples:
  keybound fetch --key key.json --access-token \"$AT\" https://api.example.com/accounts
  keybound fetch -i --key key.json -X POST -d grant_type=client_credentials \\
      -H 'Authorization: Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW' https://as.example.com/token
  keybound fetch --cert client.pem --cert-key client.key --access-token \"$AT\" \\
      https://mtls.api.example.com/accounts";

/// The request body of `-d`: literal, `@FILE` or `@-`.
fn body_of(data: &str) -> Result<Vec<u8>, CliError> {
    match data.strip_prefix('@') {
        Some("-") => read_bytes(Some("-"), "request body"),
        Some(path) => read_file(path, "request body"),
        None => Ok(data.as_bytes().to_vec()),
    }
}

/// `Name: value` of `-H`.
fn header_of(line: &str) -> Result<(String, String), CliError> {
    let bad = || CliError::usage(format!("header {line:?} is not 'Name: value'"));
    let (name, value) = line.split_once(':').ok_or_else(bad)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(bad());
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

fn build_client(args: &FetchCli) -> Result<DpopClient, CliError> {
    let mut builder = DpopClient::builder()
        .user_agent(concat!("keybound/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30));
    if let Some(path) = &args.key {
        let jwk = read_file(path, "key")?;
        let key = SigningKey::from_jwk(&jwk).map_err(|e| {
            CliError::usage(format!("key file \"{path}\" is not a private JWK: {e}"))
        })?;
        builder = builder.key(key);
    }
    if let Some(path) = &args.cacert {
        builder = builder
            .root_certificates_pem(&read_file(path, "CA certificate")?)
            .map_err(|e| CliError::usage(format!("CA file \"{path}\": {e}")))?;
    }
    if let (Some(cert), Some(key)) = (&args.cert, &args.cert_key) {
        let id = ClientIdentity::from_pem(
            &read_file(cert, "certificate")?,
            &read_file(key, "certificate key")?,
        )
        .map_err(|e| CliError::usage(format!("--cert/--cert-key: {e}")))?;
        builder = builder.client_identity(id);
    }
    builder
        .build()
        .map_err(|e| CliError::usage(format!("cannot set up the client: {e}")))
}

async fn fetch(args: &FetchCli) -> Result<u8, CliError> {
    let client = build_client(args)?;
    let method = match (&args.method, &args.data) {
        (Some(m), _) => Method::from_bytes(m.as_bytes())
            .map_err(|_| CliError::usage(format!("{m:?} is not an HTTP method")))?,
        (None, Some(_)) => Method::POST,
        (None, None) => Method::GET,
    };
    let mut req = client.request(method, &args.url);
    let headers = args
        .headers
        .iter()
        .map(|h| header_of(h))
        .collect::<Result<Vec<_>, _>>()?;
    for (name, value) in &headers {
        req = req.header(name.as_str(), value.as_str());
    }
    if let Some(data) = &args.data {
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/x-www-form-urlencoded");
        }
        req = req.body(body_of(data)?);
    }
    if let Some(token) = &args.access_token {
        req = match args.key {
            Some(_) => req.access_token(token),
            None => req.header("authorization", format!("Bearer {token}")),
        };
    }
    let resp = req
        .send()
        .await
        .map_err(|e| CliError::usage(e.to_string()))?;
    let status = resp.status();
    let mut head = Vec::new();
    if args.include {
        head.extend_from_slice(format!("{:?} {status}\r\n", resp.version()).as_bytes());
        for (name, value) in resp.headers() {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
    }
    let url = resp.url().to_string();
    let body = resp
        .bytes()
        .await
        .map_err(|e| CliError::usage(format!("reading the answer of {url} failed: {e}")))?;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(&head)
        .and_then(|()| out.write_all(&body))
        .and_then(|()| out.flush());
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(CliError::usage(format!(
            "cannot write to standard output: {e}"
        )));
    }
    if status.is_success() {
        Ok(EXIT_OK)
    } else {
        eprintln!("keybound fetch: {url} answered {status}");
        Ok(EXIT_INVALID)
    }
}

/// Runs `keybound fetch`: exit 0 for 2xx, 1 for another status, 2 for usage or transport
/// errors.
pub(crate) fn run(args: &FetchCli) -> Result<u8, CliError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::usage(format!("cannot start the I/O runtime: {e}")))?;
    rt.block_on(fetch(args))
}
