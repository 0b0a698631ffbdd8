#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

mod b64;
mod binding;
mod cert;
mod error;
pub mod header;
pub mod metadata;
pub mod pem;
pub mod proxy;
pub mod xfcc;

#[cfg(feature = "alloc")]
pub mod client_auth;
#[cfg(feature = "alloc")]
pub mod dn;
#[cfg(feature = "alloc")]
mod x509;

#[cfg(feature = "rustls")]
pub mod rustls;

pub use binding::{
    CertBindingError, check_certificate_binding, check_thumbprint_binding, x5t_s256,
    x5t_s256_checked,
};
pub use cert::{CertDer, MAX_CERT_DER_LEN, x5t_s256_bytes};
pub use error::CertError;
pub use header::{CertFormat, decode_cert};
pub use keybound_cnf::{BindingError, CertThumbprint, Confirmation};
pub use metadata::ClientAuthMethod;
pub use pem::decode_pem_into;
pub use proxy::{CertSource, IpPrefix, PresentedCert, TrustedProxies};

#[cfg(feature = "alloc")]
pub use client_auth::{ClientAuthError, JwkMatch, TlsClientAuth, TlsClientAuthId, match_jwks};
#[cfg(feature = "alloc")]
pub use dn::{DistinguishedName, DnError, DnMismatch};
#[cfg(feature = "alloc")]
pub use header::decode_cert_to_vec;
#[cfg(feature = "alloc")]
pub use x509::{MAX_SAN_ENTRIES, ParsedCertificate, PublicKey, SanEntry};
