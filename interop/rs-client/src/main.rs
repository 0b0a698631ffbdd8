//! `keybound-interop-client DEPLOYMENT MODE OUT_DIR`: keybound-client's `client_credentials`
//! at a real authorization server (npm oidc-provider, FAPI 2.0, DPoP nonces required), for
//! interop/check_oidc.mjs. MODE is `dpop` (private_key_jwt, a fresh ES256 DPoP key, the
//! client's own `use_dpop_nonce` retry) or `mtls` (tls_client_auth with certificate A, no
//! proof). Prints one JSON object: the token response, the key the token is bound to, and
//! where the DPoP private key was written for `keybound fetch`.
#![allow(
    clippy::print_stdout,
    reason = "the JSON result on stdout is the program's output"
)]

use std::process::ExitCode;

use keybound::dpop::{Algorithm, SigningKey};
use keybound_client::{
    ClientAuth, ClientIdentity, DpopClient, GrantRequest, PrivateKeyJwt, Target, TokenEndpoint,
};
use serde_json::{Value, json};

fn field<'a>(v: &'a Value, path: &[&str]) -> Result<&'a str, String> {
    let mut cur = v;
    for p in path {
        cur = cur
            .get(p)
            .ok_or_else(|| format!("deployment has no {}", path.join(".")))?;
    }
    cur.as_str()
        .ok_or_else(|| format!("deployment {} is not a string", path.join(".")))
}

fn client_of<'a>(d: &'a Value, name: &str) -> Result<&'a Value, String> {
    d.get("clients")
        .and_then(|c| c.get(name))
        .ok_or_else(|| format!("deployment has no clients.{name}"))
}

fn read(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
}

async fn run(deployment: &str, mode: &str, out_dir: &str) -> Result<Value, String> {
    let d: Value = serde_json::from_slice(&read(deployment)?)
        .map_err(|e| format!("{deployment} is not JSON: {e}"))?;
    let issuer = field(&d, &["issuer"])?;
    let token_url = field(&d, &["token_endpoint"])?;
    let resource = field(&d, &["rs", "resource"])?;
    let ca = read(field(&d, &["ca"])?)?;
    let dpop_key = SigningKey::generate_os_rng(Algorithm::Es256).map_err(|e| e.to_string())?;
    let key_file = format!("{out_dir}/keybound-client-dpop-key.json");
    std::fs::write(&key_file, dpop_key.private_jwk().as_bytes())
        .map_err(|e| format!("cannot write {key_file}: {e}"))?;
    let public_jwk: Value =
        serde_json::from_str(&dpop_key.public_jwk()).map_err(|e| e.to_string())?;
    let mut builder = DpopClient::builder()
        .key(dpop_key)
        .root_certificates_pem(&ca)
        .map_err(|e| e.to_string())?;
    let (client_id, auth, grant) = match mode {
        "dpop" => {
            let c = client_of(&d, "dpop")?;
            let auth_jwk = read(field(c, &["client_auth_key"])?)?;
            let auth_value: Value = serde_json::from_slice(&auth_jwk).map_err(|e| e.to_string())?;
            let signer = SigningKey::from_jwk(&auth_jwk).map_err(|e| e.to_string())?;
            let mut pkjwt = PrivateKeyJwt::new(signer).with_audience(issuer);
            if let Some(kid) = auth_value.get("kid").and_then(Value::as_str) {
                pkjwt = pkjwt.with_kid(kid);
            }
            (
                field(c, &["client_id"])?.to_owned(),
                ClientAuth::PrivateKeyJwt(pkjwt),
                GrantRequest::client_credentials()
                    .scope("api:read")
                    .param("resource", resource),
            )
        }
        "mtls" => {
            let c = client_of(&d, "mtls")?;
            let identity = ClientIdentity::from_pem(
                &read(field(c, &["cert"])?)?,
                &read(field(c, &["cert_key"])?)?,
            )
            .map_err(|e| e.to_string())?;
            builder = builder.client_identity(identity);
            (
                field(c, &["client_id"])?.to_owned(),
                ClientAuth::TlsClientAuth,
                GrantRequest::client_credentials()
                    .scope("api:read")
                    .param("resource", resource)
                    .without_dpop(),
            )
        }
        other => return Err(format!("unknown mode {other:?}: dpop or mtls")),
    };
    let client = builder.build().map_err(|e| e.to_string())?;
    let endpoint = TokenEndpoint::new(token_url, client_id, auth);
    let nonce_before = client.nonce(token_url, Target::AuthorizationServer);
    let token = client
        .token(&endpoint, grant)
        .await
        .map_err(|e| format!("token request failed: {e}"))?;
    let nonce_after = client.nonce(token_url, Target::AuthorizationServer);
    Ok(json!({
        "access_token": token.access_token(),
        "token_type": token.token_type(),
        "expires_in": token.expires_in(),
        "scope": token.scope(),
        "bound_jkt": token.jkt().map(|j| j.to_string()),
        "dpop_public_jwk": public_jwk,
        "dpop_key_file": key_file,
        "x5t_s256": client.x5t_s256().map(|t| t.to_string()),
        "nonce_before": nonce_before,
        "nonce_learned": nonce_after,
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [deployment, mode, out_dir] = args.as_slice() else {
        eprintln!("usage: keybound-interop-client DEPLOYMENT_JSON dpop|mtls OUT_DIR");
        return ExitCode::from(2);
    };
    match run(deployment, mode, out_dir).await {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
