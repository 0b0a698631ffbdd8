//! The demo's HTTPS resource server: rustls over std threads, one request per connection,
//! every request verified with the facade's [`keybound::rs::ResourceServer`].

use core::net::SocketAddr;
use core::sync::atomic::{AtomicBool, Ordering};
use core::time::Duration;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use keybound::dpop::nonce::HmacNonceSource;
use keybound::dpop::replay::MemoryReplayStore;
use keybound::rs::{Binding, ClientCert, Rejection, ResourceServer, RsConfig, RsRequest};

use super::authz::AuthorizationServer;
use super::http::{self, Request, Response};
use crate::error::CliError;
use crate::input::unix_now;
use crate::json_out::ObjectWriter;

/// Path of the resource that takes DPoP- or certificate-bound tokens.
pub(crate) const RESOURCE: &str = "/resource";
/// Path of the resource that also requires a server nonce in DPoP proofs (RFC 9449 §9).
pub(crate) const NONCE_RESOURCE: &str = "/nonce-resource";
/// Response header carrying the server-side verification time, in microseconds.
pub(crate) const VERIFY_TIME_HEADER: &str = "X-Verify-Micros";

/// What the request handler needs: the public origin, the token issuer it trusts, and the
/// two resource servers (RFC 9449 defaults; the second one also requires server nonces).
/// Both are shared by every connection thread.
pub(crate) struct State {
    origin: String,
    authz: Arc<AuthorizationServer>,
    plain: ResourceServer<'static>,
    with_nonce: ResourceServer<'static>,
}

impl State {
    /// One bounded replay store per resource; nonces from a random HMAC secret.
    pub(crate) fn new(origin: String, authz: Arc<AuthorizationServer>) -> Self {
        let mut nonce_secret = [0u8; 32];
        // Without OS randomness the secret stays zero: nonces still work, only predictably.
        let _ = getrandom::fill(&mut nonce_secret);
        State {
            origin,
            authz,
            plain: ResourceServer::new(RsConfig::new(MemoryReplayStore::new(4096))),
            with_nonce: ResourceServer::new(
                RsConfig::new(MemoryReplayStore::new(4096))
                    .with_nonce(HmacNonceSource::new(nonce_secret, 60)),
            ),
        }
    }

    /// The resource server for `path`, if it is a protected resource.
    fn resource_server(&self, path: &str) -> Option<&ResourceServer<'static>> {
        match path {
            RESOURCE => Some(&self.plain),
            NONCE_RESOURCE => Some(&self.with_nonce),
            _ => None,
        }
    }

    /// Answers one request; `peer_cert` is the client's leaf certificate from the handshake.
    pub(crate) fn handle(&self, req: &Request, peer_cert: Option<&[u8]>) -> Response {
        let start = Instant::now();
        let Some(rs) = self.resource_server(req.path.split('?').next().unwrap_or_default()) else {
            return Response {
                status: 404,
                body: ObjectWriter::new().str("error", "not_found").finish(),
                ..Response::default()
            };
        };
        let mut response = self.verify(rs, req, peer_cert);
        response.headers.push((
            VERIFY_TIME_HEADER.to_owned(),
            start.elapsed().as_micros().to_string(),
        ));
        response
    }

    /// The resource server's whole decision: this is the one place that calls the library.
    fn verify(&self, rs: &ResourceServer<'_>, req: &Request, peer_cert: Option<&[u8]>) -> Response {
        let now = unix_now();
        let uri = format!("{}{}", self.origin, req.path);
        let authorization = req.header_values("Authorization");
        let dpop = req.header_values("DPoP");
        let mut rs_req = RsRequest::new(&req.method, &uri)
            .with_authorization(&authorization)
            .with_dpop(&dpop);
        if let Some(der) = peer_cert {
            rs_req = rs_req.with_client_cert(ClientCert::Der(der));
        }
        // 1. Scheme and token from Authorization.
        let creds = match rs.credentials(&rs_req) {
            Ok(c) => c,
            Err(rej) => return rejection(&rej),
        };
        // 2. The token itself (the host's job: signature, issuer, audience, expiry) -> cnf.
        let (sub, cnf) = match self.authz.validate(creds.token, now) {
            Ok(v) => v,
            Err(why) => {
                let rej = rs.reject_invalid_token(creds.scheme);
                return rejection_with_detail(&rej, &why);
            }
        };
        // 3. Sender constraint: DPoP proof and/or client certificate against cnf.
        match rs.verify(&rs_req, &cnf, now) {
            Ok(accepted) => {
                let binding = match accepted.binding() {
                    Binding::Dpop { .. } => "dpop",
                    Binding::Mtls { .. } => "mtls",
                    Binding::Both { .. } => "dpop+mtls",
                    _ => "bearer",
                };
                Response {
                    status: 200,
                    body: ObjectWriter::new()
                        .bool("ok", true)
                        .str("sub", &sub)
                        .str("binding", binding)
                        .finish(),
                    ..Response::default()
                }
            }
            Err(rej) => rejection(&rej),
        }
    }
}

fn rejection(rej: &Rejection) -> Response {
    rejection_with_detail(rej, &rej.description())
}

/// The response for `rej`: its status, challenges and nonce; `detail` in the JSON body.
fn rejection_with_detail(rej: &Rejection, detail: &str) -> Response {
    let mut headers: Vec<(String, String)> = rej
        .www_authenticate()
        .iter()
        .map(|c| ("WWW-Authenticate".to_owned(), c.clone()))
        .collect();
    if let Some(nonce) = rej.dpop_nonce() {
        headers.push(("DPoP-Nonce".to_owned(), nonce.to_owned()));
    }
    Response {
        status: rej.status(),
        headers,
        body: ObjectWriter::new()
            .opt_str("error", rej.error())
            .str("reason", rej.reason())
            .str("detail", detail)
            .finish(),
    }
}

/// A running server; [`Server::stop`] ends its accept loop.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept_loop: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves `state` (built from the origin) over TLS.
    pub(crate) fn start(
        tls: Arc<rustls::ServerConfig>,
        authz: impl FnOnce(&str) -> Result<Arc<AuthorizationServer>, CliError>,
    ) -> Result<(Server, Arc<AuthorizationServer>), CliError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| CliError::failure(format!("cannot listen on 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("cannot read the listening address: {e}")))?;
        let origin = format!("https://{addr}");
        let authz = authz(&origin)?;
        let state = Arc::new(State::new(origin, Arc::clone(&authz)));
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let accept_loop = std::thread::Builder::new()
            .name("demo-rs-accept".to_owned())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop_flag.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let (tls, state) = (Arc::clone(&tls), Arc::clone(&state));
                    // A connection that cannot get a thread is dropped; the client sees EOF.
                    let _ = std::thread::Builder::new()
                        .name("demo-rs-conn".to_owned())
                        .spawn(move || serve_connection(stream, tls, &state));
                }
            })
            .map_err(|e| CliError::failure(format!("cannot start the server thread: {e}")))?;
        Ok((
            Server {
                addr,
                stop,
                accept_loop: Some(accept_loop),
            },
            authz,
        ))
    }

    /// Stops accepting and waits for the accept loop to end.
    pub(crate) fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept_loop.take() {
            let _ = handle.join();
        }
    }
}

fn serve_connection(tcp: TcpStream, tls: Arc<rustls::ServerConfig>, state: &State) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(5)));
    let Ok(conn) = rustls::ServerConnection::new(tls) else {
        return;
    };
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    // Reading drives the handshake; a failed handshake or bad request just closes.
    let Ok(request) = http::read_request(&mut stream) else {
        return;
    };
    let peer = keybound::mtls::rustls::peer_leaf(&stream.conn).map(<[u8]>::to_vec);
    let response = state.handle(&request, peer.as_deref());
    if http::write_response(&mut stream, &response).is_ok() {
        stream.conn.send_close_notify();
        let _ = std::io::Write::flush(&mut stream);
    }
}
