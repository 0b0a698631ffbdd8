//! The axum extractor (feature `axum`): reads what the layer proved.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;

use crate::extensions::Authenticated;

/// The extractor's rejection: [`Authenticated`] was asked for on a route the
/// [`crate::KeyboundLayer`] does not cover. Answers 500 (a server misconfiguration, never a
/// pass-through) and logs an error naming the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MissingLayer;

impl core::fmt::Display for MissingLayer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the KeyboundLayer does not cover this route")
    }
}

impl core::error::Error for MissingLayer {}

impl IntoResponse for MissingLayer {
    fn into_response(self) -> Response {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [(http::header::CACHE_CONTROL, "no-store")],
            "internal server error",
        )
            .into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = MissingLayer;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Authenticated>() {
            Some(auth) => Ok(auth.clone()),
            None => {
                tracing::error!(
                    target: "keybound",
                    method = %parts.method,
                    path = parts.uri.path(),
                    "Authenticated extractor used on a route without KeyboundLayer: answering 500 \
                     (add .layer(KeyboundLayer::new(..)) to this route)"
                );
                Err(MissingLayer)
            }
        }
    }
}

/// `Option<Authenticated>`: `None` when the layer did not run (routes where authentication is
/// optional); never an error.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = core::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Authenticated>().cloned())
    }
}
