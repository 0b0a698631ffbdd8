//! The `keybound` command-line tool: JWK and certificate thumbprints, DPoP proofs (sign,
//! inspect, verify), FAPI 2.0 profiles, and an end-to-end demo of sender-constrained tokens.

mod cmd;
mod demo;
mod error;
mod input;
mod json_out;
mod profile;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::cmd::cert::FormatArg;
use crate::error::{CliError, EXIT_OK};

const MAIN_EXAMPLES: &str = "\
Examples:
  keybound demo                                    # DPoP + mTLS end to end on 127.0.0.1
  keybound jwk generate --alg ES256 > key.json
  keybound jwk thumbprint key.json                 # RFC 7638 (the cnf.jkt value)
  keybound dpop sign --key key.json --htm GET --htu https://api.example.com/data > proof
  keybound dpop verify --htm GET --htu https://api.example.com/data proof
  keybound cert thumbprint client.pem              # RFC 8705 x5t#S256
  keybound profile show fapi2-baseline
  keybound token verify --jwks jwks.json --issuer I --audience A \"$AT\"

Exit status: 0 success / valid proof, 1 invalid proof (or a demo outcome that differs),
2 usage error (bad argument, unreadable or unusable input).";

/// Sender-constrained OAuth tokens from the command line: DPoP (RFC 9449) and mTLS
/// (RFC 8705).
#[derive(Parser, Debug)]
#[command(name = "keybound", version, after_help = MAIN_EXAMPLES, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// JSON Web Keys: thumbprints (RFC 7638, RFC 9278) and key generation.
    #[command(subcommand)]
    Jwk(JwkCommand),
    /// X.509 client certificates: x5t#S256 thumbprints (RFC 8705 §3.1).
    #[command(subcommand)]
    Cert(CertCommand),
    /// DPoP proofs (RFC 9449): sign, inspect, verify.
    #[command(subcommand)]
    Dpop(DpopCommand),
    /// Policy profiles: rfc9449, fapi2-baseline, fapi2-message-signing.
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// JWT access tokens (RFC 9068): verify against an issuer's JWKS.
    #[command(subcommand)]
    Token(TokenCommand),
    /// End-to-end demo on loopback: a real HTTPS resource server, stolen and replayed tokens.
    #[command(after_help = DEMO_HELP)]
    Demo,
    /// One HTTP request like curl, with DPoP proofs, nonce retry and mTLS (keybound-client).
    Fetch(cmd::fetch::FetchCli),
    /// Forward-auth resource-server gate (nginx auth_request, Envoy ext_authz, Traefik).
    #[command(after_help = cmd::serve::SERVE_HELP)]
    Serve(cmd::serve::ServeCli),
}

const DEMO_HELP: &str = "\
Creates a throwaway CA and client certificates, starts an HTTPS resource server on
127.0.0.1 (random port) that asks for optional client certificates, mints DPoP-bound and
certificate-bound access tokens like an authorization server, and plays attacks against it
over real TLS connections: stolen token as Bearer, stolen token with the thief's own DPoP
key, replayed proof, nonce challenge, certificate-bound token with another certificate.
Prints a table (scenario, expected, got, latency); exits 1 if any outcome differs.

Example:
  cargo run --release -p keybound-cli -- demo";

#[derive(Subcommand, Debug)]
enum JwkCommand {
    /// Print the RFC 7638 SHA-256 thumbprint of a JWK (public or private).
    #[command(after_help = "\
Examples:
  keybound jwk thumbprint key.json
  keybound jwk thumbprint --uri key.json     # urn:ietf:params:oauth:jwk-thumbprint:sha-256:…
  cat key.json | keybound jwk thumbprint -")]
    Thumbprint {
        /// Print the RFC 9278 thumbprint URI instead of the bare base64url value.
        #[arg(long)]
        uri: bool,
        /// JWK file; `-` or nothing for standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<String>,
    },
    /// Generate a key pair for signing DPoP proofs; prints the private JWK on stdout.
    #[command(after_help = "\
Examples:
  keybound jwk generate --alg ES256 > key.json
  keybound jwk generate --alg EdDSA | keybound jwk thumbprint -")]
    Generate {
        /// Signing algorithm (RSA keys are 2048 bits).
        #[arg(long, value_enum, ignore_case = true)]
        alg: AlgArg,
    },
}

/// The algorithms `jwk generate` offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum AlgArg {
    /// ECDSA P-256 with SHA-256.
    #[value(name = "ES256")]
    Es256,
    /// ECDSA P-384 with SHA-384.
    #[value(name = "ES384")]
    Es384,
    /// RSASSA-PSS with SHA-256.
    #[value(name = "PS256")]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[value(name = "RS256")]
    Rs256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
}

impl AlgArg {
    fn algorithm(self) -> keybound::dpop::Algorithm {
        use keybound::dpop::Algorithm;
        match self {
            AlgArg::Es256 => Algorithm::Es256,
            AlgArg::Es384 => Algorithm::Es384,
            AlgArg::Ps256 => Algorithm::Ps256,
            AlgArg::Rs256 => Algorithm::Rs256,
            AlgArg::EdDsa => Algorithm::EdDsa,
        }
    }
}

#[derive(Subcommand, Debug)]
enum CertCommand {
    /// Print the x5t#S256 (base64url SHA-256 of the DER) of a client certificate.
    #[command(after_help = "\
Formats:
  pem      -----BEGIN CERTIFICATE----- block; for a chain (leaf first, as openssl x509
           reads it) the leaf's thumbprint, with a note on stderr
  der      raw DER bytes
  nginx    $ssl_client_escaped_cert (URL-encoded PEM)
  xfcc     Envoy x-forwarded-client-cert (Cert= of the last element)
  rfc9440  Client-Cert header value (:base64-DER:)
  auto     detect from the first bytes (default)

Examples:
  keybound cert thumbprint client.pem
  keybound cert thumbprint --format der client.der
  printf '%s' \"$CLIENT_CERT_HEADER\" | keybound cert thumbprint --format rfc9440 -")]
    Thumbprint {
        /// Input encoding.
        #[arg(long, value_enum, default_value = "auto")]
        format: FormatArg,
        /// Certificate file; `-` or nothing for standard input.
        #[arg(value_name = "FILE|-")]
        file: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum DpopCommand {
    /// Sign a DPoP proof with a private JWK; prints the compact proof.
    #[command(after_help = "\
Examples:
  keybound dpop sign --key key.json --htm POST --htu https://as.example.com/token
  keybound dpop sign --key key.json --htm GET --htu https://api.example.com/data \\
      --access-token \"$AT\" --nonce \"$NONCE\"")]
    Sign(SignCli),
    /// Decode a proof without verifying it: header, claims and the key's thumbprint (jkt).
    #[command(after_help = "\
Examples:
  keybound dpop inspect eyJ0eXAiOiJkcG9wK2p3dCIs…
  keybound dpop sign --key key.json --htm GET --htu https://a.example/ | keybound dpop inspect -")]
    Inspect {
        /// The compact proof, a file holding it, or `-` / nothing for standard input.
        #[arg(value_name = "PROOF|-")]
        proof: Option<String>,
    },
    /// Verify a proof as a server would (RFC 9449 §4.3); prints one JSON object.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyCli),
}

const VERIFY_HELP: &str = "\
Output (one line of JSON):
  {\"valid\":true,\"jkt\":\"…\",\"jti\":\"…\",\"iat\":…}
  {\"valid\":false,\"error\":\"invalid_dpop_proof\"|\"use_dpop_nonce\",\"reason\":R,\"detail\":\"…\"}
R names the member at fault: malformed, typ, alg, jwk, signature, jti, htm, htu, iat, ath,
nonce, replay, key_binding.

Exit status: 0 valid, 1 invalid, 2 usage error.

--batch reads JSON lines {\"proof\",\"htm\",\"htu\",\"now\",\"access_token\",\"jkt\",\"nonce\",\"profile\"}
(nulls allowed; now defaults to the clock, profile to rfc9449) and writes one line per
input line, in order. One replay store spans the batch: a second copy of a proof reports
reason \"replay\". A line that cannot be read (not strict JSON, e.g. a duplicate member;
longer than 4 MiB) gets {\"valid\":false,\"error\":\"invalid_input\",…} and the exit status
becomes 2. --jkt takes a thumbprint or its RFC 9278 URI (urn:ietf: in any case).

Examples:
  keybound dpop verify --htm GET --htu https://api.example.com/data \"$PROOF\"
  keybound dpop verify --htm POST --htu https://as.example.com/token --now 1562262620 \\
      --profile fapi2-baseline --jkt 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I proof.txt
  keybound dpop verify --batch < requests.jsonl";

#[derive(Args, Debug)]
struct SignCli {
    /// Private JWK file (e.g. from `keybound jwk generate`).
    #[arg(long, value_name = "FILE")]
    key: String,
    /// HTTP method of the request.
    #[arg(long, value_name = "M")]
    htm: String,
    /// Target URI of the request (query and fragment are dropped).
    #[arg(long, value_name = "URL")]
    htu: String,
    /// Access token sent with the request (adds its hash as `ath`).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    access_token: Option<String>,
    /// Server nonce from a `DPoP-Nonce` header.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    nonce: Option<String>,
    /// Creation time in Unix seconds (default: now).
    #[arg(long, value_name = "S")]
    iat: Option<u64>,
}

#[derive(Args, Debug)]
struct VerifyCli {
    /// HTTP method of the request.
    #[arg(long, value_name = "M", required_unless_present = "batch")]
    htm: Option<String>,
    /// URI the request was sent to, as the client addressed it.
    #[arg(long, value_name = "URL", required_unless_present = "batch")]
    htu: Option<String>,
    /// Server time in Unix seconds (default: now).
    #[arg(long, value_name = "S")]
    now: Option<u64>,
    /// Access token presented with the proof (requires a matching `ath`).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    access_token: Option<String>,
    /// Key the token is bound to: cnf.jkt thumbprint (or its RFC 9278 URI).
    #[arg(long, value_name = "J", allow_hyphen_values = true)]
    jkt: Option<String>,
    /// Require this server nonce.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    nonce: Option<String>,
    /// Policy profile: rfc9449 (default), fapi2-baseline, fapi2-message-signing.
    #[arg(long, value_name = "P")]
    profile: Option<String>,
    /// Read JSON lines (one request each) and answer one line each.
    #[arg(long, conflicts_with_all = ["htm", "htu", "now", "access_token", "jkt", "nonce", "profile"])]
    batch: bool,
    /// The compact proof, a file holding it, or `-` / nothing for standard input (with
    /// --batch: the JSON-lines file).
    #[arg(value_name = "PROOF|-")]
    proof: Option<String>,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Verify an RFC 9068 access token; prints one JSON object (claims and cnf).
    #[command(after_help = TOKEN_VERIFY_HELP)]
    Verify(TokenVerifyCli),
}

const TOKEN_VERIFY_HELP: &str = "\
Output (one line of JSON):
  {\"valid\":true,\"claims\":{…},\"cnf\":{…}|null,\"alg\":\"…\",\"kid\":\"…\"|null}
  {\"valid\":false,\"error\":\"invalid_token\",\"reason\":R,\"detail\":\"…\"}
R names the member at fault: malformed, typ, alg, kid, signature, iss, aud, exp, nbf, iat,
sub, client_id, jti, scope, cnf.

Exit status: 0 valid, 1 invalid, 2 usage error (unreadable JWKS, bad arguments).

Examples:
  keybound token verify --jwks jwks.json --issuer https://as.example.com \\
      --audience https://api.example.com \"$AT\"
  keybound token verify --jwks jwks.json --issuer I --audience A --now 1700000000 token.txt";

#[derive(Args, Debug)]
struct TokenVerifyCli {
    /// The issuer's JWK Set (RFC 7517 §5), e.g. from its jwks_uri.
    #[arg(long, value_name = "FILE")]
    jwks: String,
    /// The trusted issuer (`iss`, compared exactly).
    #[arg(long, value_name = "I")]
    issuer: String,
    /// This resource server's identifier, which `aud` must contain.
    #[arg(long, value_name = "A")]
    audience: String,
    /// Server time in Unix seconds (default: now).
    #[arg(long, value_name = "S")]
    now: Option<u64>,
    /// The compact token, a file holding it, or `-` / nothing for standard input.
    #[arg(value_name = "TOKEN|-", allow_hyphen_values = true)]
    token: Option<String>,
}

#[derive(Subcommand, Debug)]
enum ProfileCommand {
    /// Print a profile's resolved policy and discovery metadata as JSON.
    #[command(after_help = "\
Examples:
  keybound profile show rfc9449
  keybound profile show fapi2-baseline                 # DPoP chosen by default
  keybound profile show fapi2-message-signing --enable dpop,mtls")]
    Show {
        /// rfc9449, fapi2-baseline or fapi2-message-signing.
        #[arg(value_name = "NAME")]
        name: String,
        /// Sender-constraining mechanisms to enable (comma-separated: dpop, mtls).
        #[arg(long, value_name = "dpop,mtls", value_delimiter = ',')]
        enable: Vec<String>,
    },
}

/// Prints one result on stdout; a closed pipe (`| head`) is not an error.
fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::failure(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

fn run(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Jwk(JwkCommand::Thumbprint { uri, file }) => {
            emit(&cmd::jwk::thumbprint(file.as_deref(), uri)?)?;
        }
        Command::Jwk(JwkCommand::Generate { alg }) => {
            emit(&cmd::jwk::generate(alg.algorithm())?)?;
        }
        Command::Cert(CertCommand::Thumbprint { format, file }) => {
            emit(&cmd::cert::thumbprint(file.as_deref(), format)?)?;
        }
        Command::Dpop(DpopCommand::Sign(a)) => {
            let args = cmd::dpop::SignArgs {
                key: &a.key,
                htm: &a.htm,
                htu: &a.htu,
                access_token: a.access_token.as_deref(),
                nonce: a.nonce.as_deref(),
                iat: a.iat,
            };
            emit(&cmd::dpop::sign(&args)?)?;
        }
        Command::Dpop(DpopCommand::Inspect { proof }) => {
            emit(&cmd::dpop::inspect(proof.as_deref())?)?;
        }
        Command::Dpop(DpopCommand::Verify(v)) => {
            if v.batch {
                return cmd::dpop::verify_batch(v.proof.as_deref());
            }
            let args = cmd::dpop::VerifyArgs {
                proof: v.proof.as_deref(),
                htm: v.htm.as_deref().unwrap_or_default(),
                htu: v.htu.as_deref().unwrap_or_default(),
                now: v.now,
                access_token: v.access_token.as_deref(),
                jkt: v.jkt.as_deref(),
                nonce: v.nonce.as_deref(),
                profile: v.profile.as_deref(),
            };
            return cmd::dpop::verify(&args);
        }
        Command::Profile(ProfileCommand::Show { name, enable }) => {
            emit(&cmd::profile::show(&name, &enable)?)?;
        }
        Command::Token(TokenCommand::Verify(t)) => {
            return cmd::token::verify(&cmd::token::VerifyArgs {
                token: t.token.as_deref(),
                jwks: &t.jwks,
                issuer: &t.issuer,
                audience: &t.audience,
                now: t.now,
            });
        }
        Command::Demo => return demo::run(),
        Command::Fetch(f) => return cmd::fetch::run(&f),
        Command::Serve(a) => return cmd::serve::run(a),
    }
    Ok(EXIT_OK)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code())
        }
    }
}
