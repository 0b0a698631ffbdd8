//! `keybound cert thumbprint`: RFC 8705 §3.1 `x5t#S256` of a certificate in any encoding a
//! TLS stack or a reverse proxy hands over.

use keybound::mtls::CertFormat;
use keybound::mtls::header::decode_cert_to_vec;
use keybound::mtls::pem::pem_blocks;

use crate::error::CliError;
use crate::input::{read_bytes, source_name};

/// The `--format` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FormatArg {
    /// Detect from the first bytes.
    Auto,
    /// One PEM CERTIFICATE block, or a chain of them (the first, the leaf, is used).
    Pem,
    /// Raw DER.
    Der,
    /// nginx `$ssl_client_escaped_cert` (URL-encoded PEM).
    Nginx,
    /// Envoy `x-forwarded-client-cert` (`Cert=` of the last element).
    Xfcc,
    /// RFC 9440 `Client-Cert` (`:base64-DER:`).
    Rfc9440,
}

impl FormatArg {
    fn resolve(self, bytes: &[u8]) -> CertFormat {
        match self {
            FormatArg::Auto => CertFormat::detect(bytes),
            FormatArg::Pem => CertFormat::Pem,
            FormatArg::Der => CertFormat::Der,
            FormatArg::Nginx => CertFormat::NginxEscaped,
            FormatArg::Xfcc => CertFormat::Xfcc,
            FormatArg::Rfc9440 => CertFormat::Rfc9440,
        }
    }
}

/// Human name of a format for messages.
fn describe(format: CertFormat) -> &'static str {
    match format {
        CertFormat::Der => "DER",
        CertFormat::Pem => "PEM",
        CertFormat::Rfc9440 => "RFC 9440 Client-Cert",
        CertFormat::NginxEscaped => "nginx escaped PEM",
        CertFormat::Xfcc => "x-forwarded-client-cert",
        CertFormat::Base64 => "base64 DER",
        _ => "the detected format",
    }
}

/// `cert thumbprint [--format F] [FILE|-]`.
pub(crate) fn thumbprint(file: Option<&str>, format: FormatArg) -> Result<String, CliError> {
    let raw = read_bytes(file, "certificate")?;
    let format = format.resolve(&raw);
    // Header values and PEM read from a file end with a newline; DER is binary, keep it whole.
    let value = if format == CertFormat::Der {
        &raw[..]
    } else {
        raw.trim_ascii()
    };
    if format == CertFormat::Pem
        && let Some(leaf) = chain_leaf(file, value)?
    {
        return Ok(leaf);
    }
    let der = decode_cert_to_vec(format, value).map_err(|e| {
        CliError::usage(format!(
            "{} is not a certificate in {} format: {e}",
            source_name(file),
            describe(format)
        ))
    })?;
    let tp = keybound::mtls::x5t_s256_checked(&der)
        .map_err(|e| CliError::usage(format!("{} is not a certificate: {e}", source_name(file))))?;
    Ok(tp.to_string())
}

/// A PEM file holding a chain (several `CERTIFICATE` blocks, leaf first, as `openssl x509`
/// reads it): every block must be a well-formed certificate; the answer is the first one's
/// `x5t#S256`, with a note on stderr saying which of how many was used. `Ok(None)` when the
/// text holds at most one block (the single-certificate path reports its errors). Proxy
/// header formats keep their one-certificate rule: only `pem` input reaches here.
fn chain_leaf(file: Option<&str>, pem: &[u8]) -> Result<Option<String>, CliError> {
    let mut blocks = pem_blocks(pem);
    let (Some(Ok(first)), Some(Ok(second))) = (blocks.next(), blocks.next()) else {
        return Ok(None);
    };
    let (mut leaf, mut total) = (None, 0usize);
    let mut buf = vec![0u8; pem.len()];
    for (i, block) in [Ok(first), Ok(second)]
        .into_iter()
        .chain(blocks)
        .enumerate()
    {
        let bad = |e: String| {
            CliError::usage(format!(
                "{} holds a PEM chain whose block {} is not a certificate: {e}",
                source_name(file),
                i + 1
            ))
        };
        let block = block.map_err(|e| bad(e.to_string()))?;
        if !block.is_certificate() {
            return Err(bad(format!(
                "its label is \"{}\", not \"CERTIFICATE\"",
                String::from_utf8_lossy(block.label())
            )));
        }
        let der = block
            .certificate_into(&mut buf)
            .map_err(|e| bad(e.to_string()))?;
        leaf.get_or_insert(der.thumbprint());
        total = i + 1;
    }
    eprintln!(
        "note: {} holds a chain of {total} certificates; printed the thumbprint of the first (the leaf)",
        source_name(file)
    );
    Ok(leaf.map(|tp| tp.to_string()))
}
