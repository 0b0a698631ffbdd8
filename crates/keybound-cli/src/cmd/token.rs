//! `keybound token verify`: an RFC 9068 access token checked against a JWKS, issuer and
//! audience, printed as one JSON object (claims and `cnf`), with the exit codes of
//! `dpop verify`.

use keybound::jwt::{Jwks, TokenPolicy, validate_token};

use crate::error::{CliError, EXIT_INVALID, EXIT_OK};
use crate::input::{read_bytes, read_file, source_name, unix_now};
use crate::json_out::ObjectWriter;

/// What `token verify` was asked.
pub(crate) struct VerifyArgs<'a> {
    pub(crate) token: Option<&'a str>,
    pub(crate) jwks: &'a str,
    pub(crate) issuer: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) now: Option<u64>,
}

/// Reads the JWKS file: a usage error (exit 2) when it is unreadable or not a valid JWKS.
pub(crate) fn load_jwks(path: &str) -> Result<Jwks, CliError> {
    let bytes = read_file(path, "JWKS")?;
    let jwks = Jwks::parse(&bytes)
        .map_err(|e| CliError::usage(format!("JWKS file \"{path}\" is not usable: {e}")))?;
    if jwks.is_empty() {
        return Err(CliError::usage(format!(
            "JWKS file \"{path}\" has no key that can verify signatures"
        )));
    }
    for s in jwks.skipped() {
        eprintln!(
            "note: JWKS key {} ({}) is not used: {:?}",
            s.index,
            s.kid.as_deref().unwrap_or("no kid"),
            s.reason
        );
    }
    Ok(jwks)
}

/// The token: the argument itself, the file it names, or standard input.
fn read_token(arg: Option<&str>) -> Result<String, CliError> {
    let from_file = arg.is_some_and(|a| a != "-" && std::path::Path::new(a).is_file());
    let text = match arg {
        Some(a) if a != "-" && !from_file => a.to_owned(),
        _ => {
            let bytes = read_bytes(arg, "access token")?;
            String::from_utf8(bytes)
                .map_err(|_| CliError::usage(format!("{} is not UTF-8 text", source_name(arg))))?
        }
    };
    Ok(text.trim().to_owned())
}

pub(crate) fn verify(args: &VerifyArgs<'_>) -> Result<u8, CliError> {
    if args.issuer.is_empty() || args.audience.is_empty() {
        return Err(CliError::usage("--issuer and --audience must not be empty"));
    }
    let jwks = load_jwks(args.jwks)?;
    let token = read_token(args.token)?;
    let policy = TokenPolicy::new(args.issuer, args.audience);
    let verifier = keybound::dpop::DefaultVerifier::default();
    let now = args.now.unwrap_or_else(unix_now);
    match validate_token(&token, &jwks, &policy, &verifier, now) {
        Ok(at) => {
            let cnf = at
                .cnf()
                .map_or_else(|| "null".to_owned(), |c| c.to_json_string());
            crate::emit(
                &ObjectWriter::new()
                    .bool("valid", true)
                    .raw("claims", at.claims_json())
                    .raw("cnf", &cnf)
                    .str("alg", at.alg().name())
                    .opt_str("kid", at.kid())
                    .finish(),
            )?;
            Ok(EXIT_OK)
        }
        Err(e) => {
            crate::emit(
                &ObjectWriter::new()
                    .bool("valid", false)
                    .str("error", e.error_code())
                    .str("reason", e.reason())
                    .str("detail", &e.to_string())
                    .finish(),
            )?;
            Ok(EXIT_INVALID)
        }
    }
}
