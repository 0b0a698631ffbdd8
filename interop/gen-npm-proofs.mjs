// Generates DPoP proofs (RFC 9449) with the npm `dpop` package (panva) and writes them,
// with what a verifier needs to check them, to
// crates/keybound-dpop/tests/data/npm/proofs.json.
//
//   cd interop && npm ci && node gen-npm-proofs.mjs
//
// Every proof is checked here before it is written: the signature verifies with `jose`
// against the embedded key, the claims are the ones asked for, and the RFC 7638 thumbprint
// from `jose`'s calculateJwkThumbprint equals the one from `dpop`'s calculateThumbprint.
//
// `dpop` 2.x names the Ed25519 algorithm `Ed25519` (the fully-specified JOSE name), not
// `EdDSA`; the `EdDSA` entries are signed by `jose` directly, with the same header layout.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as dpop from 'dpop';
import * as jose from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'crates', 'keybound-dpop', 'tests', 'data', 'npm');
const version = (pkg) =>
  JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;

// RFC 9449 §7.1 example access token and its `ath`; §8 example nonce.
const ACCESS_TOKEN = 'Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU';
const RFC_ATH = 'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo';
const NONCE = 'eyJ7S_zG.eyJH0-Z.HX4w-7v';
const TOKEN_ENDPOINT = { htm: 'POST', htu: 'https://server.example.com/token' };
const RESOURCE = { htm: 'GET', htu: 'https://resource.example.org/protectedresource' };

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const ath = (token) => b64u(createHash('sha256').update(token, 'ascii').digest());

function assert(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

/// Signs a proof with `jose` under `alg` (used for `EdDSA`, which `dpop` does not emit).
async function joseProof(keypair, alg, htu, htm, nonce, accessToken) {
  const jwk = await jose.exportJWK(keypair.publicKey);
  const claims = {
    iat: Math.floor(Date.now() / 1000),
    jti: crypto.randomUUID(),
    htm,
    htu,
    ...(nonce !== undefined && { nonce }),
    ...(accessToken !== undefined && { ath: ath(accessToken) }),
  };
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } })
    .sign(keypair.privateKey);
}

async function main() {
  assert(ath(ACCESS_TOKEN) === RFC_ATH, 'ath of the RFC 9449 example token');
  const generators = [
    { alg: 'ES256', keyAlg: 'ES256', by: 'dpop' },
    { alg: 'PS256', keyAlg: 'PS256', by: 'dpop' },
    { alg: 'RS256', keyAlg: 'RS256', by: 'dpop' },
    { alg: 'Ed25519', keyAlg: 'Ed25519', by: 'dpop' },
    { alg: 'EdDSA', keyAlg: 'Ed25519', by: 'jose' },
  ];
  const proofs = [];
  for (const g of generators) {
    const keypair = await dpop.generateKeyPair(g.keyAlg, { extractable: true });
    const publicJwk = await jose.exportJWK(keypair.publicKey);
    const jkt = await jose.calculateJwkThumbprint(publicJwk, 'sha256');
    assert(jkt === (await dpop.calculateThumbprint(keypair.publicKey)), `${g.alg} thumbprints agree`);
    for (const withAth of [false, true]) {
      for (const withNonce of [false, true]) {
        const target = withAth ? RESOURCE : TOKEN_ENDPOINT;
        const nonce = withNonce ? NONCE : undefined;
        const token = withAth ? ACCESS_TOKEN : undefined;
        const proof =
          g.by === 'dpop'
            ? await dpop.generateProof(keypair, target.htu, target.htm, nonce, token)
            : await joseProof(keypair, g.alg, target.htu, target.htm, nonce, token);

        // Independent checks before the proof is written.
        const header = jose.decodeProtectedHeader(proof);
        assert(header.alg === g.alg && header.typ === 'dpop+jwt', `${g.alg} header`);
        const key = await jose.importJWK(header.jwk, g.alg);
        const { payload } = await jose.jwtVerify(proof, key, { typ: 'dpop+jwt', algorithms: [g.alg] });
        assert(payload.htm === target.htm && payload.htu === target.htu, `${g.alg} htm/htu`);
        assert(payload.nonce === nonce, `${g.alg} nonce`);
        assert(payload.ath === (withAth ? RFC_ATH : undefined), `${g.alg} ath`);
        assert(Number.isInteger(payload.iat) && typeof payload.jti === 'string', `${g.alg} iat/jti`);
        assert((await jose.calculateJwkThumbprint(header.jwk, 'sha256')) === jkt, `${g.alg} header jwk`);

        proofs.push({
          name: `${g.alg}${withAth ? '_ath' : ''}${withNonce ? '_nonce' : ''}`,
          generator: g.by === 'dpop' ? `dpop@${version('dpop')}` : `jose@${version('jose')}`,
          alg: g.alg,
          proof,
          htm: target.htm,
          htu: target.htu,
          iat: payload.iat,
          jti: payload.jti,
          access_token: token ?? null,
          ath: withAth ? RFC_ATH : null,
          nonce: nonce ?? null,
          jwk: header.jwk,
          jkt,
        });
      }
    }
  }

  const doc = {
    description:
      'DPoP proofs (RFC 9449) from independent JavaScript implementations; regenerate with ' +
      '`cd interop && npm ci && node gen-npm-proofs.mjs`. Each proof was checked with jose ' +
      'before it was written. `now` for validation: use `iat`.',
    generated_by: {
      script: 'interop/gen-npm-proofs.mjs',
      node: process.version,
      dpop: version('dpop'),
      jose: version('jose'),
    },
    thumbprint: 'RFC 7638 SHA-256, base64url, from jose calculateJwkThumbprint(jwk, "sha256")',
    proofs,
  };
  mkdirSync(outDir, { recursive: true });
  const out = join(outDir, 'proofs.json');
  writeFileSync(out, `${JSON.stringify(doc, null, 2)}\n`);
  console.log(`wrote ${proofs.length} proofs to ${out}`);
}

await main();
