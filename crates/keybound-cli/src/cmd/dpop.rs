//! `keybound dpop sign | inspect | verify [--batch]` (RFC 9449).

use core::cell::RefCell;
use core::fmt::Write as _;
use std::borrow::Cow;
use std::collections::HashSet;
use std::io::{BufRead as _, Read as _, Write as _};

use keybound::dpop::htu::normalize_htu;
use keybound::dpop::nonce::FixedNonce;
use keybound::dpop::replay::{ReplayError, ReplayKey, ReplayStore};
use keybound::dpop::{
    DecodedProof, DefaultVerifier, DpopError, KeyKind, KeyMismatch, Policy, ProofParams, Request,
    SignatureVerifier, SigningKey, Verified, ath_string, check_proof,
};
use keybound::jose::CachedVerifier;
use keybound::json::{Limits, Object, Value};
use keybound::jwk::JwkThumbprint;

use crate::error::{CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE};
use crate::input::{open_file, read_bytes, read_file, source_name, unix_now};
use crate::json_out::{ObjectWriter, pretty_object};
use crate::profile::DpopProfile;

// ---------------------------------------------------------------------------------------
// sign

/// Arguments of `dpop sign`.
pub(crate) struct SignArgs<'a> {
    pub(crate) key: &'a str,
    pub(crate) htm: &'a str,
    pub(crate) htu: &'a str,
    pub(crate) access_token: Option<&'a str>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) iat: Option<u64>,
}

/// `dpop sign`: a proof signed with the private JWK in `--key`.
pub(crate) fn sign(args: &SignArgs<'_>) -> Result<String, CliError> {
    check_htm(args.htm)?;
    check_htu_arg(args.htu)?;
    if let Some(n) = args.nonce
        && !keybound::dpop::nonce::is_valid_nonce(n)
    {
        return Err(CliError::usage(format!(
            "--nonce \"{n}\" is not a valid DPoP nonce: it must be non-empty printable ASCII without '\"' or '\\'"
        )));
    }
    let bytes = read_file(args.key, "key")?;
    let key = SigningKey::from_jwk(bytes.trim_ascii()).map_err(|e| {
        CliError::usage(format!(
            "key file \"{}\" is not a usable private JWK: {e}",
            args.key
        ))
    })?;
    let mut params = ProofParams::new(args.htm, args.htu, args.iat.unwrap_or_else(unix_now));
    if let Some(t) = args.access_token {
        params = params.with_access_token(t);
    }
    if let Some(n) = args.nonce {
        params = params.with_nonce(n);
    }
    key.sign_proof_os_rng(&params)
        .map_err(|e| CliError::failure(format!("cannot sign the proof: {e}")))
}

fn check_htm(htm: &str) -> Result<(), CliError> {
    let token = !htm.is_empty()
        && htm
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        Ok(())
    } else {
        Err(CliError::usage(format!(
            "--htm \"{htm}\" is not an HTTP method (e.g. GET or POST)"
        )))
    }
}

fn check_htu_arg(htu: &str) -> Result<String, CliError> {
    normalize_htu(htu).map_err(|e| {
        CliError::usage(format!(
            "--htu \"{htu}\" is not an absolute http(s) URI: {e}"
        ))
    })
}

// ---------------------------------------------------------------------------------------
// inspect

/// Reads a proof given as an argument (the compact text, or a file holding it) or on stdin.
fn read_proof(arg: Option<&str>) -> Result<String, CliError> {
    match arg {
        Some(a) if a != "-" && std::path::Path::new(a).is_file() => {
            let bytes = read_bytes(Some(a), "DPoP proof")?;
            String::from_utf8(bytes)
                .map(|s| s.trim().to_owned())
                .map_err(|_| {
                    CliError::usage(format!("file \"{a}\" is not a DPoP proof (not UTF-8 text)"))
                })
        }
        Some(a) if a != "-" => {
            let t = a.trim();
            if t.is_empty() {
                Err(CliError::usage(
                    "the PROOF argument is empty: expected a DPoP proof",
                ))
            } else {
                Ok(t.to_owned())
            }
        }
        _ => {
            let bytes = read_bytes(arg, "DPoP proof")?;
            String::from_utf8(bytes)
                .map(|s| s.trim().to_owned())
                .map_err(|_| CliError::usage("standard input is not a DPoP proof (not UTF-8 text)"))
        }
    }
}

/// `dpop inspect`: header, claims and the key's thumbprint; no verification.
pub(crate) fn inspect(arg: Option<&str>) -> Result<String, CliError> {
    let proof = read_proof(arg)?;
    let what = match arg {
        Some(a) if a != "-" && std::path::Path::new(a).is_file() => source_name(Some(a)),
        Some(a) if a != "-" => "the PROOF argument".to_owned(),
        _ => source_name(None),
    };
    let bad = |e: DpopError| CliError::usage(format!("{what} is not a DPoP proof: {e}"));
    let decoded = DecodedProof::decode(&proof).map_err(bad)?;
    let header = decoded.header_object().map_err(bad)?;
    let claims = decoded.payload_object().map_err(bad)?;
    let jkt = match header.get("jwk").and_then(|v| v.as_object()) {
        Some(obj) => match keybound::jwk::Jwk::from_object(obj) {
            Ok(jwk) => {
                let mut s = String::new();
                crate::json_out::push_str(&mut s, &jwk.thumbprint().to_string());
                s
            }
            Err(_) => "null".to_owned(),
        },
        None => "null".to_owned(),
    };
    let mut out = String::from("{\n  \"header\": ");
    out.push_str(&indent_tail(&pretty_object(&header)));
    out.push_str(",\n  \"claims\": ");
    out.push_str(&indent_tail(&pretty_object(&claims)));
    let _ = write!(out, ",\n  \"jkt\": {jkt}\n}}");
    Ok(out)
}

/// Indents every line after the first by two spaces (nesting a pretty-printed object).
fn indent_tail(s: &str) -> String {
    s.replace('\n', "\n  ")
}

// ---------------------------------------------------------------------------------------
// verify

/// One verification request (a command line or a `--batch` line).
pub(crate) struct Check<'a> {
    pub(crate) proof: &'a str,
    pub(crate) htm: &'a str,
    pub(crate) htu: &'a str,
    pub(crate) now: u64,
    pub(crate) access_token: Option<&'a str>,
    pub(crate) jkt: Option<JwkThumbprint>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) profile: DpopProfile,
    /// The proof was given as a command-line argument (not a file or stdin).
    pub(crate) inline: bool,
}

/// Parses `--jkt`: a base64url thumbprint or an RFC 9278 thumbprint URI, as the library
/// reads it (`urn` and `ietf` in any case, RFC 8141 §3.1). A base64url value never holds a
/// `:`, so any value with one is read as a URI.
pub(crate) fn parse_jkt(s: &str) -> Result<JwkThumbprint, String> {
    if s.contains(':') {
        return keybound::jwk::uri::parse(s)
            .map_err(|e| format!("jkt \"{s}\" is not a SHA-256 JWK thumbprint URI: {e}"));
    }
    JwkThumbprint::from_b64(s).map_err(|e| {
        format!("jkt \"{s}\" is not a JWK SHA-256 thumbprint (43 base64url characters): {e}")
    })
}

/// Runs RFC 9449 §4.3 for one request; the replay step only when a store is given.
fn run_check(
    c: &Check<'_>,
    verifier: &dyn SignatureVerifier,
    store: Option<&dyn ReplayStore>,
) -> Result<Verified, DpopError> {
    let base = c.profile.policy;
    let fixed;
    let policy: Policy<'_> = match c.nonce {
        Some(n) => {
            fixed = FixedNonce(n);
            base.with_nonce(&fixed)
        }
        None => base,
    };
    let mut request = Request::new(c.htm, c.htu);
    if let Some(t) = c.access_token {
        request = request.with_access_token(t);
    }
    if let Some(j) = c.jkt {
        request = request.with_jkt(j);
    }
    let checked = check_proof(c.proof, &request, &policy, verifier, c.now)?;
    match store {
        Some(s) => checked.commit(s),
        None => Ok(checked.into_verified_without_replay_check()),
    }
}

/// The one-line JSON answer of `dpop verify`.
fn render(c: &Check<'_>, result: &Result<Verified, DpopError>) -> String {
    match result {
        Ok(v) => ObjectWriter::new()
            .bool("valid", true)
            .str("jkt", &v.jkt.to_string())
            .str("jti", &v.jti)
            .int("iat", v.iat)
            .finish(),
        Err(e) => ObjectWriter::new()
            .bool("valid", false)
            .str("error", e.wire_error())
            .str("reason", e.reason().as_str())
            .str("detail", &detail(c, e))
            .finish(),
    }
}

/// A JSON value as it was written (strings unescaped and quoted again).
fn json_text(v: &keybound::json::Value<'_>) -> String {
    use keybound::json::Value;
    match v {
        Value::String(s) => quoted(&s.to_cow()),
        Value::Array(a) => a.as_str().to_owned(),
        Value::Object(o) => o.as_str().to_owned(),
        Value::Number(n) => n.raw().to_owned(),
        Value::Bool(b) => b.to_string(),
        _ => "null".to_owned(),
    }
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    crate::json_out::push_str(&mut out, s);
    out
}

fn normalized(s: &str) -> String {
    match normalize_htu(s) {
        Ok(n) => quoted(&n),
        Err(e) => format!("(not normalizable: {e})"),
    }
}

fn alg_names(policy: &Policy<'_>) -> String {
    let mut s = String::new();
    let _ = policy.algs.write_names(&mut s);
    s
}

/// What a client developer needs to fix the proof: the member, expected vs received.
fn detail(c: &Check<'_>, err: &DpopError) -> String {
    let decoded = DecodedProof::decode(c.proof).ok();
    let header = decoded.as_ref().and_then(|d| d.header_object().ok());
    let claims = decoded.as_ref().and_then(|d| d.claims().ok());
    let policy = c.profile.policy;
    let profile = c.profile.name;
    let header_str = |name: &str| {
        header
            .and_then(|h| h.get(name))
            .and_then(|v| v.as_str())
            .map(|s| quoted(&s.to_cow()))
    };
    match err {
        DpopError::InvalidTyp => format!(
            "typ header is {}, expected \"dpop+jwt\"",
            header_str("typ").unwrap_or_else(|| "not a string".to_owned())
        ),
        DpopError::UnsupportedAlg => format!(
            "alg header is {}, which is not an asymmetric JWS algorithm DPoP accepts (allowed by profile {profile}: {})",
            header_str("alg").unwrap_or_else(|| "not a string".to_owned()),
            alg_names(&policy)
        ),
        DpopError::AlgNotAllowed { alg } => format!(
            "alg {alg} is not allowed by profile {profile} (allowed: {})",
            alg_names(&policy)
        ),
        DpopError::KeyAlgMismatch { alg, mismatch } => {
            let jwk = header.and_then(|h| h.get("jwk")).and_then(|v| v.as_object());
            let member = |name: &str| {
                jwk.and_then(|o| o.get(name))
                    .and_then(|v| v.as_str())
                    .map(|s| s.to_cow().into_owned())
            };
            let raw = |name: &str| {
                jwk.and_then(|o| o.get(name))
                    .map_or_else(|| "?".to_owned(), |v| json_text(&v))
            };
            match mismatch {
                KeyMismatch::KeyType { .. } => {
                    let have = match (member("kty"), member("crv")) {
                        (Some(kty), Some(crv)) => {
                            format!("kty {} crv {}", quoted(&kty), quoted(&crv))
                        }
                        (Some(kty), None) => format!("kty {}", quoted(&kty)),
                        _ => "a key of unknown type".to_owned(),
                    };
                    let needs = match alg.key_kind() {
                        KeyKind::EcP256 => "kty \"EC\" crv \"P-256\"",
                        KeyKind::EcP384 => "kty \"EC\" crv \"P-384\"",
                        KeyKind::Rsa => "kty \"RSA\"",
                        KeyKind::Ed25519 => "kty \"OKP\" crv \"Ed25519\"",
                        _ => "another key type",
                    };
                    format!("jwk header is {have}, but alg {alg} needs {needs}")
                }
                KeyMismatch::AlgMember => format!(
                    "jwk header's own alg member is {}, which does not allow signing with alg {alg} (RFC 7517 §4.4)",
                    raw("alg")
                ),
                KeyMismatch::UseMember => format!(
                    "jwk header's use member is {}; a signing key has use \"sig\" or none (RFC 7517 §4.2)",
                    raw("use")
                ),
                KeyMismatch::KeyOpsMember => format!(
                    "jwk header's key_ops member is {}, which does not include \"verify\" (RFC 7517 §4.3)",
                    raw("key_ops")
                ),
                _ => err.to_string(),
            }
        }
        DpopError::PrivateJwk => {
            let member = header
                .and_then(|h| h.get("jwk"))
                .and_then(|v| v.as_object())
                .and_then(|o| keybound::jwk::Jwk::from_object(o).ok())
                .and_then(|j| j.private_member());
            match member {
                Some(m) => format!(
                    "jwk header carries the private member \"{m}\": a proof must embed only the public key (the client leaked its private key)"
                ),
                None => err.to_string(),
            }
        }
        DpopError::BadSignature => {
            "signature does not verify with the public key in the jwk header: the proof was altered or signed with another key".to_owned()
        }
        DpopError::HtmMismatch => format!(
            "htm is {} in the proof, expected {} (--htm; compared case-sensitively)",
            claims.as_ref().map_or_else(|| "?".to_owned(), |cl| quoted(&cl.htm)),
            quoted(c.htm)
        ),
        DpopError::HtuMismatch => {
            let got = claims.as_ref().map(|cl| cl.htu.to_string()).unwrap_or_default();
            format!(
                "htu is {} in the proof (normalized {}), expected {} (normalized {}); query and fragment are ignored",
                quoted(&got),
                normalized(&got),
                quoted(c.htu),
                normalized(c.htu)
            )
        }
        DpopError::InvalidHtu(e) => {
            let got = claims.as_ref().map(|cl| cl.htu.to_string()).unwrap_or_default();
            format!("htu {} in the proof is not an absolute http(s) URI: {e}", quoted(&got))
        }
        DpopError::InvalidRequestUri(e) => format!(
            "the expected URI {} (--htu) is not an absolute http(s) URI: {e}",
            quoted(c.htu)
        ),
        DpopError::IatTooOld { iat, now, max_age } => format!(
            "iat {iat} is {} s before now {now}; profile {profile} accepts iat from now - {max_age} s to now + {} s",
            i128::from(*now) - i128::from(*iat),
            policy.leeway
        ),
        DpopError::IatInFuture { iat, now, leeway } => format!(
            "iat {iat} is {} s after now {now}; profile {profile} accepts iat from now - {} s to now + {leeway} s (check the client clock)",
            i128::from(*iat) - i128::from(*now),
            policy.max_age
        ),
        DpopError::MissingAth => format!(
            "an access token was presented but the proof has no ath claim; expected ath {}",
            quoted(&c.access_token.map(ath_string).unwrap_or_default())
        ),
        DpopError::AthMismatch => format!(
            "ath is {} in the proof, expected {} = base64url(SHA-256(access token)); the proof was made for another token",
            claims
                .as_ref()
                .and_then(|cl| cl.ath.as_deref().map(quoted))
                .unwrap_or_else(|| "?".to_owned()),
            quoted(&c.access_token.map(ath_string).unwrap_or_default())
        ),
        DpopError::MissingNonce => format!(
            "the server requires nonce {} but the proof has no nonce claim; retry with the nonce from the DPoP-Nonce header",
            quoted(c.nonce.unwrap_or_default())
        ),
        DpopError::InvalidNonce(e) => format!(
            "{e}: nonce is {} in the proof, expected {}",
            claims
                .as_ref()
                .and_then(|cl| cl.nonce.as_deref().map(quoted))
                .unwrap_or_else(|| "?".to_owned()),
            quoted(c.nonce.unwrap_or_default())
        ),
        DpopError::UnusableKey => {
            let why = header
                .and_then(|h| h.get("jwk"))
                .and_then(|v| v.as_object())
                .and_then(|o| keybound::jwk::Jwk::from_object(o).ok())
                .and_then(|j| j.check_key().err());
            match why {
                Some(e) => format!(
                    "jwk header is not a usable public key: {e} (a weak or invalid key would let anyone forge proofs)"
                ),
                None => err.to_string(),
            }
        }
        DpopError::KeyBindingMismatch => {
            let got = header
                .and_then(|h| h.get("jwk"))
                .and_then(|v| v.as_object())
                .and_then(|o| keybound::jwk::Jwk::from_object(o).ok())
                .map(|j| j.thumbprint().to_string())
                .unwrap_or_default();
            format!(
                "the proof key's thumbprint is {}, expected jkt {} (the token is bound to another key)",
                quoted(&got),
                quoted(&c.jkt.map(|j| j.to_string()).unwrap_or_default())
            )
        }
        DpopError::Replayed => format!(
            "jti {} was already used by an earlier proof with the same key; every request needs a fresh proof",
            claims.as_ref().map_or_else(|| "?".to_owned(), |cl| quoted(&cl.jti))
        ),
        DpopError::Segments => {
            let count = c.proof.split('.').count();
            let mut d = format!(
                "proof is not a compact JWS: {count} segment(s) separated by '.', 3 expected"
            );
            if c.inline && c.proof.len() <= 256 {
                let _ = write!(d, "; no file named {} exists either", quoted(c.proof));
            }
            d
        }
        other => other.to_string(),
    }
}

/// Arguments of a single `dpop verify`.
pub(crate) struct VerifyArgs<'a> {
    pub(crate) proof: Option<&'a str>,
    pub(crate) htm: &'a str,
    pub(crate) htu: &'a str,
    pub(crate) now: Option<u64>,
    pub(crate) access_token: Option<&'a str>,
    pub(crate) jkt: Option<&'a str>,
    pub(crate) nonce: Option<&'a str>,
    pub(crate) profile: Option<&'a str>,
}

/// `dpop verify`: prints the JSON answer, returns the exit code.
pub(crate) fn verify(args: &VerifyArgs<'_>) -> Result<u8, CliError> {
    check_htm(args.htm)?;
    check_htu_arg(args.htu)?;
    let profile = DpopProfile::from_name(args.profile.unwrap_or("rfc9449"))?;
    let jkt = args
        .jkt
        .map(parse_jkt)
        .transpose()
        .map_err(|m| CliError::usage(format!("--{m}")))?;
    let proof = read_proof(args.proof)?;
    let check = Check {
        proof: &proof,
        htm: args.htm,
        htu: args.htu,
        now: args.now.unwrap_or_else(unix_now),
        access_token: args.access_token,
        jkt,
        nonce: args.nonce,
        profile,
        inline: args
            .proof
            .is_some_and(|a| a != "-" && !std::path::Path::new(a).is_file()),
    };
    let result = run_check(&check, &DefaultVerifier::default(), None);
    crate::emit(&render(&check, &result))?;
    Ok(if result.is_ok() {
        EXIT_OK
    } else {
        EXIT_INVALID
    })
}

// ---------------------------------------------------------------------------------------
// verify --batch

/// The batch's replay store: every `(key, jti)` seen in this run, whatever each line's `now`.
///
/// Lines carry their own clocks (often fixed test times, sometimes going backwards), so an
/// expiring store keyed on "the latest now" would refuse later lines; one run is short and
/// finite, so remembering everything is both exact and bounded by the input.
#[derive(Default)]
struct BatchReplayStore {
    seen: RefCell<HashSet<(Vec<u8>, String)>>,
}

impl ReplayStore for BatchReplayStore {
    fn check_and_insert(
        &self,
        key: ReplayKey<'_>,
        _expires_at: u64,
        _now: u64,
    ) -> Result<(), ReplayError> {
        let mut seen = self
            .seen
            .try_borrow_mut()
            .map_err(|_| ReplayError::Unavailable)?;
        if seen.insert((key.scope.to_vec(), key.jti.to_owned())) {
            Ok(())
        } else {
            Err(ReplayError::Replayed)
        }
    }
}

/// Batch member names, in the documented order.
const BATCH_FIELDS: [&str; 8] = [
    "proof",
    "htm",
    "htu",
    "now",
    "access_token",
    "jkt",
    "nonce",
    "profile",
];

/// Longest batch line read and answered: 4 MiB. A proof is at most 8 KiB, so a longer proof
/// in a line up to this size gets the library's verdict (`malformed`); a longer line is an
/// input error, skipped without being buffered whole.
const MAX_LINE: usize = 4 * 1024 * 1024;

/// Batch lines are read like every JSON text of the project (keybound-json): duplicate
/// members refused after unescaping, escapes decoded before values are read; only the
/// length cap is the line's.
const BATCH_LIMITS: Limits = Limits {
    max_len: MAX_LINE,
    ..Limits::DEFAULT
};

/// Longest member name quoted back in an error message.
const MAX_QUOTED_NAME: usize = 64;

/// A string member's unescaped value; `None` for absent or `null`.
fn field_str<'v>(
    value: Option<Value<'v>>,
    name: &str,
    required: bool,
) -> Result<Option<Cow<'v, str>>, String> {
    match value {
        None | Some(Value::Null) if required => Err(format!("member \"{name}\" is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.to_cow())),
        Some(_) => Err(format!("member \"{name}\" must be a string or null")),
    }
}

/// One batch line: the answer, and whether the line was usable (`Err` = input error).
fn batch_line(
    line: &str,
    verifier: &dyn SignatureVerifier,
    store: &BatchReplayStore,
) -> Result<(String, bool), String> {
    let obj = Object::parse_with(line.as_bytes(), &BATCH_LIMITS)
        .map_err(|e| format!("not valid JSON: {e}"))?;
    if let Some((unknown, _)) = obj
        .members()
        .find(|(name, _)| !BATCH_FIELDS.iter().any(|f| name.eq_str(f)))
    {
        let name: String = unknown.chars().take(MAX_QUOTED_NAME).collect();
        return Err(format!(
            "unknown member \"{name}\" (expected: {})",
            BATCH_FIELDS.join(", ")
        ));
    }
    let [proof, htm, htu, now, access_token, jkt, nonce, profile] = obj.pick(BATCH_FIELDS);
    let proof = field_str(proof, "proof", true)?.unwrap_or_default();
    let htm = field_str(htm, "htm", true)?.unwrap_or_default();
    let htu = field_str(htu, "htu", true)?.unwrap_or_default();
    check_htm(&htm).map_err(|e| e.to_string())?;
    check_htu_arg(&htu).map_err(|e| e.to_string())?;
    let now = match now {
        None | Some(Value::Null) => unix_now(),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| "member \"now\" must be a non-negative integer or null".to_owned())?,
        Some(_) => return Err("member \"now\" must be a non-negative integer or null".to_owned()),
    };
    let profile = match field_str(profile, "profile", false)? {
        Some(p) => DpopProfile::from_name(&p).map_err(|e| e.to_string())?,
        None => DpopProfile::from_name("rfc9449").map_err(|e| e.to_string())?,
    };
    let jkt = field_str(jkt, "jkt", false)?
        .map(|j| parse_jkt(&j))
        .transpose()?;
    let access_token = field_str(access_token, "access_token", false)?;
    let nonce = field_str(nonce, "nonce", false)?;
    let check = Check {
        proof: &proof,
        htm: &htm,
        htu: &htu,
        now,
        access_token: access_token.as_deref(),
        jkt,
        nonce: nonce.as_deref(),
        profile,
        inline: false,
    };
    let result = run_check(&check, verifier, Some(store));
    Ok((render(&check, &result), result.is_ok()))
}

/// One batch input line.
enum Line {
    Text(String),
    TooLong,
    NotUtf8,
}

/// Reads the next line without its newline, never buffering more than [`MAX_LINE`] bytes;
/// `None` at the end of the input. An over-long line is skipped and reported as such.
fn next_line(reader: &mut dyn std::io::BufRead) -> std::io::Result<Option<Line>> {
    let mut buf = Vec::new();
    let n = (&mut *reader)
        .take(MAX_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > MAX_LINE {
        drop(buf);
        skip_line(reader)?;
        return Ok(Some(Line::TooLong));
    }
    Ok(Some(
        String::from_utf8(buf).map_or(Line::NotUtf8, Line::Text),
    ))
}

/// Discards the rest of the current line, newline included, straight from the reader's
/// buffer (nothing is copied or kept).
fn skip_line(reader: &mut dyn std::io::BufRead) -> std::io::Result<()> {
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(());
        }
        match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => {
                reader.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = chunk.len();
                reader.consume(len);
            }
        }
    }
}

/// Reads one batch line; `Err` carries the input-error message.
fn line_text(line: Line) -> Result<String, String> {
    match line {
        Line::Text(t) => Ok(t),
        Line::TooLong => Err(format!(
            "longer than {MAX_LINE} bytes (4 MiB); skipped without being read"
        )),
        Line::NotUtf8 => Err("not UTF-8 text".to_owned()),
    }
}

/// The answer to one batch line, and whether it was valid / usable.
fn answer(
    n: usize,
    line: Result<String, String>,
    verifier: &dyn SignatureVerifier,
    store: &BatchReplayStore,
    report: bool,
) -> (String, bool, bool) {
    match line.and_then(|l| batch_line(&l, verifier, store)) {
        Ok((answer, valid)) => (answer, valid, true),
        Err(msg) => {
            if report {
                eprintln!("error: line {n}: {msg}");
            }
            let answer = ObjectWriter::new()
                .bool("valid", false)
                .str("error", "invalid_input")
                .str("detail", &format!("line {n}: {msg}"))
                .finish();
            (answer, false, false)
        }
    }
}

/// `DPOP_BENCH_PASSES=N`: how many times to validate the whole input (1 when unset).
fn bench_passes() -> Result<usize, CliError> {
    match std::env::var("DPOP_BENCH_PASSES") {
        Err(_) => Ok(1),
        Ok(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "DPOP_BENCH_PASSES must be a number from 1 to 10000, not \"{v}\""
                ))
            }),
    }
}

/// `dpop verify --batch`: JSON lines in, one JSON line out per input line, in order.
///
/// One replay store spans the batch, and one prepared-key cache (the same client keys sign
/// many proofs). Answers are flushed whenever the input has nothing more buffered, so a
/// process feeding lines one at a time reads each answer at once, and a file is answered in
/// large writes.
///
/// With `DPOP_BENCH_PASSES=N` the input is read whole and validated N times (a fresh replay
/// store each pass, the answers written from the first pass only), and the in-process cost is
/// printed on standard error as `median_us_per_proof=X` and `min_us_per_proof=Y`.
pub(crate) fn verify_batch(file: Option<&str>) -> Result<u8, CliError> {
    let passes = bench_passes()?;
    let source: Box<dyn std::io::Read> = match file {
        None | Some("-") => {
            if file.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
                return Err(CliError::usage(
                    "no batch input: pipe JSON lines on standard input or pass a FILE",
                ));
            }
            Box::new(std::io::stdin())
        }
        Some(path) => Box::new(open_file(path, "batch")?),
    };
    let mut reader = std::io::BufReader::with_capacity(64 * 1024, source);
    let verifier = CachedVerifier::new(DefaultVerifier::default());
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let write_err =
        |e: std::io::Error| CliError::failure(format!("cannot write to standard output: {e}"));
    let read_err =
        |e: std::io::Error| CliError::usage(format!("cannot read {}: {e}", source_name(file)));
    let (mut lines, mut any_invalid, mut any_bad) = (0usize, false, false);
    if passes > 1 {
        let mut input = Vec::new();
        while let Some(line) = next_line(&mut reader).map_err(read_err)? {
            if !matches!(&line, Line::Text(t) if t.trim().is_empty()) {
                input.push(line_text(line));
            }
        }
        let mut per_proof = Vec::with_capacity(passes);
        for pass in 0..passes {
            let store = BatchReplayStore::default();
            let started = std::time::Instant::now();
            let mut answers = Vec::with_capacity(if pass == 0 { input.len() } else { 0 });
            for (i, line) in input.iter().enumerate() {
                let (text, valid, usable) =
                    answer(i + 1, line.clone(), &verifier, &store, pass == 0);
                if pass == 0 {
                    any_invalid |= !valid;
                    any_bad |= !usable;
                    answers.push(text);
                } else {
                    core::hint::black_box(text);
                }
            }
            let elapsed = started.elapsed();
            per_proof.push(elapsed.as_secs_f64() * 1e6 / input.len().max(1) as f64);
            for a in answers {
                writeln!(out, "{a}").map_err(write_err)?;
            }
        }
        lines = input.len();
        per_proof.sort_by(f64::total_cmp);
        let median = per_proof.get(per_proof.len() / 2).copied().unwrap_or(0.0);
        let min = per_proof.first().copied().unwrap_or(0.0);
        eprintln!("median_us_per_proof={median:.2}");
        eprintln!("min_us_per_proof={min:.2}");
    } else {
        let store = BatchReplayStore::default();
        let mut n = 0usize;
        loop {
            if reader.buffer().is_empty() {
                out.flush().map_err(write_err)?;
            }
            let Some(line) = next_line(&mut reader).map_err(read_err)? else {
                break;
            };
            n += 1;
            if matches!(&line, Line::Text(t) if t.trim().is_empty()) {
                continue;
            }
            lines += 1;
            let (text, valid, usable) = answer(n, line_text(line), &verifier, &store, true);
            any_invalid |= !valid;
            any_bad |= !usable;
            writeln!(out, "{text}").map_err(write_err)?;
        }
    }
    out.flush().map_err(write_err)?;
    if lines == 0 {
        return Err(CliError::usage(format!(
            "{} is empty: expected JSON lines {{\"proof\",\"htm\",\"htu\",…}}",
            source_name(file)
        )));
    }
    Ok(if any_bad {
        EXIT_USAGE
    } else if any_invalid {
        EXIT_INVALID
    } else {
        EXIT_OK
    })
}
