// Interop checks between keybound and the npm peers `dpop`, `jose` and `oauth4webapi`
// (RFC 9449 DPoP proofs, RFC 9068 JWT access tokens bound with cnf.jkt).
//
//   node check-npm.mjs KEYBOUND_BIN WORKDIR
//
// Run by `cargo xtask interop` after `npm ci`. Prints one line per check,
// `CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got`; a check passes when expected === got.
//
// 1. Fresh proofs from `dpop` (ES256, PS256, RS256, Ed25519; with and without ath and nonce)
//    and from `jose` (EdDSA) verify with the built `keybound dpop verify --batch`; tampered
//    ones are rejected with the reason the CLI contract names.
// 2. Proofs from `keybound dpop sign` (ES256, ES384, PS256, RS256, EdDSA) verify with jose's
//    compactVerify and the key embedded in their header; typ, claims and RFC 7638
//    thumbprints are compared.
// 3. oauth4webapi's resource-server validation (validateJwtAccessToken, RFC 9068 + RFC 9449)
//    accepts a DPoP-bound JWT access token (cnf.jkt from `keybound jwk thumbprint`) presented
//    with a keybound proof, and rejects the stolen-token variants. The token issuer's JWKS is
//    served from a loopback HTTP server on 127.0.0.1.

import { spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import * as dpop from 'dpop';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';

const [KEYBOUND, WORK] = process.argv.slice(2);
if (!KEYBOUND || !WORK) {
  console.error('usage: node check-npm.mjs KEYBOUND_BIN WORKDIR');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const version = (pkg) =>
  JSON.parse(readFileSync(join(here, 'node_modules', pkg, 'package.json'), 'utf8')).version;
const PEER = {
  dpop: `npm dpop ${version('dpop')}`,
  jose: `npm jose ${version('jose')}`,
  oauth: `npm oauth4webapi ${version('oauth4webapi')}`,
};

const HTU = 'https://rs.example.test/resource';
const HTM = 'GET';
const ACCESS_TOKEN = 'npm-access-token.AbC-123_x';
const NONCE = 'server-nonce_0123';
const TIMEOUT_MS = 60_000;

const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
const ath = (token) => b64u(createHash('sha256').update(token, 'ascii').digest());

function check(peer, name, expected, got) {
  const clean = (v) => String(v).replace(/[\t\n\r]/g, ' ');
  console.log(`CHECK\t${peer}\t${clean(name)}\t${clean(expected)}\t${clean(got)}`);
}

function keybound(args, input) {
  const r = spawnSync(KEYBOUND, args, { input, encoding: 'utf8', timeout: TIMEOUT_MS });
  if (r.error) throw r.error;
  return r;
}

function flipSignatureByte(proof) {
  const [h, p, s] = proof.split('.');
  const raw = Buffer.from(s, 'base64url');
  raw[raw.length >> 1] ^= 0x01;
  return `${h}.${p}.${b64u(raw)}`;
}

/// Changes one claim and keeps the original signature (what an attacker can do).
function rewriteClaim(proof, name, value) {
  const [h, p, s] = proof.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  claims[name] = value;
  return `${h}.${b64u(JSON.stringify(claims))}.${s}`;
}

// --- 1. dpop / jose sign, keybound verifies ------------------------------------------------

/// `jose` signs the `EdDSA` proofs: `dpop` 2.x names Ed25519 proofs `Ed25519`.
async function joseProof(keypair, alg, htu, htm, nonce, accessToken) {
  const jwk = await jose.exportJWK(keypair.publicKey);
  const claims = {
    iat: Math.floor(Date.now() / 1000),
    jti: randomUUID(),
    htm,
    htu,
    ...(nonce !== undefined && { nonce }),
    ...(accessToken !== undefined && { ath: ath(accessToken) }),
  };
  return new jose.SignJWT(claims)
    .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x } })
    .sign(keypair.privateKey);
}

async function proofsToKeybound() {
  const generators = [
    { alg: 'ES256', keyAlg: 'ES256', peer: PEER.dpop },
    { alg: 'PS256', keyAlg: 'PS256', peer: PEER.dpop },
    { alg: 'RS256', keyAlg: 'RS256', peer: PEER.dpop },
    { alg: 'Ed25519', keyAlg: 'Ed25519', peer: PEER.dpop },
    { alg: 'EdDSA', keyAlg: 'Ed25519', peer: PEER.jose },
  ];
  const cases = []; // { peer, name, expected, req, jkt }
  const req = (proof, extra = {}) => ({
    proof, htm: HTM, htu: HTU, now: null, access_token: null, jkt: null, nonce: null, ...extra,
  });
  for (const g of generators) {
    const keypair = await dpop.generateKeyPair(g.keyAlg, { extractable: true });
    const other = await dpop.generateKeyPair(g.keyAlg);
    const jkt = await dpop.calculateThumbprint(keypair.publicKey);
    const sign = (htu, htm, nonce, token) =>
      g.peer === PEER.dpop
        ? dpop.generateProof(keypair, htu, htm, nonce, token)
        : joseProof(keypair, g.alg, htu, htm, nonce, token);
    for (const withAth of [false, true]) {
      for (const withNonce of [false, true]) {
        const token = withAth ? ACCESS_TOKEN : undefined;
        const nonce = withNonce ? NONCE : undefined;
        const proof = await sign(HTU, HTM, nonce, token);
        const label = [withAth && 'ath+cnf.jkt', withNonce && 'nonce'].filter(Boolean).join('+');
        cases.push({
          peer: g.peer,
          name: `${g.alg} proof${label ? ` with ${label}` : ''} -> keybound`,
          expected: 'valid',
          req: req(proof, {
            access_token: token ?? null,
            jkt: withAth ? jkt : null,
            nonce: nonce ?? null,
          }),
          jkt,
        });
      }
    }
    const p = () => sign(HTU, HTM, undefined, undefined);
    const otherJkt = await dpop.calculateThumbprint(other.publicKey);
    cases.push(
      { peer: g.peer, name: `${g.alg} proof, flipped signature byte`, expected: 'signature',
        req: req(flipSignatureByte(await p())) },
      { peer: g.peer, name: `${g.alg} proof, htu claim rewritten`, expected: 'signature',
        req: req(rewriteClaim(await p(), 'htu', 'https://evil.example.test/resource')) },
      { peer: g.peer, name: `${g.alg} proof, htm claim rewritten`, expected: 'signature',
        req: req(rewriteClaim(await p(), 'htm', 'POST')) },
      { peer: g.peer, name: `${g.alg} proof sent to another URI`, expected: 'htu',
        req: req(await p(), { htu: 'https://rs.example.test/other' }) },
      { peer: g.peer, name: `${g.alg} proof sent with another method`, expected: 'htm',
        req: req(await p(), { htm: 'DELETE' }) },
      { peer: g.peer, name: `${g.alg} proof, ath of another token`, expected: 'ath',
        req: req(await sign(HTU, HTM, undefined, 'another-token'), { access_token: ACCESS_TOKEN }) },
      { peer: g.peer, name: `${g.alg} proof, wrong nonce`, expected: 'nonce',
        req: req(await sign(HTU, HTM, 'stale', undefined), { nonce: NONCE }) },
      { peer: g.peer, name: `${g.alg} proof, token bound to another key`, expected: 'key_binding',
        req: req(await sign(HTU, HTM, undefined, ACCESS_TOKEN), { access_token: ACCESS_TOKEN, jkt: otherJkt }) },
    );
  }

  const input = cases.map((c) => `${JSON.stringify(c.req)}\n`).join('');
  const out = keybound(['dpop', 'verify', '--batch'], input);
  const lines = out.stdout.split('\n').filter((l) => l.length > 0);
  if (lines.length !== cases.length) {
    check(PEER.dpop, 'keybound dpop verify --batch answers every line', cases.length,
      `${lines.length} lines, exit ${out.status}: ${out.stderr.slice(0, 200)}`);
    return;
  }
  const thumbChecked = new Set();
  cases.forEach((c, i) => {
    const answer = JSON.parse(lines[i]);
    check(c.peer, c.name, c.expected, answer.valid ? 'valid' : answer.reason);
    if (c.jkt && answer.valid && !thumbChecked.has(c.jkt)) {
      thumbChecked.add(c.jkt);
      check(c.peer, `${c.name}: keybound jkt == dpop calculateThumbprint`, c.jkt, answer.jkt);
    }
  });
}

// --- 2. keybound signs, jose verifies ------------------------------------------------------

const KEYBOUND_ALGS = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'];

/// A keybound private JWK in WORK, and its `keybound jwk thumbprint`.
function keyboundKey(name, alg) {
  const file = join(WORK, `npm-${name}-${alg}.jwk`);
  const gen = keybound(['jwk', 'generate', '--alg', alg]);
  if (gen.status !== 0) throw new Error(`keybound jwk generate --alg ${alg}: exit ${gen.status}`);
  writeFileSync(file, gen.stdout);
  const jkt = keybound(['jwk', 'thumbprint', file]).stdout.trim();
  return { file, jkt };
}

function keyboundSign(key, htm, htu, accessToken, nonce) {
  const args = ['dpop', 'sign', '--key', key.file, '--htm', htm, '--htu', htu];
  if (accessToken !== undefined) args.push('--access-token', accessToken);
  if (nonce !== undefined) args.push('--nonce', nonce);
  const r = keybound(args);
  if (r.status !== 0) throw new Error(`keybound dpop sign: exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/// RFC 9449 §4.3 signature and typ checks with jose: compactVerify with the embedded jwk.
async function joseVerify(proof, alg) {
  try {
    const { payload, protectedHeader } = await jose.compactVerify(proof, jose.EmbeddedJWK, {
      algorithms: [alg],
    });
    if (protectedHeader.typ !== 'dpop+jwt') return { verdict: `typ ${protectedHeader.typ}` };
    if ('d' in protectedHeader.jwk) return { verdict: 'private jwk in header' };
    return {
      verdict: 'valid',
      header: protectedHeader,
      claims: JSON.parse(new TextDecoder().decode(payload)),
    };
  } catch (e) {
    return { verdict: `rejected (${e.code ?? e.name})` };
  }
}

async function proofsFromKeybound() {
  for (const alg of KEYBOUND_ALGS) {
    const key = keyboundKey('jose', alg);
    for (const bound of [false, true]) {
      const token = bound ? ACCESS_TOKEN : undefined;
      const nonce = bound ? NONCE : undefined;
      const proof = keyboundSign(key, HTM, HTU, token, nonce);
      const label = bound ? ' with ath+nonce' : '';
      const { verdict, header, claims } = await joseVerify(proof, alg);
      check(PEER.jose, `keybound ${alg} proof${label} -> jose compactVerify (EmbeddedJWK, typ)`, 'valid', verdict);
      if (verdict !== 'valid') continue;
      const want = { htm: HTM, htu: HTU, ath: bound ? ath(ACCESS_TOKEN) : undefined, nonce };
      const same = Object.entries(want).every(([k, v]) => claims[k] === v);
      const fresh = Number.isInteger(claims.iat) && Math.abs(claims.iat - Date.now() / 1000) < 60;
      const jti = typeof claims.jti === 'string' && claims.jti.length >= 16;
      check(PEER.jose, `keybound ${alg} proof${label} claims (htm, htu, ath, nonce, iat, jti)`,
        'as signed', same && fresh && jti ? 'as signed' : JSON.stringify(claims));
      if (!bound) {
        check(PEER.jose, `keybound ${alg} jkt == jose calculateJwkThumbprint`, key.jkt,
          await jose.calculateJwkThumbprint(header.jwk, 'sha256'));
      }
    }
    const tampered = flipSignatureByte(keyboundSign(key, HTM, HTU));
    const { verdict } = await joseVerify(tampered, alg);
    check(PEER.jose, `keybound ${alg} proof, flipped signature byte -> jose`,
      'rejected (ERR_JWS_SIGNATURE_VERIFICATION_FAILED)', verdict);
  }
}

// --- 3. oauth4webapi resource-server validation --------------------------------------------

/// A loopback HTTP server that serves the token issuer's JWKS; closed by the caller.
async function jwksServer(jwks) {
  const server = createServer((req, res) => {
    if (req.url === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify(jwks));
    } else {
      res.writeHead(404).end();
    }
  });
  server.requestTimeout = 5000;
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', ok);
  });
  return server;
}

async function resourceServer() {
  const asKeys = await jose.generateKeyPair('ES256', { extractable: true });
  const asJwk = { ...(await jose.exportJWK(asKeys.publicKey)), kid: 'as-1', alg: 'ES256', use: 'sig' };
  const server = await jwksServer({ keys: [asJwk] });
  try {
    const origin = `http://127.0.0.1:${server.address().port}`;
    const as = { issuer: origin, jwks_uri: `${origin}/jwks` };
    const audience = 'https://rs.example.test';
    // A fresh deadline for each validation (each may fetch the JWKS).
    const options = () => ({ [oauth.allowInsecureRequests]: true, signal: AbortSignal.timeout(10_000) });

    /// An RFC 9068 access token bound to `jkt` (RFC 9449 §6.1), signed by the issuer.
    const mint = (jkt) =>
      new jose.SignJWT({ client_id: 'interop-client', scope: 'read', cnf: { jkt } })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'as-1' })
        .setIssuer(origin)
        .setAudience(audience)
        .setSubject('alice')
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(asKeys.privateKey);

    const validate = async (headers, url = HTU, method = HTM) => {
      try {
        const claims = await oauth.validateJwtAccessToken(as, new Request(url, { method, headers }), audience, options());
        return `accepted (sub ${claims.sub})`;
      } catch (e) {
        return `rejected: ${e.message}`;
      }
    };

    const thief = keyboundKey('thief', 'ES256');
    for (const alg of KEYBOUND_ALGS) {
      const client = keyboundKey('client', alg);
      const token = await mint(client.jkt);
      const proof = keyboundSign(client, HTM, HTU, token);
      check(PEER.oauth, `keybound ${alg} proof + DPoP-bound JWT access token -> validateJwtAccessToken`,
        'accepted (sub alice)', await validate({ authorization: `DPoP ${token}`, dpop: proof }));

      // The stolen-token variants, each with a fresh proof.
      const stolen = keyboundSign(thief, HTM, HTU, token);
      check(PEER.oauth, `${alg}-bound token stolen, presented with the thief's keybound proof`,
        'rejected: JWT Access Token confirmation mismatch',
        await validate({ authorization: `DPoP ${token}`, dpop: stolen }));
      if (alg !== 'ES256') continue;
      check(PEER.oauth, `${alg}-bound token stolen, presented as Bearer without a proof`,
        'rejected: operation indicated DPoP use but the request has no DPoP HTTP Header',
        await validate({ authorization: `Bearer ${token}` }));
      check(PEER.oauth, `${alg}-bound token with the client's proof for another URI`,
        'rejected: DPoP Proof htu mismatch',
        await validate({ authorization: `DPoP ${token}`, dpop: keyboundSign(client, HTM, 'https://rs.example.test/other', token) }));
      check(PEER.oauth, `${alg}-bound token with the client's proof for another token (ath)`,
        'rejected: DPoP Proof ath mismatch',
        await validate({ authorization: `DPoP ${token}`, dpop: keyboundSign(client, HTM, HTU, 'another-token') }));
      check(PEER.oauth, `${alg}-bound token with the client's proof, flipped signature byte`,
        'rejected: JWT signature verification failed',
        await validate({ authorization: `DPoP ${token}`, dpop: flipSignatureByte(keyboundSign(client, HTM, HTU, token)) }));
      // keybound's own resource-server view of the same stolen token (same inputs).
      const kb = keybound(['dpop', 'verify', '--htm', HTM, '--htu', HTU, '--access-token', token,
        '--jkt', client.jkt, keyboundSign(thief, HTM, HTU, token)]);
      check(PEER.oauth, `${alg}-bound token stolen (same inputs) -> keybound dpop verify --jkt`,
        'key_binding', JSON.parse(kb.stdout).reason ?? kb.stdout);
    }
  } finally {
    server.closeAllConnections?.();
    server.close();
  }
}

try {
  await proofsToKeybound();
  await proofsFromKeybound();
  await resourceServer();
} catch (e) {
  console.error(e?.stack ?? e);
  process.exit(1);
}
