// End-to-end interop: a real authorization server (npm oidc-provider, FAPI 2.0 profile, DPoP
// with server nonces required, RFC 8705 behind nginx, RFC 9068 JWT access tokens) and a real
// client (npm openid-client 6), checked with keybound.
//
//   node check_oidc.mjs KEYBOUND_BIN RS_SERVER_BIN WORKDIR RS_CLIENT_BIN AS_BIN
//
// Run by `cargo xtask interop` after `npm ci`. Prints one line per check,
// `CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got`; a check passes when expected === got.
// The deployment (openssl PKI, oidc-provider behind nginx, WORKDIR/deployment.json) is
// oidc/harness.mjs; the authorization server is oidc/provider.mjs.
//
// Flows:
//  1. openid-client client_credentials + private_key_jwt + DPoP (ES256, PS256, Ed25519 keys)
//     against oidc-provider, which requires nonces (openid-client's own retry); the RFC 9068
//     token verifies with `keybound token verify` against the JWKS from jwks_uri and its
//     cnf.jkt is `keybound jwk thumbprint` of the client key; wrong audience / issuer / a
//     `--now` after exp are refused with keybound's reason. Every proof openid-client sent
//     (recorded by its customFetch) verifies with `keybound dpop verify` against the nonce
//     the AS issued (the first, nonce-less one is refused with `use_dpop_nonce` by both);
//     all `jti`s differ. The token endpoint's raw `token_type` and nonce header are recorded.
//  2. keybound-signed proofs (`keybound dpop sign`) at oidc-provider's token endpoint, and
//     oidc-provider's refusals (no proof, replayed proof, stale proof with a nonce).
//  3. mTLS: openid-client with tls_client_auth through nginx ($ssl_client_escaped_cert) gets
//     a certificate-bound token whose cnf."x5t#S256" equals `keybound cert thumbprint`;
//     another certificate, a self-signed one with the same subject, or none are refused.
//  4. authorization_code + PAR + DPoP with openid-client and a scripted login: with the DPoP
//     header at PAR, and with `dpop_jkt` (the wrong key at the token endpoint is refused).
//  5. refresh_token with DPoP: the public client's refresh token is bound to its DPoP key
//     (another key, or none, refused); the confidential client's is not (observed).
//  6. oidc-provider's tokens at a keybound resource server: interop/rs-server
//     (keybound-interop-rs: keybound::rs + keybound::jwt against the JWKS from jwks_uri,
//     nonces required, HTTPS with optional client certificates). openid-client's
//     fetchProtectedResource gets 401 use_dpop_nonce, retries on its own, gets 200; the
//     stolen-token variants (as Bearer, a thief's key, a replayed proof, a proof for another
//     URL, no nonce, a forged signature, another audience; the certificate-bound token with
//     another or no certificate) get 401 with the error in WWW-Authenticate.
//  7. keybound-client (interop/rs-client) at oidc-provider, its tokens at keybound's RSes (A).
//  8. openid-client → keybound's own authorization server (interop/rs-as,
//     keybound-interop-as on `keybound::authz`, HTTPS with the deployment's certificate, DPoP
//     nonces required): RFC 8414 discovery; client_credentials (flow 1's checks, reused);
//     keybound proofs and hand-made private_key_jwt assertions (replay, aud, exp, key);
//     authorization_code + PAR with a DPoP header or dpop_jkt, another key refused;
//     refresh_token for the public client (bound) and the confidential one (not bound); its
//     tokens at a keybound-interop-rs trusting its JWKS (flow 6's checks, reused) and at
//     oauth4webapi's validateJwtAccessToken (E).
//
// ---------------------------------------------------------------------------------------
// Plug-in points for the flows that need the Rust client and resource server (issue 17).
// Everything they need is in WORKDIR/oidc/deployment.json (written by oidc/harness.mjs;
// field names below). All URLs are https on 127.0.0.1 with a certificate from `ca`.
//
//  A. keybound client → oidc-provider → keybound RS (DPoP). The Rust client needs:
//     `token_endpoint`; client `clients.dpop.client_id` (`kb-dpop`) authenticating with
//     private_key_jwt: key `clients.dpop.client_auth_key` (private JWK, `kid` kb-dpop-auth,
//     ES256), assertion `iss` = `sub` = client_id, `aud` = `issuer` (a string: oidc-provider's
//     FAPI 2.0 profile refuses anything else), `exp` ≤ 60 s ahead, a fresh `jti`; form
//     parameters `grant_type=client_credentials`, `scope=api:read`, `resource=<rs.resource>`;
//     a DPoP proof (its own key, or the spare `clients.dpop.dpop_key`); exactly one retry on
//     400 `use_dpop_nonce` (nonces are always required here) with the `DPoP-Nonce` it got;
//     `token_type` compared case-insensitively (oidc-provider sends "DPoP"). Then the RS leg:
//     `keybound fetch --key <dpop key> --access-token <token> --cacert <ca> -i <RS url>`
//     (one retry on 401 use_dpop_nonce). For mTLS: `clients.mtls.client_id` (`kb-mtls`),
//     `clients.mtls.cert` / `cert_key` (certificate A, tls_client_auth, no assertion), token
//     bound by `cnf."x5t#S256"`; the RS leg with `keybound fetch --cert A --cert-key A.key`.
//     Wire it as a binary that prints the token endpoint's JSON on stdout, run with
//     harness `run()`, and check its token with `tokenVerify()` + `kbThumbprint()` exactly as
//     clientCredentialsDpop() does for openid-client's.
//  B. (wired: `keybound serve` is started in main()'s `rsUpstreams` hook and is the third
//     entry of `targets`.) keybound RS = `keybound serve` behind nginx auth_request. In main(), `rsUpstreams`
//     already starts keybound-interop-rs behind nginx's `/proxy/`; add, in the same hook:
//        const port = await freePort();
//        startProcess(KEYBOUND, ['serve', '--listen', `127.0.0.1:${port}`,
//          '--public-origin', dep.rs.origin, '--issuer', dep.issuer,
//          '--audience', dep.rs.resource, '--jwks', dep.jwks_file, '--require-nonce',
//          '--trusted-proxy', '127.0.0.1/32'], join(WORK, 'keybound-serve.log'));
//        // waitPort(port, proc, 'keybound serve'), then
//        return { backend: behindNginx.upstream, gate: `http://127.0.0.1:${port}` };
//     and push `{ name: 'nginx auth_request → keybound serve', url: d.rs.gate_url,
//     viaNginx: true, reasons: false }` onto `targets`. nginx (harness nginxConf) then sends
//     the gate GET /auth with X-Original-Method, X-Original-URI, the client's Authorization
//     and DPoP, and X-SSL-Client-Escaped-Cert; on 2xx it serves a static JSON resource with
//     X-Keybound-Subject / -Client-Id / -Binding copied from the gate's answer; on 401 it
//     passes the gate's WWW-Authenticate and DPoP-Nonce. The gate must answer 2xx, 401 or
//     403 only: nginx turns any other status of an auth subrequest (400 included) into 500.
//  C. Stolen-token variants and D. openid-client fetchProtectedResource (nonce required):
//     resourceServerFlows() runs both for every entry of `targets` with the same
//     expectations (status and the `error` of WWW-Authenticate; keybound's reason only
//     where the RS puts it in a JSON body, `reasons: true`), so B is all they need.
//  E. openid-client → a keybound AS (facade `authz`): done as flow 8. keyboundAsDeployment()
//     starts interop/rs-as, discovers it and builds the deployment-like object
//     `{ ...d, asName, label, serverMetadata, issuer, token_endpoint, …, fetchedJwks }` that
//     clientCredentialsDpop(), authorize() and resourceServerFlows() take: configure() uses
//     `serverMetadata` instead of OpenID discovery.
// ---------------------------------------------------------------------------------------

import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';

import {
  followToRedirectUri, jwtParts, keybound, opensslX5t, readLine, recordingFetch, run, sha256b64u,
  startDeployment, startProcess, stopAll,
} from './oidc/harness.mjs';

const [KEYBOUND, RS_SERVER, WORK, RS_CLIENT, KB_AS] = process.argv.slice(2);
if (!KEYBOUND || !RS_SERVER || !WORK || !RS_CLIENT || !KB_AS) {
  console.error('usage: node check_oidc.mjs KEYBOUND_BIN RS_SERVER_BIN WORKDIR RS_CLIENT_BIN AS_BIN');
  process.exit(2);
}
const KB_CLIENT = 'keybound-client (reqwest)';
const here = dirname(fileURLToPath(import.meta.url));
const version = (pkg) =>
  JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const OP_NAME = `npm oidc-provider ${version('oidc-provider')}`;
const OP = OP_NAME;
const RP = `npm openid-client ${version('openid-client')}`;

function check(peer, name, expected, got) {
  const clean = (v) => String(v).replace(/[\t\n\r]/g, ' ');
  console.log(`CHECK\t${peer}\t${clean(name)}\t${clean(expected)}\t${clean(got)}`);
}

/** Runs `fn`; a throw becomes one failed check named `name` instead of ending the run. */
async function flow(peer, name, fn) {
  try {
    await fn();
  } catch (e) {
    check(peer, `${name}: flow completes`, 'completed', `${e.name}: ${e.message}${e.cause ? ` (${JSON.stringify(e.cause).slice(0, 300)})` : ''}`);
  }
}

const kb = (args, input) => keybound(KEYBOUND, args, input);

let seq = 0;
function writeWork(name, text) {
  const file = join(WORK, `${(seq += 1).toString().padStart(2, '0')}-${name}`);
  writeFileSync(file, text);
  return file;
}

/** `keybound jwk thumbprint` of a public JWK. */
function kbThumbprint(publicJwk) {
  return kb(['jwk', 'thumbprint', writeWork('jwk.json', JSON.stringify(publicJwk))]).out;
}

function tokenVerify(d, token, { issuer = d.issuer, audience = d.rs.resource, now } = {}) {
  const args = ['token', 'verify', '--jwks', d.fetchedJwks, '--issuer', issuer, '--audience', audience];
  if (now !== undefined) args.push('--now', String(now));
  return kb([...args, '-'], token).out;
}

/** `keybound dpop verify` of one recorded proof; `valid` or `error/reason`. */
function proofVerdict(proof, { htm, htu, nonce, jkt, accessToken, now }) {
  const args = ['dpop', 'verify', '--htm', htm, '--htu', htu];
  if (nonce) args.push('--nonce', nonce);
  if (jkt) args.push('--jkt', jkt);
  if (accessToken) args.push('--access-token', accessToken);
  if (now !== undefined) args.push('--now', String(now));
  const { out } = kb([...args, '-'], proof);
  return out.valid ? 'valid' : `${out.error}/${out.reason}`;
}

const outcome = (entry) => {
  let error = '';
  try { error = JSON.parse(entry.body).error ?? ''; } catch { /* not JSON */ }
  return `${entry.status}${error ? ` ${error}` : ''}`;
};

async function dpopKeyPair(alg) {
  const pair = await jose.generateKeyPair(alg, { extractable: true });
  const jwk = await jose.exportJWK(pair.publicKey);
  return { pair, jwk, jkt: await jose.calculateJwkThumbprint(jwk) };
}

/** An openid-client Configuration for `clientName` of the deployment, with a recorder. */
async function configure(d, clientName, { identity, log = [] } = {}) {
  const c = d.clients[clientName];
  const fetchFn = recordingFetch({ ca: d.ca, identity, log });
  let auth;
  const metadata = {};
  switch (c.token_endpoint_auth_method) {
    case 'private_key_jwt': {
      const jwk = JSON.parse(readFileSync(c.client_auth_key, 'utf8'));
      auth = client.PrivateKeyJwt({ key: await jose.importJWK(jwk, jwk.alg), kid: jwk.kid });
      metadata.token_endpoint_auth_signing_alg = jwk.alg;
      metadata.id_token_signed_response_alg = 'ES256';
      break;
    }
    case 'tls_client_auth':
      auth = client.TlsClientAuth();
      break;
    default:
      auth = client.None();
      metadata.id_token_signed_response_alg = 'ES256';
  }
  // Discovery at the deployment's issuer, or given metadata (an AS without discovery).
  const config = d.serverMetadata
    ? new client.Configuration(d.serverMetadata, c.client_id, metadata, auth)
    : await client.discovery(new URL(d.issuer), c.client_id, metadata, auth, {
      [client.customFetch]: fetchFn,
    });
  config[client.customFetch] = fetchFn;
  return { config, log, fetchFn };
}

const tokenCalls = (log, d) => log.filter((e) => e.url === d.token_endpoint);

/**
 * oidc-provider's reason for its latest refusal (`error_detail`, else `error_description`):
 * for invalid_grant the wire says only "grant request is invalid". `before` is the number of
 * events before the request; the event line may reach us just after the HTTP response.
 */
async function providerDetail(d, before) {
  for (let i = 0; i < 40; i += 1) {
    const events = d.providerEvents();
    if (events.length > before) {
      const e = events.at(-1);
      return e.detail ?? e.description;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return 'no event';
}

// --- 1. client_credentials + private_key_jwt + DPoP ---------------------------------------

async function clientCredentialsDpop(d, alg, resource) {
  const name = `${d.label ?? ''}client_credentials ${alg} DPoP key`;
  const OP = d.asName ?? OP_NAME;
  const { config, log } = await configure(d, 'dpop');
  const key = await dpopKeyPair(alg);
  const DPoP = client.getDPoPHandle(config, key.pair);
  const t0 = Math.floor(Date.now() / 1000);
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read', resource: resource.indicator }, { DPoP });
  const calls = tokenCalls(log, d);
  check(RP, `${name}: token endpoint exchanges (nonce required, openid-client retries once)`,
    '400 use_dpop_nonce, 200', calls.map(outcome).join(', '));
  const nonce = calls[0]?.headers['dpop-nonce'];
  check(OP, `${name}: the use_dpop_nonce answer carries a DPoP-Nonce of NQCHARs (RFC 9449 §8.1)`,
    'true', /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(nonce ?? ''));
  const raw = JSON.parse(calls.at(-1)?.body ?? '{}');
  check(OP, `${name}: token_type on the wire`, 'DPoP', raw.token_type);
  check(RP, `${name}: token_type as openid-client reports it (lower-cased)`, 'dpop', tokens.token_type);

  const proofs = calls.map((c) => c.request.headers.dpop);
  const jtis = proofs.map((p) => jwtParts(p).payload.jti);
  check(RP, `${name}: proofs sent / distinct jti`, '2/2', `${proofs.length}/${new Set(jtis).size}`);
  check(RP, `${name}: first proof (no nonce) → keybound dpop verify --nonce <AS nonce>`,
    'use_dpop_nonce/nonce', proofVerdict(proofs[0], { htm: 'POST', htu: d.token_endpoint, nonce }));
  check(RP, `${name}: retried proof → keybound dpop verify --nonce <AS nonce> --jkt <key>`,
    'valid', proofVerdict(proofs[1], { htm: 'POST', htu: d.token_endpoint, nonce, jkt: key.jkt }));
  check(RP, `${name}: retried proof's nonce is the one the AS issued`, nonce, jwtParts(proofs[1]).payload.nonce);

  const at = tokens.access_token;
  const v = tokenVerify(d, at, { audience: resource.indicator });
  const { header } = jwtParts(at);
  check(OP, `${name}: access token header (RFC 9068 §2.1)`, `at+jwt ${resource.token_alg}`, `${header.typ} ${header.alg}`);
  check(OP, `${name}: keybound token verify (JWKS from jwks_uri)`, 'true', v.valid ?? v);
  check(OP, `${name}: cnf.jkt == keybound jwk thumbprint of the client's key`, kbThumbprint(key.jwk), v.cnf?.jkt);
  check(OP, `${name}: keybound's thumbprint == jose's`, key.jkt, kbThumbprint(key.jwk));
  const c = v.claims ?? {};
  check(OP, `${name}: claims iss / aud / client_id / sub / scope`,
    `${d.issuer} ${resource.indicator} ${d.clients.dpop.client_id} ${d.clients.dpop.client_id} api:read`,
    `${c.iss} ${c.aud} ${c.client_id} ${c.sub} ${c.scope}`);
  check(OP, `${name}: iat within the run, exp - iat (ttl)`, 'true 300',
    `${c.iat >= t0 - 1 && c.iat <= Math.floor(Date.now() / 1000) + 1} ${c.exp - c.iat}`);
  const refused = (opts) => {
    const r = tokenVerify(d, at, { audience: resource.indicator, ...opts });
    return r.valid === false ? `${r.error}/${r.reason}` : JSON.stringify(r);
  };
  check(OP, `${name}: keybound token verify, another audience`, 'invalid_token/aud', refused({ audience: 'https://other.keybound.test' }));
  check(OP, `${name}: keybound token verify, another issuer`, 'invalid_token/iss', refused({ issuer: `${d.issuer}/other` }));
  check(OP, `${name}: keybound token verify, --now after exp`, 'invalid_token/exp', refused({ now: c.exp + 3600 }));
  check(OP, `${name}: keybound token verify, --now an hour before iat`, 'invalid_token/iat', refused({ now: c.iat - 3600 }));
  return { config, log, key, DPoP, tokens, nonce };
}

// --- 2. keybound's own proofs at oidc-provider, and oidc-provider's refusals --------------

/** kb-dpop's private_key_jwt assertion; `aud`, `exp` and the signing key may be varied. */
async function clientAssertion(d, { aud = d.issuer, exp, key } = {}) {
  const jwk = JSON.parse(readFileSync(d.clients.dpop.client_auth_key, 'utf8'));
  const now = Math.floor(Date.now() / 1000);
  return new jose.SignJWT({ jti: crypto.randomUUID() })
    .setProtectedHeader({ alg: jwk.alg, kid: jwk.kid, typ: 'JWT' })
    .setIssuer('kb-dpop').setSubject('kb-dpop').setAudience(aud)
    .setIssuedAt(now).setExpirationTime(exp ?? now + 60)
    .sign(key ?? await jose.importJWK(jwk, jwk.alg));
}

async function rawTokenRequest(d, fetchFn, proof, extra = {}) {
  const body = new URLSearchParams({
    grant_type: 'client_credentials', scope: 'api:read', resource: d.rs.resource,
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(d), ...extra,
  });
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (proof) headers.dpop = proof;
  await fetchFn(d.token_endpoint, { method: 'POST', headers, body });
  return fetchFn.log.at(-1);
}

async function keyboundProofsAtOp(d) {
  const name = 'keybound dpop sign → oidc-provider token endpoint';
  const fetchFn = recordingFetch({ ca: d.ca });
  const keyFile = writeWork('kb-dpop-key.json', JSON.stringify(kb(['jwk', 'generate', '--alg', 'ES256']).out));
  const jkt = kb(['jwk', 'thumbprint', keyFile]).out;
  const sign = (...more) => kb(['dpop', 'sign', '--key', keyFile, '--htm', 'POST', '--htu', d.token_endpoint, ...more]).out;

  // Without a nonce: refused with use_dpop_nonce and a fresh nonce.
  let e = await rawTokenRequest(d, fetchFn, sign());
  check(OP, `${name}: proof without nonce`, '400 use_dpop_nonce', outcome(e));
  const fresh = e.headers['dpop-nonce'];
  // With the nonce: a DPoP token bound to keybound's key.
  const proof = sign('--nonce', fresh);
  e = await rawTokenRequest(d, fetchFn, proof);
  check(OP, `${name}: proof with the AS nonce`, '200', outcome(e));
  const body = JSON.parse(e.body);
  const v = tokenVerify(d, body.access_token ?? '');
  check(OP, `${name}: token cnf.jkt == keybound jwk thumbprint`, jkt, v.cnf?.jkt);
  // The same proof again: oidc-provider's jti replay check.
  let before = d.providerEvents().length;
  e = await rawTokenRequest(d, fetchFn, proof);
  check(OP, `${name}: the same proof again (replay)`, '400 invalid_grant', outcome(e));
  check(OP, `${name}: the same proof again: error_description on the wire`, 'grant request is invalid',
    JSON.parse(e.body).error_description);
  check(OP, `${name}: the same proof again: oidc-provider's error_detail`, 'DPoP proof JWT Replay detected',
    await providerDetail(d, before));
  // No proof at all for a client registered with dpop_bound_access_tokens.
  before = d.providerEvents().length;
  e = await rawTokenRequest(d, fetchFn, undefined);
  check(OP, `${name}: no DPoP proof for a dpop_bound_access_tokens client`, '400 invalid_grant', outcome(e));
  check(OP, `${name}: no DPoP proof: oidc-provider's error_detail`, 'DPoP proof JWT not provided',
    await providerDetail(d, before));
  // An hour-old iat with a valid nonce: oidc-provider lets the nonce stand in for freshness
  // (it checks iat only when there is no nonce); keybound checks iat always.
  const now = Math.floor(Date.now() / 1000);
  const stale = sign('--nonce', fresh, '--iat', String(now - 3600));
  e = await rawTokenRequest(d, fetchFn, stale);
  check(OP, `${name}: proof with the AS nonce but iat an hour old`, '200', outcome(e));
  check('keybound', 'the same stale proof → keybound dpop verify --nonce',
    'invalid_dpop_proof/iat', proofVerdict(stale, { htm: 'POST', htu: d.token_endpoint, nonce: fresh }));
  // A proof for another URL.
  e = await rawTokenRequest(d, fetchFn, kb(['dpop', 'sign', '--key', keyFile, '--htm', 'POST', '--htu',
    `${d.issuer}/other`, '--nonce', fresh]).out);
  check(OP, `${name}: proof for another htu`, '400 invalid_dpop_proof', outcome(e));
}

/** A proof signed by jose (any claims, e.g. an htu keybound's signer would normalize). */
async function joseProof(pair, claims) {
  const jwk = await jose.exportJWK(pair.publicKey);
  return new jose.SignJWT({ jti: crypto.randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(pair.privateKey);
}

/**
 * How each side compares `htu` (RFC 9449 §4.3 step 9 and its SHOULD: RFC 3986 §6.2.2 and
 * §6.2.3 normalization). oidc-provider parses the claim with WHATWG URL and compares hrefs
 * after dropping query and fragment; keybound normalizes per RFC 3986.
 */
async function htuComparison(d) {
  const fetchFn = recordingFetch({ ca: d.ca });
  const key = await dpopKeyPair('ES256');
  // A nonce to put in the proofs.
  const first = await rawTokenRequest(d, fetchFn, await joseProof(key.pair, { htm: 'POST', htu: d.token_endpoint }));
  const nonce = first.headers['dpop-nonce'];
  const origin = new URL(d.token_endpoint).origin;
  const variants = [
    ['the token endpoint as is', d.token_endpoint, '200', 'valid'],
    ['upper-case scheme', d.token_endpoint.replace('https:', 'HTTPS:'), '200', 'valid'],
    ['with query and fragment', `${d.token_endpoint}?a=b#c`, '200', 'valid'],
    ['a dot segment (/x/../token)', `${origin}/x/../token`, '200', 'valid'],
    ['percent-encoded unreserved character (/%74oken)', `${origin}/%74oken`, '400 invalid_dpop_proof', 'valid'],
    ['trailing slash (/token/)', `${origin}/token/`, '400 invalid_dpop_proof', 'invalid_dpop_proof/htu'],
  ];
  for (const [label, htu, opExpected, kbExpected] of variants) {
    const proof = await joseProof(key.pair, { htm: 'POST', htu, nonce });
    const kbGot = proofVerdict(proof, { htm: 'POST', htu: d.token_endpoint, nonce });
    const e = await rawTokenRequest(d, fetchFn, proof);
    check(OP, `htu ${label}: oidc-provider token endpoint`, opExpected, outcome(e));
    check('keybound', `htu ${label}: keybound dpop verify`, kbExpected, kbGot);
  }
}

// --- 3. mTLS: tls_client_auth through nginx -----------------------------------------------

async function mtls(d) {
  const name = 'tls_client_auth via nginx $ssl_client_escaped_cert';
  const peer = `${OP} + nginx ${d.nginx.version}`;
  const a = { cert: d.clients.mtls.cert, key: d.clients.mtls.cert_key };
  const { config, log } = await configure(d, 'mtls', { identity: a });
  const tokens = await client.clientCredentialsGrant(config, { scope: 'api:read', resource: d.rs.resource });
  check(RP, `${name}: client certificate A → token endpoint`, '200', tokenCalls(log, d).map(outcome).join(', '));
  check(OP, `${name}: token_type on the wire`, 'Bearer', JSON.parse(tokenCalls(log, d).at(-1).body).token_type);
  const v = tokenVerify(d, tokens.access_token);
  const kbX5t = kb(['cert', 'thumbprint', a.cert]).out;
  check(peer, `${name}: keybound token verify`, 'true', v.valid ?? v);
  check(peer, `${name}: cnf."x5t#S256" == keybound cert thumbprint of A`, kbX5t, v.cnf?.['x5t#S256']);
  check('openssl', `${name}: keybound cert thumbprint == openssl x509 | dgst -sha256`, opensslX5t(a.cert), kbX5t);
  check(peer, `${name}: cnf has no jkt (no DPoP)`, 'undefined', String(v.cnf?.jkt));

  for (const [label, identity, detail] of [
    ['certificate B (same CA, other subject)', { cert: d.pki.clientB.cert, key: d.pki.clientB.key },
      'certificate subject value does not match the registered one'],
    ["self-signed certificate with A's subject", { cert: d.pki.rogue.cert, key: d.pki.rogue.key },
      'client certificate was not verified'],
    ['no certificate', undefined, 'client certificate was not provided'],
  ]) {
    const other = await configure(d, 'mtls', { identity });
    let got;
    const before = d.providerEvents().length;
    try {
      await client.clientCredentialsGrant(other.config, { scope: 'api:read', resource: d.rs.resource });
      got = 'accepted';
    } catch (e) {
      got = `${e.status ?? ''} ${e.error ?? e.message}: ${await providerDetail(d, before)}`.trim();
    }
    check(peer, `${name}: ${label}`, `401 invalid_client: ${detail}`, got);
  }
  return { tokens, identity: a };
}

// --- 4. authorization_code + PAR + DPoP -----------------------------------------------------

async function authorize(d, config, fetchFn, clientName, { DPoP, dpopJkt, scope = 'openid api:read' } = {}) {
  const c = d.clients[clientName];
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const params = {
    redirect_uri: c.redirect_uri,
    scope,
    resource: d.rs.resource,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    ...(dpopJkt && { dpop_jkt: dpopJkt }),
  };
  const url = await client.buildAuthorizationUrlWithPAR(config, params, DPoP ? { DPoP } : {});
  const callback = await followToRedirectUri(fetchFn, url, c.redirect_uri);
  return { callback, checks: { pkceCodeVerifier: verifier, expectedState: state } };
}

async function authorizationCode(d) {
  const name = 'authorization_code + PAR + DPoP (private_key_jwt)';
  const { config, log, fetchFn } = await configure(d, 'dpop');
  const key = await dpopKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, key.pair);
  const { callback, checks } = await authorize(d, config, fetchFn, 'dpop', { DPoP });
  const par = log.filter((e) => e.url === d.pushed_authorization_request_endpoint);
  check(RP, `${name}: PAR exchanges (DPoP header, nonce required)`, '400 use_dpop_nonce, 201', par.map(outcome).join(', '));
  check(RP, `${name}: PAR proofs → keybound dpop verify (last one, AS nonce)`, 'valid',
    proofVerdict(par.at(-1).request.headers.dpop, {
      htm: 'POST', htu: d.pushed_authorization_request_endpoint, nonce: par[0].headers['dpop-nonce'], jkt: key.jkt,
    }));
  check(OP, `${name}: authorization response carries code and iss (RFC 9207)`, `true ${d.issuer}`,
    `${callback.searchParams.has('code')} ${callback.searchParams.get('iss')}`);
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  const calls = tokenCalls(log, d);
  check(RP, `${name}: token exchanges (the nonce from PAR is reused)`, '200', calls.map(outcome).join(', '));
  check(RP, `${name}: ID token validated by openid-client, sub`, d.test_user, tokens.claims()?.sub);
  const v = tokenVerify(d, tokens.access_token);
  check(OP, `${name}: keybound token verify`, 'true', v.valid ?? v);
  check(OP, `${name}: access token sub / client_id / cnf.jkt`, `${d.test_user} kb-dpop ${key.jkt}`,
    `${v.claims?.sub} ${v.claims?.client_id} ${v.cnf?.jkt}`);
  check(OP, `${name}: refresh token issued`, 'true', typeof tokens.refresh_token === 'string');
  const all = log.filter((e) => e.request.headers.dpop).map((e) => jwtParts(e.request.headers.dpop).payload.jti);
  check(RP, `${name}: all proof jtis distinct`, `${all.length}`, `${new Set(all).size}`);

  // dpop_jkt at PAR without a DPoP header (RFC 9449 §10): the code is bound to that key.
  const name2 = 'authorization_code + PAR with dpop_jkt';
  const thief = await dpopKeyPair('ES256');
  // Both at once with different keys: RFC 9449 §10.1 says MUST reject.
  let parGot;
  const parBefore = d.providerEvents().length;
  try {
    await authorize(d, config, fetchFn, 'dpop', { DPoP, dpopJkt: thief.jkt });
    parGot = 'accepted';
  } catch (e) {
    parGot = `${e.status} ${e.error}: ${await providerDetail(d, parBefore)}`;
  }
  check(OP, `${name2}: PAR with a DPoP header and the dpop_jkt of another key`,
    '400 invalid_request: DPoP proof key thumbprint does not match dpop_jkt', parGot);
  const first = await authorize(d, config, fetchFn, 'dpop', { dpopJkt: key.jkt });
  let got;
  const before = d.providerEvents().length;
  try {
    await client.authorizationCodeGrant(config, first.callback, first.checks, undefined, {
      DPoP: client.getDPoPHandle(config, thief.pair),
    });
    got = 'accepted';
  } catch (e) {
    got = `${e.status} ${e.error}`;
  }
  check(OP, `${name2}: token request with another DPoP key`, '400 invalid_grant', got);
  check(OP, `${name2}: another DPoP key: oidc-provider's error_detail`,
    'DPoP proof key thumbprint does not match dpop_jkt', await providerDetail(d, before));
  try {
    await client.authorizationCodeGrant(config, first.callback, first.checks, undefined, { DPoP });
    got = 'accepted';
  } catch (e) {
    got = `${e.status} ${e.error}`;
  }
  check(OP, `${name2}: the same code afterwards with the right key (the failed attempt consumed it)`, '400 invalid_grant', got);
  const second = await authorize(d, config, fetchFn, 'dpop', { dpopJkt: key.jkt });
  const t2 = await client.authorizationCodeGrant(config, second.callback, second.checks, undefined, { DPoP });
  check(OP, `${name2}: a new code with the dpop_jkt key → cnf.jkt`, key.jkt, tokenVerify(d, t2.access_token).cnf?.jkt);
  return { config, key, DPoP, tokens };
}

// --- 5. refresh_token with DPoP -----------------------------------------------------------

/** A refresh; `got` is `200` or `STATUS error: oidc-provider's error_detail`. */
async function refreshOutcome(d, config, rt, pair) {
  const before = d.providerEvents().length;
  try {
    const t = await client.refreshTokenGrant(config, rt, undefined, pair ? { DPoP: client.getDPoPHandle(config, pair) } : {});
    return { got: '200', tokens: t };
  } catch (e) {
    return { got: `${e.status} ${e.error}: ${await providerDetail(d, before)}` };
  }
}

async function refreshTokens(d, confidential) {
  // Public client: authorization_code + PAR + DPoP, then refresh.
  const name = 'refresh_token, public client';
  const { config, fetchFn } = await configure(d, 'public');
  const key = await dpopKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, key.pair);
  const { callback, checks } = await authorize(d, config, fetchFn, 'public', { DPoP });
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  const rt = tokens.refresh_token;
  const other = await dpopKeyPair('ES256');
  let r = await refreshOutcome(d, config, rt, other.pair);
  check(OP, `${name}: another DPoP key`, '400 invalid_grant: failed jkt verification', r.got);
  r = await refreshOutcome(d, config, rt, undefined);
  check(OP, `${name}: no DPoP proof`, '400 invalid_grant: DPoP proof JWT not provided', r.got);
  r = await refreshOutcome(d, config, rt, key.pair);
  check(OP, `${name}: the same key`, '200', r.got);
  check(OP, `${name}: the new access token's cnf.jkt`, key.jkt, tokenVerify(d, r.tokens?.access_token ?? '').cnf?.jkt);

  // Confidential client (private_key_jwt): the refresh token of flow 4.
  const name2 = 'refresh_token, confidential client';
  r = await refreshOutcome(d, confidential.config, confidential.tokens.refresh_token, other.pair);
  check(OP, `${name2}: another DPoP key (RFC 9449 §5: not bound)`, '200', r.got);
  check(OP, `${name2}: the new access token is bound to the new key`, other.jkt,
    tokenVerify(d, r.tokens?.access_token ?? '').cnf?.jkt);
  r = await refreshOutcome(d, confidential.config, confidential.tokens.refresh_token, undefined);
  check(OP, `${name2}: no DPoP proof (dpop_bound_access_tokens client)`, '400 invalid_grant: DPoP proof JWT not provided', r.got);
}

// --- 6. oidc-provider's tokens at a keybound resource server ------------------------------

/**
 * A resource server under test: `url` of a protected resource, `name` for the report.
 * keybound-interop-rs now; `keybound serve` behind nginx (deployment.rs) plugs in as another
 * target with the same expectations (status + WWW-Authenticate error), see the header.
 */
async function startInteropRs(d, { behindNginx = false, name, logName } = {}) {
  const common = ['--jwks', d.jwks_file, '--issuer', d.issuer, '--audience', d.rs.resource, '--require-nonce',
    '--lifeline', '--max-seconds', '300'];
  const args = behindNginx
    // Plain HTTP behind nginx: the public origin is nginx's, the certificate comes in
    // nginx's header and is believed from 127.0.0.1 only.
    ? ['--origin', d.rs.origin, '--trust-proxy', '127.0.0.1/32', '--cert-header', 'x-ssl-client-escaped-cert']
    : ['--tls-cert', d.pki.server.cert, '--tls-key', d.pki.server.key];
  const log = join(WORK, logName ?? (behindNginx ? 'rs-server-behind-nginx.log' : 'rs-server.log'));
  const proc = startProcess(RS_SERVER, [...common, ...args], log);
  const [, origin] = await readLine(proc, /^listening (https?:\/\/\S+)$/, 'keybound-interop-rs');
  return behindNginx
    ? { name: 'nginx → keybound-interop-rs', url: d.rs.backend_url, upstream: origin, viaNginx: true, reasons: true }
    : { name: name ?? 'keybound-interop-rs (keybound::rs + keybound::jwt)', url: `${origin}/api/resource`, reasons: true };
}

/** `STATUS error` from the status and the WWW-Authenticate `error` (any RS, any body). */
function rsOutcome(entry) {
  const www = [].concat(entry.headers['www-authenticate'] ?? []).join(', ');
  const error = /error="([^"]+)"/.exec(www)?.[1];
  return `${entry.status}${error ? ` ${error}` : ''}`;
}

const jsonBody = (entry) => {
  try {
    return JSON.parse(entry?.body ?? '');
  } catch {
    return {};
  }
};
/** The binding the RS reports: keybound-interop-rs's body, or keybound serve's header. */
const rsBinding = (entry) => jsonBody(entry).binding ?? entry?.headers['x-keybound-binding'];
/** The subject the RS reports, the same two ways. */
const rsSubject = (entry) => jsonBody(entry).sub ?? entry?.headers['x-keybound-subject'];

/** keybound's own reason, when the RS reports one in a JSON body (keybound-interop-rs). */
function rsReason(entry) {
  const b = jsonBody(entry);
  return b.token_reason ? `${b.reason}/${b.token_reason}` : (b.reason ?? '');
}

async function rsRequest(d, rs, { token, scheme = 'DPoP', proof, identity, extraHeaders = {}, url = rs.url }) {
  const fetchFn = recordingFetch({ ca: d.ca, identity });
  const headers = { authorization: `${scheme} ${token}`, ...extraHeaders };
  if (proof) headers.dpop = proof;
  await fetchFn(url, { method: 'GET', headers });
  return fetchFn.log.at(-1);
}

async function privateJwkFile(pair) {
  return writeWork('dpop-private.json', JSON.stringify(await jose.exportJWK(pair.privateKey)));
}

async function resourceServerFlows(d, rs, dpopFlow, mtlsFlow, ps256Token) {
  const peer = `${RP} → ${rs.name}`;
  const peerStolen = `${d.asName ?? OP} token → ${rs.name}`;
  const name = 'fetchProtectedResource (DPoP, RS requires nonces)';
  const token = dpopFlow.tokens.access_token;
  const start = dpopFlow.log.length;
  const res = await client.fetchProtectedResource(dpopFlow.config, token, new URL(rs.url), 'GET', undefined, undefined, {
    DPoP: dpopFlow.DPoP,
  });
  const calls = dpopFlow.log.slice(start).filter((e) => e.url === rs.url);
  check(peer, `${name}: exchanges (openid-client retries use_dpop_nonce once)`, '401 use_dpop_nonce, 200',
    calls.map(rsOutcome).join(', '));
  check(peer, `${name}: the 401 challenge`, 'true',
    /^DPoP error="use_dpop_nonce"/.test([].concat(calls[0]?.headers['www-authenticate'] ?? []).join(', ')));
  const rsNonce = calls[0]?.headers['dpop-nonce'];
  check(peer, `${name}: the 401 carries a DPoP-Nonce of NQCHARs`, 'true', /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(rsNonce ?? ''));
  check(peer, `${name}: openid-client's answer`, '200', res.status);
  check(peer, `${name}: the RS's binding and subject`, 'dpop kb-dpop', `${rsBinding(calls.at(-1))} ${rsSubject(calls.at(-1))}`);
  const proofs = calls.map((c) => c.request.headers.dpop);
  const claims = proofs.map((p) => jwtParts(p).payload);
  check(peer, `${name}: proofs carry ath = SHA-256(token)`, 'true,true',
    claims.map((c) => c.ath === sha256b64u(token)).join(','));
  check(peer, `${name}: proof jtis distinct (with the token endpoint's)`, 'true',
    new Set([...dpopFlow.log.filter((e) => e.request.headers.dpop).map((e) => jwtParts(e.request.headers.dpop).payload.jti)]).size
      === dpopFlow.log.filter((e) => e.request.headers.dpop).length);
  check(peer, `${name}: retried proof's nonce is the RS's`, rsNonce, claims.at(-1)?.nonce);
  check('keybound', `${name}: retried proof → keybound dpop verify --access-token --jkt --nonce`, 'valid',
    proofVerdict(proofs.at(-1), { htm: 'GET', htu: rs.url, nonce: rsNonce, jkt: dpopFlow.key.jkt, accessToken: token }));

  // Stolen-token variants.
  const stolen = 'stolen DPoP token';
  const clientKey = await privateJwkFile(dpopFlow.key.pair);
  const thiefKey = writeWork('thief.json', JSON.stringify(kb(['jwk', 'generate', '--alg', 'ES256']).out));
  const sign = (key, more = []) => kb(['dpop', 'sign', '--key', key, '--htm', 'GET', '--htu', rs.url,
    '--access-token', token, ...more]).out;
  const forged = (() => {
    const [h, p, sig] = token.split('.');
    const i = sig.length >> 1;
    return `${h}.${p}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
  })();
  const variants = [
    ['as Bearer, no proof', { scheme: 'Bearer' }, '401 invalid_token', 'dpop_token_as_bearer'],
    ["with the thief's own key (ath right, RS nonce)", { proof: sign(thiefKey, ['--nonce', rsNonce]) },
      '401 invalid_dpop_proof', 'key_binding'],
    ["the client's accepted proof replayed", { proof: proofs.at(-1) }, '401 invalid_dpop_proof', 'replay'],
    ["the client's key, proof for another URL", {
      proof: kb(['dpop', 'sign', '--key', clientKey, '--htm', 'GET', '--htu', `${rs.url}-other`,
        '--access-token', token, '--nonce', rsNonce]).out,
    }, '401 invalid_dpop_proof', 'htu'],
    ["the client's key, no nonce", { proof: sign(clientKey) }, '401 use_dpop_nonce', 'nonce'],
    ['one signature character of the token changed', {
      token: forged,
      proof: kb(['dpop', 'sign', '--key', clientKey, '--htm', 'GET', '--htu', rs.url,
        '--access-token', forged, '--nonce', rsNonce]).out,
    }, '401 invalid_token', 'invalid_token/signature'],
  ];
  for (const [label, req, expected, reason] of variants) {
    const e = await rsRequest(d, rs, { token, ...req });
    check(peerStolen, `${stolen}: ${label}`, expected, rsOutcome(e));
    if (rs.reasons) check(rs.name, `${stolen}: ${label}: keybound's reason`, reason, rsReason(e));
  }
  if (ps256Token) {
    // openid-client throws on a 401 challenge that is not use_dpop_nonce; the log has it.
    await client.fetchProtectedResource(ps256Token.config, ps256Token.tokens.access_token, new URL(rs.url),
      'GET', undefined, undefined, { DPoP: ps256Token.DPoP }).catch(() => undefined);
    const last = ps256Token.log.at(-1);
    check(peerStolen, 'a DPoP token issued for another resource (aud)', '401 invalid_token', rsOutcome(last));
    if (rs.reasons) check(rs.name, "a DPoP token issued for another resource: keybound's reason", 'invalid_token/aud', rsReason(last));
  }

  // The certificate-bound token of flow 3.
  if (mtlsFlow) {
    const at = mtlsFlow.tokens.access_token;
    const peerT = `openssl certificates → ${rs.name}`;
    let e = await rsRequest(d, rs, { token: at, scheme: 'Bearer', identity: mtlsFlow.identity });
    check(peerT, 'certificate-bound token with certificate A', '200', rsOutcome(e));
    check(rs.name, 'certificate-bound token with certificate A: binding', 'mtls', rsBinding(e));
    e = await rsRequest(d, rs, { token: at, scheme: 'Bearer', identity: { cert: d.pki.clientB.cert, key: d.pki.clientB.key } });
    check(peerT, 'certificate-bound token with certificate B', '401 invalid_token', rsOutcome(e));
    if (rs.reasons) check(rs.name, "certificate-bound token with certificate B: keybound's reason", 'certificate_mismatch', rsReason(e));
    e = await rsRequest(d, rs, { token: at, scheme: 'Bearer' });
    check(peerT, 'certificate-bound token without a certificate', '401 invalid_token', rsOutcome(e));
    if (rs.reasons) check(rs.name, "certificate-bound token without a certificate: keybound's reason", 'certificate_missing', rsReason(e));
    if (rs.viaNginx) {
      // The client forges nginx's header with A's certificate: nginx overwrites it.
      const forgedHeader = { 'x-ssl-client-escaped-cert': encodeURIComponent(readFileSync(mtlsFlow.identity.cert, 'utf8')) };
      e = await rsRequest(d, rs, { token: at, scheme: 'Bearer', extraHeaders: forgedHeader });
      check(peerT, "no certificate + a client-forged X-SSL-Client-Escaped-Cert of A", '401 invalid_token', rsOutcome(e));
      if (rs.reasons) check(rs.name, "no certificate + a forged header of A: keybound's reason", 'certificate_missing', rsReason(e));
      e = await rsRequest(d, rs, {
        token: at, scheme: 'Bearer', extraHeaders: forgedHeader,
        identity: { cert: d.pki.clientB.cert, key: d.pki.clientB.key },
      });
      check(peerT, "certificate B + a client-forged header of A", '401 invalid_token', rsOutcome(e));
      if (rs.reasons) check(rs.name, "certificate B + a forged header of A: keybound's reason", 'certificate_mismatch', rsReason(e));
    }
  }
  if (rs.viaNginx) {
    // An auth_request gate that does not answer: nginx fails closed.
    const e = await rsRequest(d, rs, { token, proof: sign(clientKey), url: d.rs.gate_down_url });
    check(`nginx ${d.nginx.version}`, 'auth_request gate unreachable: the resource is not served', '500', e.status);
  }
}

// --- E. openid-client → keybound's authorization server (interop/rs-as) --------------------

const KB_AS_NAME = 'keybound-interop-as (keybound::authz)';
const O4W = `npm oauth4webapi ${version('oauth4webapi')} validateJwtAccessToken`;

/**
 * Starts keybound-interop-as on the deployment (HTTPS with the deployment's server
 * certificate), discovers it with openid-client (RFC 8414, `algorithm: 'oauth2'`), writes
 * its JWKS to the work directory, and returns a deployment-like object for the flows above
 * (`serverMetadata` makes configure() skip OpenID discovery).
 */
async function keyboundAsDeployment(d) {
  const proc = startProcess(KB_AS, [d.file, '--lifeline', '--max-seconds', '300'], join(WORK, 'keybound-as.log'));
  const [, issuer] = await readLine(proc, /^listening (https:\/\/\S+)$/, 'keybound-interop-as');
  const fetchFn = recordingFetch({ ca: d.ca });
  const discovered = await client.discovery(new URL(issuer), d.clients.dpop.client_id, undefined, client.None(), {
    algorithm: 'oauth2', [client.customFetch]: fetchFn,
  });
  const meta = discovered.serverMetadata();
  check(RP, 'keybound AS: RFC 8414 discovery (algorithm oauth2) at /.well-known/oauth-authorization-server → issuer',
    issuer, meta.issuer);
  const profile = kb(['profile', 'show', 'rfc9449']).out;
  check(KB_AS_NAME, 'metadata: dpop_signing_alg_values_supported (the facade\'s) == keybound profile show rfc9449',
    (profile.metadata?.dpop_signing_alg_values_supported ?? []).join(' '), (meta.dpop_signing_alg_values_supported ?? []).join(' '));
  check(KB_AS_NAME, 'metadata: PAR required / PKCE / iss parameter / client authentication',
    'true S256 true private_key_jwt,none',
    `${meta.require_pushed_authorization_requests} ${meta.code_challenge_methods_supported} `
      + `${meta.authorization_response_iss_parameter_supported} ${meta.token_endpoint_auth_methods_supported}`);
  const jwksRes = await fetchFn(meta.jwks_uri, { headers: { accept: 'application/json' } });
  const jwksFile = writeWork('keybound-as-jwks.json', await jwksRes.text());
  const keys = JSON.parse(readFileSync(jwksFile, 'utf8')).keys ?? [];
  check(KB_AS_NAME, 'jwks_uri: one ES256 signing key, kid == keybound jwk thumbprint of it', '1 EC P-256 ES256 sig true',
    `${keys.length} ${keys[0]?.kty} ${keys[0]?.crv} ${keys[0]?.alg} ${keys[0]?.use} ${keys[0]?.kid === kbThumbprint(keys[0] ?? {})}`);
  return {
    ...d,
    asName: KB_AS_NAME,
    label: 'keybound AS: ',
    issuer,
    serverMetadata: meta,
    token_endpoint: meta.token_endpoint,
    pushed_authorization_request_endpoint: meta.pushed_authorization_request_endpoint,
    authorization_endpoint: meta.authorization_endpoint,
    jwks_uri: meta.jwks_uri,
    jwks_file: jwksFile,
    fetchedJwks: jwksFile,
  };
}

/** `STATUS error: error_description` of an answer, Unix times replaced by N. */
const described = (entry) => `${outcome(entry)}: ${String(jsonBody(entry).error_description ?? '').replace(/\d{6,}/g, 'N')}`;

/** A raw form POST (any body text, e.g. with a parameter twice) to the token endpoint. */
async function postToken(dk, fetchFn, body, proof) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  if (proof) headers.dpop = proof;
  await fetchFn(dk.token_endpoint, { method: 'POST', headers, body });
  return fetchFn.log.at(-1);
}

/**
 * keybound's own proofs and hand-made client assertions at the keybound AS's token endpoint:
 * the nonce, the replay check, a missing proof, and private_key_jwt verified for real
 * (signature, `aud`, `exp`, single-use `jti`), strict form parsing.
 */
async function keyboundAsRawRequests(dk) {
  const name = 'keybound AS token endpoint';
  const fetchFn = recordingFetch({ ca: dk.ca });
  const keyFile = writeWork('kb-as-dpop-key.json', JSON.stringify(kb(['jwk', 'generate', '--alg', 'ES256']).out));
  const jkt = kb(['jwk', 'thumbprint', keyFile]).out;
  let nonce;
  const sign = (more = []) => kb(['dpop', 'sign', '--key', keyFile, '--htm', 'POST', '--htu', dk.token_endpoint,
    ...(nonce ? ['--nonce', nonce] : []), ...more]).out;
  // Every answer may carry a fresh nonce (use_dpop_nonce, and every success).
  const send = async (proof, extra) => {
    const e = await rawTokenRequest(dk, fetchFn, proof, extra);
    nonce = e.headers['dpop-nonce'] ?? nonce;
    return e;
  };
  let e = await send(sign());
  check(KB_AS_NAME, `${name}: keybound dpop sign, no nonce`, '400 use_dpop_nonce', outcome(e));
  check(KB_AS_NAME, `${name}: the use_dpop_nonce answer's DPoP-Nonce is NQCHARs`, 'true',
    /^[\x21\x23-\x5B\x5D-\x7E]+$/.test(e.headers['dpop-nonce'] ?? ''));
  const proof = sign();
  e = await send(proof);
  check(KB_AS_NAME, `${name}: keybound dpop sign with the AS nonce`, '200 DPoP', `${outcome(e)} ${jsonBody(e).token_type}`);
  check(KB_AS_NAME, `${name}: the token's cnf.jkt == keybound jwk thumbprint`, jkt,
    tokenVerify(dk, jsonBody(e).access_token ?? '').cnf?.jkt);
  e = await send(proof);
  check(KB_AS_NAME, `${name}: the same proof again (a new client assertion)`, '400 invalid_dpop_proof: jti already used',
    described(e));
  e = await send(undefined);
  check(KB_AS_NAME, `${name}: no DPoP proof (dpop_bound_access_tokens client)`, '400 invalid_dpop_proof: no DPoP header',
    described(e));
  const now = Math.floor(Date.now() / 1000);
  e = await send(sign(['--iat', String(now - 3600)]));
  check(KB_AS_NAME, `${name}: the AS nonce but iat an hour old (oidc-provider: 200)`,
    '400 invalid_dpop_proof: iat N is older than 300 s at N', described(e));
  e = await send(kb(['dpop', 'sign', '--key', keyFile, '--htm', 'POST', '--htu', dk.pushed_authorization_request_endpoint,
    '--nonce', nonce]).out);
  check(KB_AS_NAME, `${name}: a proof for the PAR endpoint`, '400 invalid_dpop_proof: htu does not match the request URI',
    described(e));

  // private_key_jwt (RFC 7523 §3), each with a fresh valid proof.
  const assertion = await clientAssertion(dk);
  e = await send(sign(), { client_assertion: assertion });
  check(KB_AS_NAME, `${name}: private_key_jwt, a fresh assertion`, '200', outcome(e));
  e = await send(sign(), { client_assertion: assertion });
  check(KB_AS_NAME, `${name}: private_key_jwt, the same assertion again (jti single use)`,
    '400 invalid_client: client assertion `jti`: already used (RFC 7523 §3)', described(e));
  const other = await jose.generateKeyPair('ES256');
  const bad = (detail) => `400 invalid_client: client assertion ${detail}`;
  const variants = [
    ['aud = the token endpoint (RFC 7523 §3)', { aud: dk.token_endpoint }, '200'],
    ['aud = [issuer] (an array)', { aud: [dk.issuer] }, bad('`aud`: must be one string')],
    ['aud = another server', { aud: 'https://elsewhere.keybound.test' }, bad('`aud`: not this authorization server')],
    ['exp two minutes ago', { exp: now - 120 }, bad('`exp`: expired (N ≤ N)')],
    ['exp an hour ahead', { exp: now + 3600 }, bad('`exp`: more than 300 s ahead: its jti would be remembered too long')],
    ["signed by another key with the client's kid", { key: other.privateKey }, bad('`signature`: signature does not verify')],
  ];
  for (const [label, opts, expected] of variants) {
    e = await send(sign(), { client_assertion: await clientAssertion(dk, opts) });
    check(KB_AS_NAME, `${name}: private_key_jwt, ${label}`, expected, e.status === 200 ? outcome(e) : described(e));
  }

  // Strict form parsing (RFC 6749 §3.1): a parameter twice.
  const body = new URLSearchParams({
    grant_type: 'client_credentials', scope: 'api:read', client_id: 'kb-dpop',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: await clientAssertion(dk),
  }).toString();
  e = await postToken(dk, fetchFn, `${body}&scope=api%3Aread`, sign());
  check(KB_AS_NAME, `${name}: scope twice in the body`,
    '400 invalid_request: parameter `scope` included more than once (RFC 6749 §3.1)', described(e));
  e = await postToken(dk, fetchFn, `${body}&resource=${encodeURIComponent('https://elsewhere.keybound.test/api')}`, sign());
  check(KB_AS_NAME, `${name}: a resource it does not serve (RFC 8707)`, '400 invalid_target', outcome(e));
}

/** `200`, or `STATUS error: error_description` of openid-client's refusal. */
async function grantOutcome(fn) {
  try {
    await fn();
    return '200';
  } catch (e) {
    return `${e.status} ${e.error}: ${e.error_description}`;
  }
}

const KEY_BINDING = '400 invalid_dpop_proof: proof key thumbprint differs from the bound jkt';

async function keyboundAsAuthorizationCode(dk) {
  const name = 'keybound AS: authorization_code + PAR + DPoP (private_key_jwt)';
  const { config, log, fetchFn } = await configure(dk, 'dpop');
  const key = await dpopKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, key.pair);
  const scope = 'api:read';
  const { callback, checks } = await authorize(dk, config, fetchFn, 'dpop', { DPoP, scope });
  const par = log.filter((e) => e.url === dk.pushed_authorization_request_endpoint);
  check(RP, `${name}: PAR exchanges (DPoP header, nonce required)`, '400 use_dpop_nonce, 201', par.map(outcome).join(', '));
  check(RP, `${name}: last PAR proof → keybound dpop verify (AS nonce, key)`, 'valid',
    proofVerdict(par.at(-1)?.request.headers.dpop, {
      htm: 'POST', htu: dk.pushed_authorization_request_endpoint, nonce: par[0]?.headers['dpop-nonce'], jkt: key.jkt,
    }));
  check(KB_AS_NAME, `${name}: authorization response carries code, state and iss (RFC 9207)`, `true true ${dk.issuer}`,
    `${callback.searchParams.has('code')} ${callback.searchParams.get('state') === checks.expectedState} ${callback.searchParams.get('iss')}`);
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  check(RP, `${name}: token exchanges (the nonce of PAR's answer reused)`, '200', tokenCalls(log, dk).map(outcome).join(', '));
  const v = tokenVerify(dk, tokens.access_token);
  check(KB_AS_NAME, `${name}: keybound token verify`, 'true', v.valid ?? v);
  check(KB_AS_NAME, `${name}: access token sub / client_id / scope / cnf.jkt`, `${dk.test_user} kb-dpop ${scope} ${key.jkt}`,
    `${v.claims?.sub} ${v.claims?.client_id} ${v.claims?.scope} ${v.cnf?.jkt}`);
  check(RP, `${name}: token_type (lower-cased by openid-client), refresh token issued`, 'dpop true',
    `${tokens.token_type} ${typeof tokens.refresh_token === 'string'}`);
  const thief = await dpopKeyPair('ES256');
  const thiefDPoP = () => client.getDPoPHandle(config, thief.pair);

  // A code bound to the PAR proof's key, exchanged with another key first.
  const second = await authorize(dk, config, fetchFn, 'dpop', { DPoP, scope });
  let before = log.length;
  await grantOutcome(() => client.authorizationCodeGrant(config, second.callback, second.checks, undefined, { DPoP: thiefDPoP() }));
  check(KB_AS_NAME, `${name}: the code exchanged with another DPoP key (openid-client's nonce retry, then refused)`,
    `400 use_dpop_nonce: server nonce required, ${KEY_BINDING}`, tokenCalls(log.slice(before), dk).map(described).join(', '));
  check(KB_AS_NAME, `${name}: the same code afterwards with the PAR key (refused before it was consumed; oidc-provider: consumed)`,
    '200', await grantOutcome(() => client.authorizationCodeGrant(config, second.callback, second.checks, undefined, { DPoP })));

  // dpop_jkt at PAR without a DPoP header (RFC 9449 §10).
  const name2 = 'keybound AS: authorization_code + PAR with dpop_jkt';
  before = log.length;
  const byJkt = await authorize(dk, config, fetchFn, 'dpop', { dpopJkt: key.jkt, scope });
  check(RP, `${name2}: PAR exchanges (no proof, so no nonce)`, '201',
    log.slice(before).filter((e) => e.url === dk.pushed_authorization_request_endpoint).map(outcome).join(', '));
  check(KB_AS_NAME, `${name2}: token request with another DPoP key`, KEY_BINDING,
    await grantOutcome(() => client.authorizationCodeGrant(config, byJkt.callback, byJkt.checks, undefined, { DPoP: thiefDPoP() })));
  const t2 = await client.authorizationCodeGrant(config, byJkt.callback, byJkt.checks, undefined, { DPoP });
  check(KB_AS_NAME, `${name2}: the same code with the dpop_jkt key → cnf.jkt`, key.jkt, tokenVerify(dk, t2.access_token).cnf?.jkt);
  check(KB_AS_NAME, `${name2}: the code a second time (single use)`,
    '400 invalid_grant: authorization code unknown, used or expired',
    await grantOutcome(() => client.authorizationCodeGrant(config, byJkt.callback, byJkt.checks, undefined, { DPoP })));
  let parGot;
  try {
    await authorize(dk, config, fetchFn, 'dpop', { DPoP, dpopJkt: thief.jkt, scope });
    parGot = 'accepted';
  } catch (e) {
    parGot = `${e.status} ${e.error}: ${e.error_description}`;
  }
  check(KB_AS_NAME, `${name2}: PAR with a DPoP header and the dpop_jkt of another key (RFC 9449 §10.1)`,
    KEY_BINDING, parGot);
  const all = log.filter((e) => e.request.headers.dpop).map((e) => jwtParts(e.request.headers.dpop).payload.jti);
  check(RP, `${name}: all proof jtis distinct`, `${all.length}`, `${new Set(all).size}`);
  return { config, key, DPoP, tokens };
}

/** A refresh with `pair` (or no proof): `200` or `STATUS error`, and the tokens. */
async function kbRefresh(config, rt, pair) {
  try {
    const t = await client.refreshTokenGrant(config, rt, undefined, pair ? { DPoP: client.getDPoPHandle(config, pair) } : {});
    return { got: '200', tokens: t };
  } catch (e) {
    return { got: `${e.status} ${e.error}: ${e.error_description}` };
  }
}

async function keyboundAsRefresh(dk, confidential) {
  const name = 'keybound AS: refresh_token, public client (RFC 9449 §5)';
  const { config, log, fetchFn } = await configure(dk, 'public');
  const key = await dpopKeyPair('ES256');
  const DPoP = client.getDPoPHandle(config, key.pair);
  const { callback, checks } = await authorize(dk, config, fetchFn, 'public', { DPoP, scope: 'api:read' });
  const tokens = await client.authorizationCodeGrant(config, callback, checks, undefined, { DPoP });
  check(KB_AS_NAME, `${name}: code exchange (client authentication none) → cnf.jkt, refresh token`, `${key.jkt} true`,
    `${tokenVerify(dk, tokens.access_token).cnf?.jkt} ${typeof tokens.refresh_token === 'string'}`);
  const rt = tokens.refresh_token;
  const other = await dpopKeyPair('ES256');
  let r = await kbRefresh(config, rt, other.pair);
  check(KB_AS_NAME, `${name}: another DPoP key`, KEY_BINDING, r.got);
  r = await kbRefresh(config, rt, undefined);
  check(KB_AS_NAME, `${name}: no DPoP proof`, '400 invalid_dpop_proof: no DPoP header', r.got);
  const start = log.length;
  const same = await client.refreshTokenGrant(config, rt, undefined, { DPoP });
  check(KB_AS_NAME, `${name}: the same key (its handle has the AS nonce)`, '200', tokenCalls(log.slice(start), dk).map(outcome).join(', '));
  const v = tokenVerify(dk, same.access_token);
  check(KB_AS_NAME, `${name}: the new access token's cnf.jkt / sub / client_id`, `${key.jkt} ${dk.test_user} kb-public`,
    `${v.cnf?.jkt} ${v.claims?.sub} ${v.claims?.client_id}`);
  if (confidential) {
    const name2 = 'keybound AS: refresh_token, confidential client (RFC 9449 §5: not bound by default)';
    r = await kbRefresh(confidential.config, confidential.tokens.refresh_token, other.pair);
    check(KB_AS_NAME, `${name2}: another DPoP key`, '200', r.got);
    check(KB_AS_NAME, `${name2}: the new access token is bound to the new key`, other.jkt,
      tokenVerify(dk, r.tokens?.access_token ?? '').cnf?.jkt);
  }
  return { config, log, key, DPoP, tokens: same };
}

/**
 * The keybound AS's tokens at oauth4webapi's resource-server validation: the token and the
 * proof openid-client sent to keybound-interop-rs, validated against the AS's metadata and
 * JWKS (fetched by oauth4webapi from jwks_uri); forged and stolen variants refused.
 */
async function oauth4webapiValidation(dk, rs, cc) {
  const token = cc.tokens.access_token;
  const accepted = cc.log.filter((e) => e.url === rs.url && e.status === 200).at(-1);
  const options = { [oauth.customFetch]: recordingFetch({ ca: dk.ca }) };
  const validate = async (headers, audience = dk.rs.resource) => {
    try {
      const claims = await oauth.validateJwtAccessToken(dk.serverMetadata, new Request(rs.url, { method: 'GET', headers }),
        audience, options);
      return `accepted ${claims.sub} ${claims.cnf?.jkt}`;
    } catch (e) {
      return `refused: ${e.message}`;
    }
  };
  check(O4W, 'keybound AS token + the proof openid-client sent to keybound-interop-rs',
    `accepted kb-dpop ${cc.key.jkt}`, await validate({ authorization: `DPoP ${token}`, dpop: accepted?.request.headers.dpop }));
  const clientKey = await privateJwkFile(cc.key.pair);
  const thiefKey = writeWork('o4w-thief.json', JSON.stringify(kb(['jwk', 'generate', '--alg', 'ES256']).out));
  const sign = (key, at) => kb(['dpop', 'sign', '--key', key, '--htm', 'GET', '--htu', rs.url, '--access-token', at]).out;
  check(O4W, 'the same token with a keybound-signed proof of the client key', `accepted kb-dpop ${cc.key.jkt}`,
    await validate({ authorization: `DPoP ${token}`, dpop: sign(clientKey, token) }));
  const [h, p, sig] = token.split('.');
  const i = sig.length >> 1;
  const forged = `${h}.${p}.${sig.slice(0, i)}${sig[i] === 'A' ? 'B' : 'A'}${sig.slice(i + 1)}`;
  check(O4W, 'one signature character of the token changed (proof for it, client key)',
    'refused: JWT signature verification failed', await validate({ authorization: `DPoP ${forged}`, dpop: sign(clientKey, forged) }));
  check(O4W, "the token with a thief's proof (ath right)", 'refused: JWT Access Token confirmation mismatch',
    await validate({ authorization: `DPoP ${token}`, dpop: sign(thiefKey, token) }));
  check(O4W, 'the token as Bearer without a proof',
    'refused: operation indicated DPoP use but the request has no DPoP HTTP Header', await validate({ authorization: `Bearer ${token}` }));
  check(O4W, 'another expected audience', 'refused: unexpected JWT "aud" (audience) claim value',
    await validate({ authorization: `DPoP ${token}`, dpop: sign(clientKey, token) }, 'https://other.keybound.test'));
}

/** Flow E: openid-client → keybound-interop-as; its tokens at keybound's RS and oauth4webapi. */
async function keyboundAsFlows(d) {
  const dk = await keyboundAsDeployment(d);
  let cc;
  for (const alg of ['ES256', 'PS256', 'Ed25519']) {
    await flow(RP, `keybound AS client_credentials ${alg}`, async () => {
      const r = await clientCredentialsDpop(dk, alg, { indicator: dk.rs.resource, token_alg: 'ES256' });
      if (alg === 'ES256') cc = r;
    });
  }
  await flow(KB_AS_NAME, 'keybound AS raw token requests', () => keyboundAsRawRequests(dk));
  let code;
  await flow(RP, 'keybound AS authorization_code', async () => { code = await keyboundAsAuthorizationCode(dk); });
  let pub;
  await flow(RP, 'keybound AS refresh_token', async () => { pub = await keyboundAsRefresh(dk, code); });
  await flow(KB_AS_NAME, 'keybound AS tokens at keybound-interop-rs and oauth4webapi', async () => {
    if (!cc) throw new Error('client_credentials ES256 at the keybound AS did not complete');
    const rs = await startInteropRs(dk, {
      name: 'keybound-interop-rs trusting keybound-interop-as', logName: 'rs-server-keybound-as.log',
    });
    await resourceServerFlows(dk, rs, cc);
    if (pub) {
      const start = pub.log.length;
      const res = await client.fetchProtectedResource(pub.config, pub.tokens.access_token, new URL(rs.url), 'GET',
        undefined, undefined, { DPoP: pub.DPoP });
      const calls = pub.log.slice(start).filter((e) => e.url === rs.url);
      check(`${RP} → ${rs.name}`, "keybound AS: the public client's refreshed token, fetchProtectedResource",
        `401 use_dpop_nonce, 200 / 200 dpop ${dk.test_user}`,
        `${calls.map(rsOutcome).join(', ')} / ${res.status} ${rsBinding(calls.at(-1))} ${rsSubject(calls.at(-1))}`);
    }
    await oauth4webapiValidation(dk, rs, cc);
  });
}

// --- main ----------------------------------------------------------------------------------

// --- A. keybound's own client at oidc-provider, its token at keybound resource servers ---

/** `keybound-interop-client DEPLOYMENT MODE DIR` → its JSON answer. */
function keyboundClient(d, mode) {
  const r = run(RS_CLIENT, [d.file, mode, WORK], { allowFail: true });
  if (r.status !== 0) throw new Error(`keybound-interop-client ${mode}: ${r.stderr}`);
  return JSON.parse(r.stdout.toString());
}

/** `keybound fetch ARGS -i URL`: the status line's code, or `exit N` when nothing came. */
function kbFetch(d, url, args) {
  const r = run(KEYBOUND, ['fetch', '--cacert', d.ca, '-i', ...args, url], { allowFail: true });
  const status = /^HTTP\/[\d.]+ (\d{3})/.exec(r.stdout.toString())?.[1];
  return status ?? `exit ${r.status}: ${r.stderr.toString().trim()}`;
}

async function keyboundClientFlows(d, targets) {
  const name = 'keybound-client client_credentials + private_key_jwt + DPoP';
  const t = keyboundClient(d, 'dpop');
  check(KB_CLIENT, `${name}: token_type (compared case-insensitively)`, 'dpop', String(t.token_type).toLowerCase());
  check(KB_CLIENT, `${name}: no nonce before, the AS nonce learned (its one use_dpop_nonce retry)`,
    'null true', `${t.nonce_before} ${typeof t.nonce_learned === 'string' && t.nonce_learned.length > 0}`);
  const v = tokenVerify(d, t.access_token);
  check(OP, `${name}: keybound token verify`, 'true', v.valid ?? v);
  const jkt = kbThumbprint(t.dpop_public_jwk);
  check(OP, `${name}: cnf.jkt == keybound jwk thumbprint of the client's DPoP key == the client's bound key`,
    `${jkt} ${jkt}`, `${v.cnf?.jkt} ${t.bound_jkt}`);
  const thief = writeWork('thief-key.json', JSON.stringify(kb(['jwk', 'generate', '--alg', 'ES256']).out));
  for (const rs of targets) {
    check(rs.name, `${name}: keybound fetch with the client's key (nonce retry) → 200`, '200',
      kbFetch(d, rs.url, ['--key', t.dpop_key_file, '--access-token', t.access_token]));
    check(rs.name, `${name}: the token stolen and sent as Bearer → 401`, '401',
      kbFetch(d, rs.url, ['--access-token', t.access_token]));
    check(rs.name, `${name}: the token with a thief's DPoP key → 401`, '401',
      kbFetch(d, rs.url, ['--key', thief, '--access-token', t.access_token]));
  }

  const mname = 'keybound-client client_credentials + tls_client_auth';
  const m = keyboundClient(d, 'mtls');
  const x5t = kb(['cert', 'thumbprint', d.clients.mtls.cert]).out;
  const mv = tokenVerify(d, m.access_token);
  check(OP, `${mname}: cnf."x5t#S256" == keybound cert thumbprint == the client's x5t#S256`,
    `${x5t} ${x5t}`, `${mv.cnf?.['x5t#S256']} ${m.x5t_s256}`);
  check(KB_CLIENT, `${mname}: token_type (no proof sent)`, 'bearer', String(m.token_type).toLowerCase());
  for (const rs of targets) {
    check(rs.name, `${mname}: keybound fetch with the client certificate → 200`, '200',
      kbFetch(d, rs.url, ['--cert', d.clients.mtls.cert, '--cert-key', d.clients.mtls.cert_key,
        '--access-token', m.access_token]));
    check(rs.name, `${mname}: the token without the certificate → 401`, '401',
      kbFetch(d, rs.url, ['--access-token', m.access_token]));
  }
}

async function main() {
  const started = Date.now();
  let behindNginx;
  const d = await startDeployment({
    work: WORK,
    // Resource servers behind nginx. Issue 17's `keybound serve` is the `gate` here:
    // start it from `dep` (see the header) and return { backend, gate }.
    rsUpstreams: async (dep) => {
      behindNginx = await startInteropRs(dep, { behindNginx: true });
      // Issue 17 flow B: `keybound serve` as nginx's auth_request gate for /api/ (the
      // harness generates that location: original method and URI, Authorization, DPoP and
      // the client certificate header go to the gate; DPoP-Nonce and X-Keybound-* come back).
      const serve = startProcess(KEYBOUND, ['serve', '--listen', '127.0.0.1:0',
        '--public-origin', dep.rs.origin, '--issuer', dep.issuer,
        '--audience', dep.rs.resource, '--jwks', dep.jwks_file, '--require-nonce',
        '--trusted-proxy', '127.0.0.1/32'], join(WORK, 'keybound-serve.log'));
      const [, gate] = await readLine(serve, /^listening on (http:\/\/\S+)$/, 'keybound serve');
      return { backend: behindNginx.upstream, gate };
    },
  });
  // The RS's view of the issuer's keys: fetched from jwks_uri, as a resource server would.
  const jwksRes = await recordingFetch({ ca: d.ca })(d.jwks_uri, { headers: { accept: 'application/json' } });
  d.fetchedJwks = writeWork('jwks_uri.json', await jwksRes.text());
  const served = JSON.parse(readFileSync(d.fetchedJwks, 'utf8')).keys;
  check(OP, 'jwks_uri serves the ES256 and PS256 public keys', 'as-es256:EC,as-ps256:RSA',
    served.map((k) => `${k.kid}:${k.kty}`).sort().join(','));
  // The RS behind nginx started from the provider's file (jwks_uri was not up yet).
  const byKid = (keys) => JSON.stringify(keys.map(({ kid, kty, crv, x, y, n, e }) => ({ kid, kty, crv, x, y, n, e }))
    .sort((a, b) => a.kid.localeCompare(b.kid)));
  check(OP, "jwks_uri's keys == the provider's JWKS file", 'true',
    byKid(served) === byKid(JSON.parse(readFileSync(d.jwks_file, 'utf8')).keys));

  let first;
  let ps256;
  await flow(RP, 'client_credentials ES256', async () => {
    first = await clientCredentialsDpop(d, 'ES256', d.resources[0]);
  });
  await flow(RP, 'client_credentials PS256', async () => {
    ps256 = await clientCredentialsDpop(d, 'PS256', d.resources[1]);
  });
  await flow(RP, 'client_credentials Ed25519', () => clientCredentialsDpop(d, 'Ed25519', d.resources[0]));
  await flow(OP, 'keybound proofs at oidc-provider', () => keyboundProofsAtOp(d));
  await flow(OP, 'htu comparison', () => htuComparison(d));
  let mtlsFlow;
  await flow(OP, 'mTLS', async () => { mtlsFlow = await mtls(d); });
  let code;
  await flow(RP, 'authorization_code', async () => { code = await authorizationCode(d); });
  await flow(OP, 'refresh_token', () => refreshTokens(d, code));

  // Resource servers under test: keybound-interop-rs directly (HTTPS) and behind nginx.
  // Issue 17's `keybound serve` joins as { name, url: d.rs.gate_url } (see the header).
  const targets = [await startInteropRs(d), behindNginx, {
    name: 'nginx auth_request → keybound serve', url: d.rs.gate_url, viaNginx: true, reasons: false,
  }];
  await flow(KB_CLIENT, 'keybound client', () => keyboundClientFlows(d, targets));
  for (const rs of targets) {
    await flow(rs.name, `resource server ${rs.name}`, async () => {
      if (!first) throw new Error('flow 1 (client_credentials ES256) did not complete');
      await resourceServerFlows(d, rs, first, mtlsFlow, ps256);
    });
  }
  // E. openid-client → keybound's authorization server; its tokens at keybound's RS and
  // at oauth4webapi's resource-server validation.
  const asStarted = Date.now();
  await flow(KB_AS_NAME, 'keybound AS', () => keyboundAsFlows(d));
  console.error(`check_oidc: flow 8 (keybound AS) ${((Date.now() - asStarted) / 1000).toFixed(1)} s`);
  console.error(`check_oidc: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

try {
  await main();
} catch (e) {
  check('check_oidc', 'deployment starts', 'started', `${e.name}: ${e.message}`);
} finally {
  stopAll();
}
