// Generates RFC 9068 JWT access tokens with npm `jose` (panva) and writes them, with the
// issuer's JWKS and what a verifier needs, to crates/keybound-jwt/tests/data/npm/tokens.json.
//
//   cd interop && npm ci && node gen-npm-tokens.mjs
//
// Each token is `new SignJWT(claims).setProtectedHeader({ alg, typ: 'at+jwt', kid })`, checked
// here with `jose.jwtVerify` against the JWKS before it is written. A second JWKS with other
// keys under the same kids lets the Rust tests check that another issuer's keys are refused.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as jose from 'jose';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'crates', 'keybound-jwt', 'tests', 'data', 'npm');
const version = (pkg) =>
  JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;

const ISSUER = 'https://as.example.com';
const AUDIENCE = 'https://rs.example.com';
const IAT = 1_700_000_000;
const JKT = 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs';

function assert(cond, msg) {
  if (!cond) throw new Error(`check failed: ${msg}`);
}

async function keyset(algs, suffix) {
  const keys = [];
  const publics = [];
  for (const alg of algs) {
    const opts = alg === 'EdDSA' ? { crv: 'Ed25519', extractable: true } : { extractable: true };
    const pair = await jose.generateKeyPair(alg, { ...opts, modulusLength: 2048 });
    const jwk = await jose.exportJWK(pair.publicKey);
    const kid = `${alg.toLowerCase()}-${suffix}`;
    publics.push({ ...jwk, kid, use: 'sig', alg });
    keys.push({ alg, kid, privateKey: pair.privateKey });
  }
  return { keys, jwks: { keys: publics } };
}

async function main() {
  const algs = ['ES256', 'PS256', 'RS256', 'EdDSA'];
  const issuer = await keyset(algs, 'k1');
  // The other issuer publishes keys under the same kids.
  const other = await keyset(algs, 'k1');
  const localJwks = jose.createLocalJWKSet(issuer.jwks);
  const tokens = [];
  for (const { alg, kid, privateKey } of issuer.keys) {
    for (const bound of [false, true]) {
      const claims = {
        client_id: 'client-1',
        scope: 'read write',
        jti: crypto.randomUUID(),
        ...(bound && { cnf: { jkt: JKT } }),
      };
      const token = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg, typ: 'at+jwt', kid })
        .setIssuer(ISSUER)
        .setSubject('alice')
        .setAudience(AUDIENCE)
        .setIssuedAt(IAT)
        .setExpirationTime(IAT + 3600)
        .sign(privateKey);
      const { payload, protectedHeader } = await jose.jwtVerify(token, localJwks, {
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: 'at+jwt',
        currentDate: new Date((IAT + 60) * 1000),
      });
      assert(protectedHeader.kid === kid && payload.sub === 'alice', `${alg} verifies`);
      tokens.push({ alg, kid, bound, token, jti: claims.jti });
      // The same claims signed by the other issuer's key with the same kid.
      const forged = other.keys.find((k) => k.alg === alg);
      const forgedToken = await new jose.SignJWT(claims)
        .setProtectedHeader({ alg, typ: 'at+jwt', kid })
        .setIssuer(ISSUER)
        .setSubject('alice')
        .setAudience(AUDIENCE)
        .setIssuedAt(IAT)
        .setExpirationTime(IAT + 3600)
        .sign(forged.privateKey);
      tokens.push({ alg, kid, bound, token: forgedToken, jti: claims.jti, other_issuer_key: true });
    }
  }
  mkdirSync(outDir, { recursive: true });
  const out = {
    generator: `npm jose ${version('jose')} (SignJWT, typ at+jwt), node ${process.version}`,
    issuer: ISSUER,
    audience: AUDIENCE,
    iat: IAT,
    exp: IAT + 3600,
    jkt: JKT,
    jwks: issuer.jwks,
    other_jwks: other.jwks,
    tokens,
  };
  writeFileSync(join(outDir, 'tokens.json'), `${JSON.stringify(out, null, 2)}\n`);
  console.log(`wrote ${tokens.length} tokens to ${join(outDir, 'tokens.json')}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
