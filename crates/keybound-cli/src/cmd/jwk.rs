//! `keybound jwk thumbprint` and `keybound jwk generate`.

use keybound::dpop::{Algorithm, SigningKey};
use keybound::jwk::Jwk;

use crate::error::CliError;
use crate::input::{read_bytes, source_name};

/// `jwk thumbprint [--uri] [FILE|-]`: RFC 7638 SHA-256 thumbprint, or its RFC 9278 URI.
pub(crate) fn thumbprint(file: Option<&str>, uri: bool) -> Result<String, CliError> {
    let bytes = read_bytes(file, "JWK")?;
    let jwk = Jwk::parse(trim_ascii(&bytes))
        .map_err(|e| CliError::usage(format!("{} is not a JWK: {e}", source_name(file))))?;
    let tp = jwk.thumbprint();
    Ok(if uri {
        keybound::jwk::uri::to_string(&tp)
    } else {
        tp.to_string()
    })
}

/// `jwk generate --alg A`: a fresh private JWK (with `alg`) for signing DPoP proofs.
pub(crate) fn generate(alg: Algorithm) -> Result<String, CliError> {
    let key = SigningKey::generate_os_rng(alg)
        .map_err(|e| CliError::failure(format!("cannot generate a {alg} key: {e}")))?;
    Ok(key.private_jwk().as_str().to_owned())
}

/// Drops leading and trailing ASCII whitespace (a trailing newline in a file).
pub(crate) fn trim_ascii(bytes: &[u8]) -> &[u8] {
    bytes.trim_ascii()
}
