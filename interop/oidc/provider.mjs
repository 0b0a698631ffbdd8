// An oidc-provider (npm, panva; FAPI 2.0 certified) authorization server configured like a
// FAPI 2.0 deployment that exercises keybound: DPoP with server nonces required (RFC 9449),
// certificate-bound tokens and tls_client_auth (RFC 8705) with the client certificate taken
// from nginx, RFC 9068 JWT access tokens for resource indicators (RFC 8707), client
// credentials, PAR (RFC 9126, required) and an authorization endpoint whose login and
// consent are approved by program for one test user (no browser).
//
//   node oidc/provider.mjs --work DIR --issuer URL --resource URL [--resource URL]...
//       --mtls-subject DN [--listen-port N] [--max-seconds S]
//
// It plays oidc-provider behind TLS: it listens on plain HTTP on 127.0.0.1 and is meant to be
// reached only through nginx (see harness.mjs), which terminates TLS, asks for a client
// certificate (`ssl_verify_client optional_no_ca`) and forwards it as
// `X-SSL-Client-Escaped-Cert: $ssl_client_escaped_cert` with its own verdict in
// `X-SSL-Client-Verify: $ssl_client_verify`. `--issuer` is nginx's public origin.
//
// At start it generates every key (the AS's ES256 and RSA signing keys, the private_key_jwt
// key of the confidential client, a DPoP key per client for callers that want one) and
// writes DIR/deployment.json (issuer, endpoints, client ids, the paths of every private JWK,
// the AS's public JWKS) so that the Rust side and the checks can read it. Its first line on
// stdout is `listening http://127.0.0.1:PORT`, its second `issuer ISSUER jwks DIR/as-jwks.json`.
// It exits when its stdin closes (the parent's lifeline) and after --max-seconds (300).

import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as jose from 'jose';
import Provider, { errors } from 'oidc-provider';

// --- arguments ---------------------------------------------------------------------------

function parseArgs(argv) {
  const out = { resources: [], listenPort: 0, maxSeconds: 300 };
  for (let i = 0; i < argv.length; i += 1) {
    const value = () => {
      const v = argv[(i += 1)];
      if (v === undefined) throw new Error(`${argv[i - 1]} needs a value`);
      return v;
    };
    switch (argv[i]) {
      case '--work': out.work = value(); break;
      case '--issuer': out.issuer = value(); break;
      case '--resource': out.resources.push(value()); break;
      case '--mtls-subject': out.mtlsSubject = value(); break;
      case '--listen-port': out.listenPort = Number(value()); break;
      case '--max-seconds': out.maxSeconds = Number(value()); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!out.work || !out.issuer || out.resources.length === 0 || !out.mtlsSubject) {
    throw new Error('usage: provider.mjs --work DIR --issuer URL --resource URL... --mtls-subject DN');
  }
  return out;
}

const args = parseArgs(process.argv.slice(2));
const WORK = args.work;
const ISSUER = args.issuer.replace(/\/$/, '');
// The first resource gets ES256 tokens, the others PS256 (keybound's JWKS handling sees
// both key types and both algorithms from one issuer).
const RESOURCES = args.resources;
const RESOURCE_SCOPE = 'api:read';
const REDIRECT_URI = 'https://client.keybound.test/cb';
const TEST_USER = 'alice';

// --- keys --------------------------------------------------------------------------------

const keysDir = join(WORK, 'keys');
mkdirSync(keysDir, { recursive: true });

async function privateJwk(alg, kid, extra = {}) {
  const { privateKey } = await jose.generateKeyPair(alg, { extractable: true, ...extra });
  return { ...(await jose.exportJWK(privateKey)), kid, alg };
}

const publicOf = (jwk) => {
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return pub;
};

function saveJwk(name, jwk) {
  const file = join(keysDir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(jwk)}\n`, { mode: 0o600 });
  return file;
}

// The AS's signing keys: ES256 for tokens of the first resource and for ID tokens, PS256
// (RSA 2048) for the others.
const asEc = await privateJwk('ES256', 'as-es256');
const asRsa = await privateJwk('PS256', 'as-ps256', { modulusLength: 2048 });
const asJwks = { keys: [publicOf(asEc), publicOf(asRsa)].map((k) => ({ ...k, use: 'sig' })) };
const asJwksFile = join(WORK, 'as-jwks.json');
writeFileSync(asJwksFile, `${JSON.stringify(asJwks)}\n`);

// private_key_jwt key of the confidential client (registered public part below).
const clientAuthKey = await privateJwk('ES256', 'kb-dpop-auth');
// A DPoP key per client, for callers (the Rust client) that do not bring their own; the
// checks written in Node make theirs at run time.
const dpopKeys = {
  dpop: await privateJwk('ES256', undefined),
  public: await privateJwk('ES256', undefined),
};
for (const k of Object.values(dpopKeys)) delete k.kid;

// --- clients -----------------------------------------------------------------------------

const CLIENTS = {
  // Confidential, private_key_jwt, DPoP-bound tokens required (FAPI 2.0 "baseline" shape).
  dpop: {
    client_id: 'kb-dpop',
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [publicOf(clientAuthKey)] },
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    dpop_bound_access_tokens: true,
  },
  // Confidential, tls_client_auth (PKI method, subject DN), certificate-bound tokens.
  mtls: {
    client_id: 'kb-mtls',
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: args.mtlsSubject,
    tls_client_certificate_bound_access_tokens: true,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
  },
  // Public (no client authentication), DPoP-bound tokens; its refresh tokens are bound to
  // the DPoP key (RFC 9449 §5).
  public: {
    client_id: 'kb-public',
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    dpop_bound_access_tokens: true,
  },
};

// --- mTLS: the certificate forwarded by nginx ---------------------------------------------

// Believed because nothing but nginx can reach this listener (127.0.0.1, and nginx
// overwrites the header on every request: `proxy_set_header` with an empty
// $ssl_client_escaped_cert removes it).
function forwardedCertificate(ctx) {
  const escaped = ctx.get('x-ssl-client-escaped-cert');
  if (!escaped) return undefined;
  try {
    return new X509Certificate(decodeURIComponent(escaped));
  } catch {
    return undefined;
  }
}

// RFC 4514 string of the subject: Node lists RDNs in certificate order, one per line;
// RFC 4514 writes them last first. Enough for the test certificates (no multi-valued RDNs,
// no characters that need escaping).
function subjectDn(cert) {
  return cert.subject.split('\n').reverse().join(',');
}

const mTLS = {
  enabled: true,
  certificateBoundAccessTokens: true,
  tlsClientAuth: true,
  selfSignedTlsClientAuth: false,
  getCertificate: forwardedCertificate,
  // The chain was checked by nginx against the client CA (`ssl_client_certificate`);
  // `optional_no_ca` lets the handshake through either way and reports the verdict.
  certificateAuthorized: (ctx) => ctx.get('x-ssl-client-verify') === 'SUCCESS',
  certificateSubjectMatches(ctx, property, expected) {
    const cert = forwardedCertificate(ctx);
    if (!cert) return false;
    switch (property) {
      case 'tls_client_auth_subject_dn':
        return subjectDn(cert) === expected;
      default:
        return false;
    }
  },
};

// --- resource indicators: RFC 9068 JWT access tokens -------------------------------------

async function getResourceServerInfo(ctx, resourceIndicator) {
  const index = RESOURCES.indexOf(resourceIndicator);
  if (index === -1) throw new errors.InvalidTarget();
  return {
    scope: RESOURCE_SCOPE,
    audience: resourceIndicator,
    accessTokenTTL: 300,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: index === 0 ? 'ES256' : 'PS256' } },
  };
}

// --- the provider ------------------------------------------------------------------------

const configuration = {
  clients: Object.values(CLIENTS),
  // Every client's ID tokens in ES256 (oidc-provider's default RS256 is not enabled here).
  clientDefaults: {
    grant_types: ['authorization_code'],
    id_token_signed_response_alg: 'ES256',
    response_types: ['code'],
    token_endpoint_auth_method: 'private_key_jwt',
  },
  jwks: { keys: [asEc, asRsa] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  findAccount: async (ctx, sub) => ({
    accountId: sub,
    claims: async () => ({ sub }),
  }),
  scopes: ['openid', 'offline_access'],
  // FAPI 2.0 Security Profile §5.3.1.2: the authorization code flow only.
  responseTypes: ['code'],
  clientAuthMethods: ['private_key_jwt', 'tls_client_auth', 'none'],
  enabledJWA: {
    // FAPI 2.0 Security Profile §5.4: PS256, ES256, EdDSA (Ed25519).
    clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA', 'Ed25519'],
    idTokenSigningAlgValues: ['PS256', 'ES256'],
    dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA', 'Ed25519'],
  },
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    fapi: { enabled: true, profile: '2.0' },
    dPoP: {
      enabled: true,
      nonceSecret: randomBytes(32),
      requireNonce: () => true,
    },
    mTLS,
    clientCredentials: { enabled: true },
    pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async (ctx, client, oneOf) => oneOf ?? RESOURCES[0],
      useGrantedResource: async () => true,
      getResourceServerInfo,
    },
    // Observable refresh-token behaviour needs revocation off the table: nothing else.
    revocation: { enabled: false },
    introspection: { enabled: false },
    rpInitiatedLogout: { enabled: false },
    userinfo: { enabled: false },
  },
  // A refresh token whenever the client may use the grant (oidc-provider's default also
  // wants `offline_access` with prompt=consent, which the scripted login does not need).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  // Rotation off: the same refresh token is presented several times by the checks.
  rotateRefreshToken: () => false,
  ttl: {
    AccessToken: () => 300,
    ClientCredentials: () => 300,
    AuthorizationCode: () => 60,
    IdToken: () => 300,
    RefreshToken: () => 600,
    Interaction: () => 120,
    Session: () => 600,
    Grant: () => 600,
  },
  interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);
// nginx sets X-Forwarded-Proto (https) and Host: oidc-provider then builds its URLs (and
// compares DPoP `htu`) against the public https origin, not its own http listener.
provider.proxy = true;

// The scripted login and consent: every interaction is approved for TEST_USER with exactly
// what was asked for.
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(ctx.path);
  if (!m || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  const { prompt, params, session } = details;
  let result;
  if (prompt.name === 'login') {
    result = { login: { accountId: TEST_USER } };
  } else if (prompt.name === 'consent') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unexpected prompt ${prompt.name}` };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, {
    mergeWithLastSubmission: true,
  });
  ctx.status = 303;
  ctx.redirect(returnTo);
});

// Every refusal on stderr as `provider-event {json}`, with oidc-provider's `error_detail`:
// the wire carries only a generic error_description for some errors (invalid_grant:
// "grant request is invalid"), and the checks want the reason (harness.mjs providerEvents).
provider.on('server_error', (ctx, err) => console.error(`provider: server_error ${err.stack}`));
for (const event of ['grant.error', 'pushed_authorization_request.error', 'authorization.error']) {
  provider.on(event, (ctx, err) => console.error(`provider-event ${JSON.stringify({
    event, error: err.error, description: err.error_description, detail: err.error_detail,
  })}`));
}

const server = provider.listen(args.listenPort, '127.0.0.1');
await new Promise((resolve, reject) => {
  server.once('listening', resolve);
  server.once('error', reject);
});
const port = server.address().port;

const clientsOut = {};
for (const [name, meta] of Object.entries(CLIENTS)) {
  clientsOut[name] = {
    client_id: meta.client_id,
    token_endpoint_auth_method: meta.token_endpoint_auth_method,
    grant_types: meta.grant_types,
    ...(meta.redirect_uris.length && { redirect_uri: meta.redirect_uris[0] }),
    ...(meta.dpop_bound_access_tokens && { dpop_bound_access_tokens: true }),
    ...(meta.tls_client_certificate_bound_access_tokens && {
      tls_client_certificate_bound_access_tokens: true,
      tls_client_auth_subject_dn: meta.tls_client_auth_subject_dn,
    }),
    ...(dpopKeys[name] && { dpop_key: saveJwk(`${name}-dpop`, dpopKeys[name]) }),
  };
}
clientsOut.dpop.client_auth_key = saveJwk('kb-dpop-auth', clientAuthKey);

const deployment = {
  issuer: ISSUER,
  discovery: `${ISSUER}/.well-known/openid-configuration`,
  authorization_endpoint: `${ISSUER}/auth`,
  pushed_authorization_request_endpoint: `${ISSUER}/request`,
  token_endpoint: `${ISSUER}/token`,
  jwks_uri: `${ISSUER}/jwks`,
  jwks_file: asJwksFile,
  provider: {
    listen: `http://127.0.0.1:${port}`,
    package: 'oidc-provider',
    fapi_profile: '2.0',
    dpop_nonce_required: true,
  },
  resources: RESOURCES.map((indicator, i) => ({
    indicator,
    scope: RESOURCE_SCOPE,
    token_alg: i === 0 ? 'ES256' : 'PS256',
  })),
  test_user: TEST_USER,
  clients: clientsOut,
};
writeFileSync(join(WORK, 'deployment.json'), `${JSON.stringify(deployment, null, 2)}\n`);

console.log(`listening http://127.0.0.1:${port}`);
console.log(`issuer ${ISSUER} jwks ${asJwksFile}`);

// Never outlive the parent.
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
setTimeout(() => {
  console.error('provider: --max-seconds reached, exiting');
  process.exit(3);
}, args.maxSeconds * 1000).unref();
