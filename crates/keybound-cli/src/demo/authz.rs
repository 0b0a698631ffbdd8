//! The demo's authorization server: mints RFC 9068 JWT access tokens carrying a `cnf` claim
//! with [`keybound::jwt::mint`], and publishes the JWKS the resource server's layer
//! validates them against (`keybound_tower::JwtValidator`).

use keybound::cnf::{CertThumbprint, Confirmation, JwkThumbprint};
use keybound::dpop::Algorithm;
use keybound::jose::SigningKey;
use keybound::jwt::{Jwks, TokenClaims, mint};

use crate::error::CliError;

/// Issuer name written into tokens.
pub(crate) const ISSUER: &str = "https://as.demo.invalid";
/// Token lifetime.
const TOKEN_TTL: u64 = 300;
/// The `kid` of the AS signing key.
const KID: &str = "demo-as-1";

/// What a token is bound to.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Bind {
    /// `cnf.jkt` (RFC 9449 §6.1).
    Dpop(JwkThumbprint),
    /// `cnf."x5t#S256"` (RFC 8705 §3.1).
    Mtls(CertThumbprint),
}

/// The authorization server: its signing key and the JWKS it publishes.
pub(crate) struct AuthorizationServer {
    key: SigningKey,
    jwks: Jwks,
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
        let public = key
            .public_jwk()
            .replacen('{', &format!(r#"{{"kid":"{KID}","use":"sig","#), 1);
        let jwks = Jwks::parse(format!(r#"{{"keys":[{public}]}}"#).as_bytes())
            .map_err(|e| CliError::failure(format!("cannot build the AS JWKS: {e}")))?;
        Ok(AuthorizationServer {
            key,
            jwks,
            audience: audience.to_owned(),
        })
    }

    /// Mints an access token for `sub` bound as `bind`, issued at `now`.
    pub(crate) fn mint(&self, sub: &str, bind: Bind, now: u64) -> Result<String, CliError> {
        let cnf = match bind {
            Bind::Dpop(jkt) => Confirmation::from_jkt(jkt),
            Bind::Mtls(x5t) => Confirmation::from_x5t_s256(x5t),
        };
        let jti = random_hex(12);
        let audience = [self.audience.as_str()];
        let claims = TokenClaims::new(
            ISSUER,
            sub,
            &audience,
            sub,
            now,
            now.saturating_add(TOKEN_TTL),
            &jti,
        )
        .with_scope("read")
        .with_cnf(&cnf);
        mint(
            &self.key,
            Some(KID),
            &claims,
            &mut rand_core::UnwrapErr(getrandom::SysRng),
        )
        .map_err(|e| CliError::failure(format!("cannot sign the access token: {e}")))
    }

    /// The JWKS the resource server validates tokens against (RFC 9068 §4).
    pub(crate) fn jwks(&self) -> &Jwks {
        &self.jwks
    }
}
