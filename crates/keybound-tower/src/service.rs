//! `KeyboundLayer`, `KeyboundService` and their named response future.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode};
use keybound::dpop::replay::AsyncReplayStore;
use keybound::rs::{Accepted, PendingRequest, Rejection, ResourceServer, Scheme};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::body::KeyboundBody;
use crate::config::GateConfig;
use crate::gate::{AfterToken, Decision, Gate, Start, Target};
use crate::header::DPOP_NONCE;
use crate::metadata::ProtectedResourceMetadata;
use crate::metrics::Metrics;
use crate::validator::{TokenInfo, TokenValidator};

/// A tower [`Layer`] that admits only requests whose access token is valid and whose sender
/// constraint is proven (RFC 9449 §7, RFC 8705 §3), in front of any service taking
/// `http::Request`s (axum, hyper, tonic).
///
/// Per request: `Authorization` → the token through `V` (a [`TokenValidator`]) → the DPoP
/// proof against the configured public origin and the request path → the client certificate
/// (TLS acceptor's [`crate::PeerCertificate`], or a trusted proxy's header) → the replay
/// commit in `S` (any [`AsyncReplayStore`]), last. Rejections are ordinary responses;
/// what was proven goes into the request's extensions as [`crate::Authenticated`].
///
/// Built once; clones share the configuration, validator, store and metrics.
pub struct KeyboundLayer<V, S> {
    gate: Arc<Gate<V, S>>,
}

impl<V, S> Clone for KeyboundLayer<V, S> {
    fn clone(&self) -> Self {
        KeyboundLayer {
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<V, S> fmt::Debug for KeyboundLayer<V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyboundLayer").finish_non_exhaustive()
    }
}

impl<V: TokenValidator, S: AsyncReplayStore + Send + Sync + 'static> KeyboundLayer<V, S> {
    /// A layer checking tokens with `validator` and recording proofs in `store`.
    pub fn new(config: GateConfig, validator: V, store: S) -> Self {
        KeyboundLayer {
            gate: Arc::new(Gate::new(config, validator, store)),
        }
    }

    /// The decision counters.
    pub fn metrics(&self) -> &Metrics {
        &self.gate.metrics
    }

    /// The RFC 9728 metadata this layer advertises.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        self.gate.metadata()
    }

    /// The metadata document (JSON), e.g. for a host that routes the well-known path itself.
    pub fn metadata_json(&self) -> Bytes {
        self.gate.metadata_json()
    }

    /// The resource-server rules in force (DPoP algorithms, nonce issuing).
    pub fn resource_server(&self) -> &ResourceServer<'static> {
        self.gate.resource_server()
    }

    /// The token validator (e.g. to rotate a JWKS).
    pub fn validator(&self) -> &V {
        &self.gate.validator
    }

    /// The replay store.
    pub fn store(&self) -> &S {
        &self.gate.store
    }
}

impl<Svc, V, S> Layer<Svc> for KeyboundLayer<V, S> {
    type Service = KeyboundService<Svc, V, S>;

    fn layer(&self, inner: Svc) -> Self::Service {
        KeyboundService {
            inner,
            gate: Arc::clone(&self.gate),
        }
    }
}

/// The service [`KeyboundLayer`] wraps around `Svc`.
pub struct KeyboundService<Svc, V, S> {
    inner: Svc,
    gate: Arc<Gate<V, S>>,
}

impl<Svc: Clone, V, S> Clone for KeyboundService<Svc, V, S> {
    fn clone(&self) -> Self {
        KeyboundService {
            inner: self.inner.clone(),
            gate: Arc::clone(&self.gate),
        }
    }
}

impl<Svc: fmt::Debug, V, S> fmt::Debug for KeyboundService<Svc, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyboundService")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<Svc, V, S, ReqB, ResB> Service<Request<ReqB>> for KeyboundService<Svc, V, S>
where
    Svc: Service<Request<ReqB>, Response = Response<ResB>> + Clone,
    V: TokenValidator,
    S: AsyncReplayStore + Send + Sync + 'static,
{
    type Response = Response<KeyboundBody<ResB>>;
    type Error = Svc::Error;
    type Future = ResponseFuture<Svc, ReqB, V, S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqB>) -> Self::Future {
        // The instance that was polled ready serves this request; a clone waits for the next.
        let clone = self.inner.clone();
        let inner = core::mem::replace(&mut self.inner, clone);
        let state = match self.gate.start(&req) {
            Start::Respond(resp) => State::Local { resp: Some(resp) },
            Start::Validate {
                fut,
                scheme,
                target,
            } => State::Token {
                fut,
                scheme,
                ctx: Some(Ctx {
                    gate: Arc::clone(&self.gate),
                    inner,
                    req,
                    target,
                }),
            },
        };
        ResponseFuture { state }
    }
}

/// What the later steps need: the shared gate, the ready inner service, the request.
struct Ctx<Svc, ReqB, V, S> {
    gate: Arc<Gate<V, S>>,
    inner: Svc,
    req: Request<ReqB>,
    target: Target,
}

/// The replay commit of a store that needs I/O (the only boxed step, taken only then).
type CommitFuture = Pin<Box<dyn Future<Output = Result<Accepted, Rejection>> + Send>>;

pin_project! {
    /// The response future of [`KeyboundService`]: token validation, replay commit, then the
    /// inner service (or the layer's own answer).
    pub struct ResponseFuture<Svc, ReqB, V, S>
    where
        Svc: Service<Request<ReqB>>,
        V: TokenValidator,
    {
        #[pin]
        state: State<Svc, ReqB, V, S>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Svc, ReqB, V, S>
    where
        Svc: Service<Request<ReqB>>,
        V: TokenValidator,
    {
        Token {
            #[pin]
            fut: V::Future,
            scheme: Scheme,
            ctx: Option<Ctx<Svc, ReqB, V, S>>,
        },
        Commit {
            fut: CommitFuture,
            info: Option<TokenInfo>,
            ctx: Option<Ctx<Svc, ReqB, V, S>>,
        },
        Inner {
            #[pin]
            fut: Svc::Future,
            nonce: Option<HeaderValue>,
        },
        Local {
            resp: Option<Response<Bytes>>,
        },
    }
}

impl<Svc, ReqB, V, S> fmt::Debug for ResponseFuture<Svc, ReqB, V, S>
where
    Svc: Service<Request<ReqB>>,
    V: TokenValidator,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<Svc, ReqB, V, S> State<Svc, ReqB, V, S>
where
    Svc: Service<Request<ReqB>>,
    V: TokenValidator,
    S: AsyncReplayStore + Send + Sync + 'static,
{
    /// Binding checks, then the replay commit: inline when the store answers at once.
    fn after_token(
        ctx: Ctx<Svc, ReqB, V, S>,
        scheme: Scheme,
        token: Result<TokenInfo, crate::TokenFailure>,
    ) -> Self {
        let (pending, info) = match ctx.gate.after_token(&ctx.req, &ctx.target, scheme, token) {
            AfterToken::Respond(resp) => return State::Local { resp: Some(resp) },
            AfterToken::Commit(pending, info) => (pending, info),
        };
        match pending.commit_inline(&ctx.gate.store) {
            Ok(result) => Self::decided(ctx, info, result),
            Err(pending) => State::Commit {
                fut: commit_future(Arc::clone(&ctx.gate), pending),
                info: Some(info),
                ctx: Some(ctx),
            },
        }
    }

    /// Accepted: the proof goes into the request, the inner service runs.
    fn decided(
        ctx: Ctx<Svc, ReqB, V, S>,
        info: TokenInfo,
        result: Result<Accepted, Rejection>,
    ) -> Self {
        let Ctx {
            gate,
            mut inner,
            mut req,
            target,
        } = ctx;
        match gate.decide(&target, info, result) {
            Decision::Respond(resp) => State::Local { resp: Some(resp) },
            Decision::Accept(auth, nonce) => {
                req.extensions_mut().insert(auth);
                State::Inner {
                    fut: inner.call(req),
                    nonce,
                }
            }
        }
    }
}

fn commit_future<V, S>(gate: Arc<Gate<V, S>>, pending: PendingRequest) -> CommitFuture
where
    V: TokenValidator,
    S: AsyncReplayStore + Send + Sync + 'static,
{
    Box::pin(async move { gate.commit_async(pending).await })
}

impl<Svc, ReqB, ResB, V, S> Future for ResponseFuture<Svc, ReqB, V, S>
where
    Svc: Service<Request<ReqB>, Response = Response<ResB>>,
    V: TokenValidator,
    S: AsyncReplayStore + Send + Sync + 'static,
{
    type Output = Result<Response<KeyboundBody<ResB>>, Svc::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let next = match state.as_mut().project() {
                StateProj::Token { fut, scheme, ctx } => {
                    let token = match fut.poll(cx) {
                        Poll::Ready(t) => t,
                        Poll::Pending => return Poll::Pending,
                    };
                    match ctx.take() {
                        Some(ctx) => State::after_token(ctx, *scheme, token),
                        None => State::Local { resp: None },
                    }
                }
                StateProj::Commit { fut, info, ctx } => {
                    let result = match fut.as_mut().poll(cx) {
                        Poll::Ready(r) => r,
                        Poll::Pending => return Poll::Pending,
                    };
                    match (ctx.take(), info.take()) {
                        (Some(ctx), Some(info)) => State::decided(ctx, info, result),
                        _ => State::Local { resp: None },
                    }
                }
                StateProj::Inner { fut, nonce } => {
                    let mut resp = match fut.poll(cx) {
                        Poll::Ready(Ok(r)) => r,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    };
                    if let Some(n) = nonce.take() {
                        resp.headers_mut().insert(DPOP_NONCE, n);
                    }
                    return Poll::Ready(Ok(resp.map(KeyboundBody::inner)));
                }
                StateProj::Local { resp } => {
                    let resp = resp.take().unwrap_or_else(polled_after_completion);
                    return Poll::Ready(Ok(resp.map(KeyboundBody::local)));
                }
            };
            state.set(next);
        }
    }
}

/// The answer for a future polled again after it completed (a caller bug): 500, never a
/// pass-through.
fn polled_after_completion() -> Response<Bytes> {
    let mut resp = Response::new(Bytes::new());
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
}
