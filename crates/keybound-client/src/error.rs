//! Errors of the client: building it, and sending a request.

use core::fmt;
use std::boxed::Box;
use std::string::String;

use keybound::JwkThumbprint;

use crate::signer::SignerError;

type Source = Box<dyn core::error::Error + Send + Sync>;

/// Why a [`DpopClient`](crate::DpopClient) could not be built.
#[non_exhaustive]
#[derive(Debug)]
pub enum BuildError {
    /// A PEM input holds no usable item (`what`: "certificate", "private key", "CA certificate").
    Pem {
        /// What was looked for.
        what: &'static str,
        /// Why it was not found or not readable.
        detail: String,
    },
    /// The client certificate is not one well-formed DER certificate (RFC 8705 §3.1 hashes it).
    Certificate(keybound::mtls::CertError),
    /// rustls refused the configuration (e.g. a private key that does not match the
    /// certificate, or an unsupported key type).
    Tls(String),
    /// The HTTP client could not be built.
    Http(Source),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem { what, detail } => write!(f, "no usable {what} in the PEM input: {detail}"),
            Self::Certificate(e) => write!(f, "client certificate: {e}"),
            Self::Tls(e) => write!(f, "TLS configuration refused: {e}"),
            Self::Http(e) => write!(f, "HTTP client: {e}"),
        }
    }
}

impl core::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Certificate(e) => Some(e),
            Self::Http(e) => Some(&**e),
            _ => None,
        }
    }
}

/// Why a request produced no response to hand back.
#[non_exhaustive]
#[derive(Debug)]
pub enum ClientError {
    /// The request could not be built (bad URL, bad header value).
    Request(Source),
    /// The URL is not an absolute `http`/`https` URL with a host (a proof needs an `htu`,
    /// RFC 9449 §4.2).
    InvalidUrl {
        /// The URL given.
        url: String,
    },
    /// Connecting, TLS, sending or receiving failed.
    Transport {
        /// The request URL.
        url: String,
        /// The underlying failure.
        source: Source,
    },
    /// No key with this thumbprint is held (it was retired, or never added).
    UnknownKey {
        /// The thumbprint asked for.
        jkt: JwkThumbprint,
    },
    /// The signer failed, so no proof could be made.
    Sign(SignerError),
    /// The server answered `use_dpop_nonce` with a new nonce, but the request body is a
    /// stream that cannot be sent twice, so the request was not retried (RFC 9449 §8, §9).
    /// The nonce is remembered: build the request again and send it.
    BodyNotReplayable {
        /// The status of the challenge (401 or 400).
        status: u16,
        /// The request URL.
        url: String,
    },
}

impl ClientError {
    pub(crate) fn transport(url: &reqwest::Url, e: reqwest::Error) -> Self {
        ClientError::Transport {
            url: url.as_str().to_owned(),
            source: Box::new(e),
        }
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request(e) => write!(f, "cannot build the request: {e}"),
            Self::InvalidUrl { url } => {
                write!(
                    f,
                    "{url:?} is not an absolute http or https URL with a host"
                )
            }
            Self::Transport { url, source } => {
                write!(f, "request to {url} failed: {source}")?;
                // reqwest's top-level message is terse; the cause says what happened.
                let mut cause = source.source();
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
            Self::UnknownKey { jkt } => write!(f, "no DPoP key with thumbprint {jkt} is held"),
            Self::Sign(e) => write!(f, "cannot sign the DPoP proof: {e}"),
            Self::BodyNotReplayable { status, url } => write!(
                f,
                "{url} answered {status} use_dpop_nonce, but the request body is a stream that \
                 cannot be sent again; the new nonce is remembered, send the request again"
            ),
        }
    }
}

impl core::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Request(e) | Self::Transport { source: e, .. } => Some(&**e),
            Self::Sign(e) => Some(e),
            _ => None,
        }
    }
}

impl From<SignerError> for ClientError {
    fn from(e: SignerError) -> Self {
        ClientError::Sign(e)
    }
}
