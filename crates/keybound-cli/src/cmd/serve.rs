//! `keybound serve`: `keybound-tower`'s layer as a forward-auth gate (nginx `auth_request`,
//! Envoy `ext_authz` over HTTP, Traefik `ForwardAuth`), with RFC 9728 metadata and a health
//! check. The contract is in shared/DESIGN.md ("The `keybound` CLI").

use core::net::SocketAddr;
use core::time::Duration;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::{AsyncReplayStore, MemoryReplayStore, ReplayError, ReplayKey};
use keybound::jwt::Jwks;
use keybound::mtls::{CertFormat, IpPrefix};
use keybound::profile::{Choices, Feature};
use keybound_redis::{RedisOptions, RedisReplayStore};
use keybound_tower::header::{CLIENT_CERT, X_FORWARDED_CLIENT_CERT, X_SSL_CLIENT_ESCAPED_CERT};
use keybound_tower::{
    Authenticated, GateConfig, JwksHandle, JwtValidator, KeyboundLayer, RequestTarget,
};

use crate::error::{CliError, EXIT_OK};

/// Replay entries the in-memory store holds (about 32 bytes each: 32 MiB).
const MEMORY_REPLAY_CAPACITY: usize = 1_000_000;
/// Nonce time step: a nonce is accepted during its step and the next (RFC 9449 §9).
const NONCE_STEP_SECS: u64 = 60;
/// Longest wait for open connections after SIGTERM / SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(800);

pub(crate) const SERVE_HELP: &str = "\
Answers forward-auth checks on /auth (also /auth/<original path>, for Envoy's path_prefix):
the original method and URI come from X-Original-Method / X-Original-URI (nginx
auth_request) or X-Forwarded-Method / X-Forwarded-Uri (Traefik); htu is the public origin
plus that URI. Authorization and DPoP are the client's. A client certificate is read from
Client-Cert (RFC 9440), X-SSL-Client-Escaped-Cert (nginx) or X-Forwarded-Client-Cert (Envoy)
only when the TCP peer is a --trusted-proxy.

Answers: 200 with X-Keybound-Subject, X-Keybound-Client-Id, X-Keybound-Binding
(dpop|mtls|both|bearer); 401/400/403 with WWW-Authenticate (and DPoP-Nonce when due);
503 with Retry-After when the replay store cannot answer. Also serves
/.well-known/oauth-protected-resource (RFC 9728) and /healthz. One log line per decision on
stderr; the first line on stdout is `listening on http://ADDR`.

Signals: SIGTERM / SIGINT stop cleanly (exit 0); SIGHUP re-reads --jwks (the old set stays
in force if the new file is unusable).

--replay memory (default) keeps jtis in this process; a fleet shares a Redis/Valkey store
(redis://HOST:PORT, rediss://…, redis+sentinel://S1:P,S2:P/MASTER,
redis+cluster://HOST:PORT,...): one atomic round trip per proof, every error and timeout
refused (503), evicting maxmemory policies refused at start, a restart or failover fenced
for one replay window (/healthz answers 503 while the store cannot accept). See
docs/scaling.md.
--nonce-secret FILE: at least 32 bytes (e.g. `openssl rand -hex 32 > nonce.key`); every
instance given the same file accepts the others' nonces.

Examples:
  keybound serve --listen 127.0.0.1:9090 --public-origin https://api.example.com \\
      --issuer https://as.example.com --audience https://api.example.com --jwks jwks.json
  keybound serve ... --profile fapi2-baseline --require-nonce --nonce-secret nonce.key \\
      --trusted-proxy 127.0.0.1/32";

/// `keybound serve` arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct ServeCli {
    /// Address to listen on (e.g. 127.0.0.1:9090; port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// The origin clients address (`scheme://host[:port]`): htu = origin + original URI.
    #[arg(long, value_name = "URL")]
    public_origin: String,
    /// The trusted token issuer (`iss`, compared exactly).
    #[arg(long, value_name = "ISS")]
    issuer: String,
    /// This resource server's identifier, which `aud` must contain.
    #[arg(long, value_name = "AUD")]
    audience: String,
    /// The issuer's JWK Set (re-read on SIGHUP).
    #[arg(long, value_name = "FILE")]
    jwks: String,
    /// Policy profile: rfc9449 (default), fapi2-baseline, fapi2-message-signing.
    #[arg(long, value_name = "P")]
    profile: Option<String>,
    /// Oldest accepted proof `iat`, in seconds (default: the profile's, 300 or FAPI's 60; a
    /// profile may cap it). The replay window is this plus the profile's leeway.
    #[arg(long, value_name = "SECS")]
    max_age: Option<u64>,
    /// Require server nonces in DPoP proofs (RFC 9449 §9).
    #[arg(long)]
    require_nonce: bool,
    /// HMAC secret for nonces shared by a fleet (default: random, this process only).
    #[arg(long, value_name = "FILE", requires = "require_nonce")]
    nonce_secret: Option<String>,
    /// Replay store: memory (default), or redis://HOST:PORT, rediss://…, redis+sentinel://…,
    /// redis+cluster://HOST:PORT,... (keybound-redis: shared by a fleet, fails closed).
    #[arg(long, value_name = "STORE", default_value = "memory")]
    replay: String,
    /// A proxy (CIDR) whose client-certificate headers are trusted; repeatable.
    #[arg(long = "trusted-proxy", value_name = "CIDR")]
    trusted_proxy: Vec<String>,
}

/// The replay stores `--replay` selects.
pub(crate) enum ReplayChoice {
    /// This process only.
    Memory(MemoryReplayStore),
    /// Shared by a fleet (keybound-redis).
    Redis(RedisReplayStore),
}

impl ReplayChoice {
    /// The store `spec` names, keeping `jti`s for `window` seconds; a store that cannot be
    /// opened (unreachable, evicting policy, not a primary) is an error, never a silent
    /// fallback to memory.
    pub(crate) async fn open(spec: &str, window: u64) -> Result<Self, CliError> {
        if spec == "memory" {
            return Ok(ReplayChoice::Memory(MemoryReplayStore::new(
                MEMORY_REPLAY_CAPACITY,
            )));
        }
        let networked = [
            "redis://",
            "rediss://",
            "valkey://",
            "unix://",
            "redis+cluster://",
            "rediss+cluster://",
            "redis+sentinel://",
        ];
        if !networked.iter().any(|p| spec.starts_with(p)) {
            return Err(CliError::usage(format!(
                "--replay {spec}: expected memory, redis://HOST:PORT, redis+sentinel://… or \
                 redis+cluster://HOST:PORT,..."
            )));
        }
        let options = RedisOptions::new().with_window(Duration::from_secs(window));
        let store = RedisReplayStore::connect(spec, options)
            .await
            .map_err(|e| CliError::usage(format!("--replay: {e}")))?;
        Ok(ReplayChoice::Redis(store))
    }

    fn name(&self) -> &'static str {
        match self {
            ReplayChoice::Memory(_) => "memory",
            ReplayChoice::Redis(_) => "redis",
        }
    }

    /// `None` when the store can accept proofs now; else how many seconds to wait (for
    /// `/healthz`'s `Retry-After`).
    fn not_ready(&self) -> Option<u64> {
        match self {
            ReplayChoice::Memory(_) => None,
            ReplayChoice::Redis(r) => {
                let h = r.health();
                if h.is_ready() {
                    return None;
                }
                let now_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                Some(h.fenced_until_unix_ms.map_or(1, |until| {
                    until.saturating_sub(now_ms).div_ceil(1000).max(1)
                }))
            }
        }
    }
}

impl AsyncReplayStore for ReplayChoice {
    async fn check_and_insert_async(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Result<(), ReplayError> {
        match self {
            ReplayChoice::Memory(m) => m.check_and_insert_async(key, expires_at, now).await,
            ReplayChoice::Redis(r) => r.check_and_insert_async(key, expires_at, now).await,
        }
    }

    fn check_and_insert_inline(
        &self,
        key: ReplayKey<'_>,
        expires_at: u64,
        now: u64,
    ) -> Option<Result<(), ReplayError>> {
        match self {
            ReplayChoice::Memory(m) => m.check_and_insert_inline(key, expires_at, now),
            ReplayChoice::Redis(_) => None,
        }
    }
}

type Layer = KeyboundLayer<JwtValidator, ReplayChoice>;

/// Runs the server until SIGTERM or SIGINT.
pub(crate) fn run(args: ServeCli) -> Result<u8, CliError> {
    let jwks = read_jwks(&args.jwks)?;
    let resolved = resolve(&args)?;
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let store = ReplayChoice::open(&args.replay, resolved.replay_window()).await?;
        let layer = build_layer(&args, &resolved, jwks, store)?;
        serve(args, layer).await
    })
}

fn read_jwks(path: &str) -> Result<Jwks, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read --jwks {path}: {e}")))?;
    Jwks::parse(&bytes).map_err(|e| CliError::usage(format!("--jwks {path}: {e}")))
}

fn nonce_secret(path: Option<&str>) -> Result<[u8; 32], CliError> {
    use sha2::Digest as _;
    let Some(path) = path else {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| {
            CliError::failure(format!("no OS randomness for the nonce secret: {e}"))
        })?;
        return Ok(secret);
    };
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::usage(format!("cannot read --nonce-secret {path}: {e}")))?;
    let secret = bytes.trim_ascii();
    if secret.len() < 32 {
        return Err(CliError::usage(format!(
            "--nonce-secret {path}: {} bytes; at least 32 are needed",
            secret.len()
        )));
    }
    Ok(sha2::Sha256::digest(secret).into())
}

fn trusted_proxies(args: &ServeCli) -> Result<Vec<IpPrefix>, CliError> {
    args.trusted_proxy
        .iter()
        .map(|cidr| {
            IpPrefix::parse(cidr)
                .map_err(|e| CliError::usage(format!("--trusted-proxy {cidr}: {e}")))
        })
        .collect()
}

/// The profile with the command line's choices (nonces, mTLS when a proxy is trusted,
/// `--max-age`).
fn resolve(args: &ServeCli) -> Result<keybound::profile::ResolvedConfig, CliError> {
    let profile = crate::profile::by_name(args.profile.as_deref().unwrap_or("rfc9449"))?;
    let mut choices = Choices::new()
        .enable(Feature::Dpop)
        .with_nonce_required(args.require_nonce);
    if !args.trusted_proxy.is_empty() {
        choices = choices.enable(Feature::Mtls);
    }
    if let Some(secs) = args.max_age {
        choices = choices.with_max_age(secs);
    }
    profile
        .resolve(&choices)
        .map_err(|e| CliError::usage(format!("cannot resolve profile {}: {e}", profile.name())))
}

fn build_layer(
    args: &ServeCli,
    resolved: &keybound::profile::ResolvedConfig,
    jwks: Jwks,
    store: ReplayChoice,
) -> Result<Layer, CliError> {
    let proxies = trusted_proxies(args)?;
    let nonce: Option<Box<dyn keybound::dpop::nonce::NonceSource + Send + Sync>> =
        if args.require_nonce {
            let secret = nonce_secret(args.nonce_secret.as_deref())?;
            Some(Box::new(HmacNonceSource::new(secret, NONCE_STEP_SECS)))
        } else {
            None
        };
    let config = GateConfig::new(&args.public_origin)
        .map_err(|e| CliError::usage(format!("--public-origin: {e}")))?
        .with_profile(resolved, nonce)
        .map_err(|e| CliError::usage(e.to_string()))?
        .with_authorization_server(args.issuer.clone())
        .request_target(RequestTarget::ForwardAuth)
        .forward_auth_prefix("/auth")
        // nginx before 1.23 passes only one WWW-Authenticate field back to the client.
        .challenges_in_one_field(true)
        .trust_proxies(proxies)
        .proxy_cert_header(CLIENT_CERT, CertFormat::Rfc9440)
        .proxy_cert_header(X_SSL_CLIENT_ESCAPED_CERT, CertFormat::NginxEscaped)
        .proxy_cert_header(X_FORWARDED_CLIENT_CERT, CertFormat::Xfcc);
    let validator = JwtValidator::new(
        JwksHandle::new(jwks),
        args.issuer.clone(),
        args.audience.clone(),
    )
    .with_algs(resolved.dpop_algs())
    .with_min_rsa_bits(resolved.min_rsa_bits());
    Ok(KeyboundLayer::new(config, validator, store))
}

fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// `/auth` after the layer admitted the request: who and how, for the proxy to forward.
async fn admitted(auth: Authenticated) -> impl IntoResponse {
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("x-keybound-subject", auth.subject().unwrap_or_default());
    put("x-keybound-client-id", auth.client_id().unwrap_or_default());
    put("x-keybound-binding", auth.binding_name());
    (StatusCode::OK, headers)
}

async fn serve(args: ServeCli, layer: Layer) -> Result<u8, CliError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| CliError::usage(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::failure(format!("cannot read the listening address: {e}")))?;
    let metadata = layer.metadata_json();
    let health_layer = layer.clone();
    let metadata_path = layer.metadata().well_known_path();
    let app = Router::new()
        .route("/auth", any(admitted).layer(layer.clone()))
        .route("/auth/{*original}", any(admitted).layer(layer.clone()))
        .route(
            &metadata_path,
            get(move || {
                let body = metadata.clone();
                async move {
                    (
                        [
                            (header::CONTENT_TYPE, "application/json"),
                            (header::CACHE_CONTROL, "max-age=300"),
                        ],
                        body,
                    )
                }
            }),
        )
        .route(
            "/healthz",
            get(move || {
                let layer = health_layer.clone();
                async move {
                    match layer.store().not_ready() {
                        None => (StatusCode::OK, HeaderMap::new(), "ok\n"),
                        Some(secs) => {
                            let mut headers = HeaderMap::new();
                            if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                                headers.insert(header::RETRY_AFTER, v);
                            }
                            (
                                StatusCode::SERVICE_UNAVAILABLE,
                                headers,
                                "replay store cannot accept proofs\n",
                            )
                        }
                    }
                }
            }),
        );

    // Signal handlers before the readiness line: a supervisor that sends SIGHUP or SIGTERM
    // as soon as it reads "listening" must reach them, not the default action (terminate).
    let handlers = SignalHandlers::install()?;
    crate::emit(&format!("listening on http://{addr}"))?;
    tracing::info!(
        %addr,
        public_origin = %args.public_origin,
        profile = args.profile.as_deref().unwrap_or("rfc9449"),
        replay = layer.store().name(),
        nonce = args.require_nonce,
        trusted_proxies = args.trusted_proxy.len(),
        "keybound serve started"
    );

    let reload = Arc::new(layer.clone());
    let jwks_path = args.jwks.clone();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let signals = tokio::spawn(signal_loop(handlers, reload, jwks_path, stop_tx));

    let mut graceful_rx = stop_rx.clone();
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let _ = graceful_rx.wait_for(|stop| *stop).await;
    });
    let mut deadline_rx = stop_rx;
    let deadline = async move {
        let _ = deadline_rx.wait_for(|stop| *stop).await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    let result = tokio::select! {
        r = server => r.map_err(|e| CliError::failure(format!("server error: {e}"))),
        () = deadline => Ok(()),
    };
    signals.abort();
    result?;
    tracing::info!("keybound serve stopped");
    Ok(EXIT_OK)
}

/// SIGTERM, SIGINT and SIGHUP, installed before `serve` says it listens.
struct SignalHandlers {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl SignalHandlers {
    fn install() -> Result<SignalHandlers, CliError> {
        use tokio::signal::unix::{SignalKind, signal};
        let failed =
            |e: std::io::Error| CliError::failure(format!("cannot install signal handlers: {e}"));
        Ok(SignalHandlers {
            term: signal(SignalKind::terminate()).map_err(failed)?,
            int: signal(SignalKind::interrupt()).map_err(failed)?,
            hup: signal(SignalKind::hangup()).map_err(failed)?,
        })
    }
}

/// SIGTERM / SIGINT: stop. SIGHUP: re-read the JWKS.
async fn signal_loop(
    handlers: SignalHandlers,
    layer: Arc<Layer>,
    jwks_path: String,
    stop: tokio::sync::watch::Sender<bool>,
) {
    let SignalHandlers {
        mut term,
        mut int,
        mut hup,
    } = handlers;
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match read_jwks(&jwks_path) {
                Ok(jwks) => {
                    let keys = jwks.len();
                    layer.validator().jwks().replace(jwks);
                    tracing::info!(keys, path = %jwks_path, "JWKS reloaded");
                }
                Err(e) => tracing::error!(path = %jwks_path, "JWKS not reloaded, the old set stays: {e}"),
            },
        }
    }
    tracing::info!("stopping (signal)");
    let _ = stop.send(true);
}
