#![cfg_attr(docsrs, feature(doc_cfg))]
#![cfg_attr(feature = "reqwest", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "reqwest"),
    doc = "keybound-client without its `reqwest` feature: only the [`header`] parsing."
)]
#![forbid(unsafe_code)]

extern crate std;

pub mod header;

#[cfg(feature = "reqwest")]
mod client;
#[cfg(feature = "reqwest")]
mod error;
#[cfg(feature = "reqwest")]
mod nonces;
#[cfg(feature = "reqwest")]
pub mod signer;
#[cfg(feature = "reqwest")]
mod tls;
#[cfg(feature = "reqwest")]
pub mod token;

#[cfg(feature = "reqwest")]
pub use client::{
    DPOP, DPOP_NONCE, DpopClient, DpopClientBuilder, DpopExchange, MAX_KEYS, ProofMode,
    RequestBuilder, RequestOptions,
};
#[cfg(feature = "reqwest")]
pub use error::{BuildError, ClientError};
#[cfg(feature = "reqwest")]
pub use nonces::{DEFAULT_NONCE_CAPACITY, Target};
#[cfg(feature = "reqwest")]
pub use signer::{JwsSigner, SignFuture, SignerError};
#[cfg(feature = "reqwest")]
pub use tls::ClientIdentity;
#[cfg(feature = "reqwest")]
pub use token::{
    AuthorizationRequest, ClientAuth, ClientSecret, GrantRequest, Pkce, PkceError, PrivateKeyJwt,
    TokenEndpoint, TokenError, TokenResponse, TokenResponseError,
};

/// The facade re-exported, for keys and thumbprints.
#[cfg(feature = "reqwest")]
pub use keybound;
/// The reqwest version this client is built on.
#[cfg(feature = "reqwest")]
pub use reqwest;
