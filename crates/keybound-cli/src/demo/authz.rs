//! The demo's authorization server: mints JWT access tokens (RFC 9068 style) carrying a `cnf`
//! claim, and the resource server's check of those tokens (signature, issuer, audience,
//! expiry) that yields the `cnf` the binding checks need.

use keybound::cnf::{CertThumbprint, Confirmation, JwkThumbprint};
use keybound::dpop::{Algorithm, DecodedProof, DefaultVerifier, SignatureVerifier, SigningKey};
use keybound::json::Value;
use keybound::jwk::Jwk;

use crate::error::CliError;
use crate::json_out::{ObjectWriter, push_str};

/// Issuer name written into tokens.
pub(crate) const ISSUER: &str = "https://as.demo.invalid";
/// Token lifetime.
const TOKEN_TTL: u64 = 300;

/// What a token is bound to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind {
    /// `cnf.jkt` (RFC 9449 §6.1).
    Dpop(JwkThumbprint),
    /// `cnf."x5t#S256"` (RFC 8705 §3.1).
    Mtls(CertThumbprint),
}

/// The authorization server: its signing key and public JWK.
pub(crate) struct AuthorizationServer {
    key: SigningKey,
    public_jwk: String,
    audience: String,
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS RNG only fails on broken systems; the jti then stays zero and stays unique
    // enough for a demo because it also carries the issue time.
    let _ = getrandom::fill(&mut buf);
    buf.iter().fold(String::new(), |mut s, b| {
        s.push_str(&format!("{b:02x}"));
        s
    })
}

impl AuthorizationServer {
    /// A new AS with a fresh ES256 key, issuing tokens for `audience`.
    pub(crate) fn new(audience: &str) -> Result<Self, CliError> {
        let key = SigningKey::generate_os_rng(Algorithm::Es256)
            .map_err(|e| CliError::failure(format!("cannot create the AS key: {e}")))?;
        let public_jwk = key.public_jwk();
        Ok(AuthorizationServer {
            key,
            public_jwk,
            audience: audience.to_owned(),
        })
    }

    /// Mints an access token for `sub` bound as `bind`, issued at `now`.
    pub(crate) fn mint(&self, sub: &str, bind: Bind, now: u64) -> Result<String, CliError> {
        let cnf = match bind {
            Bind::Dpop(jkt) => {
                let mut s = String::from("{\"jkt\":");
                push_str(&mut s, &jkt.to_string());
                s.push('}');
                s
            }
            Bind::Mtls(x5t) => {
                let mut s = String::from("{\"x5t#S256\":");
                push_str(&mut s, &x5t.to_string());
                s.push('}');
                s
            }
        };
        let header = ObjectWriter::new()
            .str("typ", "at+jwt")
            .str("alg", "ES256")
            .str("kid", "demo-as-1")
            .finish();
        let payload = ObjectWriter::new()
            .str("iss", ISSUER)
            .str("sub", sub)
            .str("aud", &self.audience)
            .str("client_id", sub)
            .str("scope", "read")
            .int("iat", now)
            .int("exp", now.saturating_add(TOKEN_TTL))
            .str("jti", &random_hex(12))
            .raw("cnf", &cnf)
            .finish();
        self.key
            .sign_compact(
                header.as_bytes(),
                payload.as_bytes(),
                &mut rand_core::UnwrapErr(getrandom::SysRng),
            )
            .map_err(|e| CliError::failure(format!("cannot sign the access token: {e}")))
    }

    /// The resource server's token check: ES256 signature by this AS, `iss`, `aud`, `exp`;
    /// returns the subject and the `cnf` claim (empty when the token has none).
    pub(crate) fn validate(&self, token: &str, now: u64) -> Result<(String, Confirmation), String> {
        let decoded = DecodedProof::decode(token).map_err(|e| format!("not a JWT: {e}"))?;
        let header = decoded
            .header_object()
            .map_err(|e| format!("not a JWT: {e}"))?;
        let alg_ok = header
            .get("alg")
            .and_then(|v| v.as_str())
            .is_some_and(|s| s.eq_str("ES256"));
        if !alg_ok {
            return Err("token alg is not ES256".to_owned());
        }
        let jwk = Jwk::parse(self.public_jwk.as_bytes()).map_err(|e| e.to_string())?;
        DefaultVerifier::default()
            .verify(
                Algorithm::Es256,
                &jwk,
                decoded.signing_input(),
                decoded.signature(),
            )
            .map_err(|_| "token signature does not verify".to_owned())?;
        let claims = decoded
            .payload_object()
            .map_err(|e| format!("not a JWT: {e}"))?;
        let str_claim = |name: &str| {
            claims
                .get(name)
                .and_then(|v| v.as_str())
                .map(|s| s.to_cow().into_owned())
        };
        if str_claim("iss").as_deref() != Some(ISSUER) {
            return Err("token issuer is not trusted".to_owned());
        }
        if str_claim("aud").as_deref() != Some(self.audience.as_str()) {
            return Err("token audience is not this resource server".to_owned());
        }
        let exp = claims.get("exp").and_then(|v| v.as_i64()).unwrap_or(0);
        if i128::from(exp) <= i128::from(now) {
            return Err("token has expired".to_owned());
        }
        let cnf = match claims.get("cnf") {
            Some(Value::Object(o)) => {
                Confirmation::from_object(o).map_err(|e| format!("token cnf claim: {e}"))?
            }
            None => Confirmation::new(),
            Some(_) => return Err("token cnf claim is not an object".to_owned()),
        };
        Ok((str_claim("sub").unwrap_or_default(), cnf))
    }
}
