// The end-to-end deployment of `check_oidc.mjs`: openssl PKI, oidc-provider (provider.mjs)
// behind nginx TLS, and the plumbing the checks share (an HTTPS fetch that records every
// request, a scripted user agent, keybound CLI calls).
//
//   startDeployment({ work, rsUpstreams }) → the deployment (also in WORK/deployment.json)
//   node oidc/harness.mjs up WORK          → starts it, prints the deployment file's path,
//                                            runs until stdin closes (a Rust test, a person)
//
// Layout on loopback (ports picked by the OS):
//
//   client ─TLS(+client cert)─▶ nginx :AS  ─http─▶ oidc-provider (provider.mjs)
//          ─TLS(+client cert)─▶ nginx :RS  /proxy/ ─http─▶ a keybound RS (rsUpstreams.backend)
//                                          /api/   ─auth_request─▶ a forward-auth gate
//                                                  (rsUpstreams.gate: `keybound serve`),
//                                                  then a static JSON resource
//                                          /api-gate-down/ ─auth_request─▶ a closed port
//
// WORK/deployment.json holds everything a client or resource server needs: issuer and
// endpoints, the AS's JWKS (file and URI), the CA to trust, each client's id, auth method,
// private JWKs (private_key_jwt key, a spare DPoP key) and certificate/key files, the
// resource indicators and token algorithms, and the RS origin. See check_oidc.mjs for the
// hook that starts a Rust resource server.

import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const TIMEOUT_MS = 30_000;
const PROCS = [];

// --- small helpers -----------------------------------------------------------------------

export const b64u = (bytes) => Buffer.from(bytes).toString('base64url');
export const sha256b64u = (data) => b64u(createHash('sha256').update(data).digest());

/** Decodes a compact JWS's header and payload (no verification: for reporting only). */
export function jwtParts(jwt) {
  const [h, p] = String(jwt).split('.');
  const dec = (s) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));
  return { header: dec(h), payload: dec(p) };
}

export function run(cmd, args, { input, allowFail = false } = {}) {
  const r = spawnSync(cmd, args, { input, timeout: TIMEOUT_MS, maxBuffer: 16 << 20 });
  if (r.error) throw r.error;
  if (!allowFail && r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return r;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function waitPort(port, proc, what) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    const ok = await new Promise((resolve) => {
      const c = createConnection({ host: '127.0.0.1', port }, () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} is not listening on 127.0.0.1:${port} after 10 s`);
}

/** Starts a long-running child whose stdin is our lifeline; remembers it for stopAll. */
export function startProcess(cmd, args, logFile) {
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  PROCS.push(proc);
  const log = [];
  proc.stderr.on('data', (d) => log.push(d));
  proc.on('exit', () => {
    if (logFile) writeFileSync(logFile, Buffer.concat(log));
  });
  proc.stderrText = () => Buffer.concat(log).toString('utf8');
  return proc;
}

/** Resolves with the first stdout line of `proc` matching `re` (10 s at most). */
export function readLine(proc, re, what) {
  return new Promise((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${what}: no line matching ${re} in 10 s`)), 10_000);
    const onData = (d) => {
      buf += d;
      for (const line of buf.split('\n')) {
        const m = re.exec(line);
        if (m) {
          clearTimeout(timer);
          proc.stdout.off('data', onData);
          resolve(m);
          return;
        }
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${what} exited with ${code}`)); });
  });
}

export function stopAll() {
  for (const p of PROCS) {
    if (p.exitCode === null) p.kill('SIGKILL');
  }
}

// --- PKI (openssl) -----------------------------------------------------------------------

/**
 * A CA, nginx's server certificate (SAN IP 127.0.0.1), client certificates A (P-256,
 * `CN=kb-mtls client A`, the mTLS client's registered subject) and B (RSA 2048, same CA,
 * another subject), and a self-signed certificate with A's subject (no chain).
 */
export function makePki(dir) {
  mkdirSync(dir, { recursive: true });
  const p = (n) => join(dir, n);
  const ec = ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  writeFileSync(p('leaf.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  writeFileSync(p('server.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  run('openssl', ['req', '-x509', '-newkey', ...ec, '-nodes', '-keyout', p('ca.key'), '-out', p('ca.pem'),
    '-days', '2', '-subj', '/CN=keybound e2e CA']);
  const subjects = { 'client-a': 'kb-mtls client A', 'client-b': 'kb-mtls client B' };
  for (const [name, key, cn, ext, serial] of [
    ['server', ec, '127.0.0.1', 'server.ext', '1'],
    ['client-a', ec, subjects['client-a'], 'leaf.ext', '2'],
    ['client-b', ['rsa:2048'], subjects['client-b'], 'leaf.ext', '3'],
  ]) {
    run('openssl', ['req', '-newkey', ...key, '-nodes', '-keyout', p(`${name}.key`), '-out', p(`${name}.csr`),
      '-subj', `/CN=${cn}`]);
    run('openssl', ['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'),
      '-set_serial', serial, '-days', '2', '-extfile', p(ext), '-out', p(`${name}.pem`)]);
  }
  run('openssl', ['req', '-x509', '-newkey', ...ec, '-nodes', '-keyout', p('rogue.key'), '-out', p('rogue.pem'),
    '-days', '2', '-subj', `/CN=${subjects['client-a']}`]);
  const files = (n) => ({ cert: p(`${n}.pem`), key: p(`${n}.key`) });
  return {
    ca: p('ca.pem'),
    server: files('server'),
    clientA: { ...files('client-a'), subject: `CN=${subjects['client-a']}` },
    clientB: { ...files('client-b'), subject: `CN=${subjects['client-b']}` },
    rogue: { ...files('rogue'), subject: `CN=${subjects['client-a']}` },
  };
}

/** x5t#S256 the openssl way: x509 -outform DER | dgst -sha256 -binary, base64url. */
export function opensslX5t(certFile) {
  const der = run('openssl', ['x509', '-in', certFile, '-outform', 'DER']).stdout;
  const digest = run('openssl', ['dgst', '-sha256', '-binary'], { input: der }).stdout;
  return b64u(digest);
}

// --- nginx -------------------------------------------------------------------------------

export function nginxBinary() {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/local/sbin', '/usr/sbin', '/sbin'])) {
    if (dir && existsSync(join(dir, 'nginx'))) return join(dir, 'nginx');
  }
  throw new Error('nginx is not installed');
}

/**
 * nginx.conf for the deployment: the AS server block, and the RS server block with
 * `/proxy/` (reverse proxy to `backend`, a keybound resource server trusting nginx's
 * certificate header, when given), `/api/` (auth_request to `gate`, `http://127.0.0.1:PORT`
 * speaking keybound serve's forward-auth protocol on /auth, when given) and
 * `/api-gate-down/` (auth_request to `closedPort`, where nothing listens: fail closed).
 */
export function nginxConf({
  work, pki, asPort, providerUpstream, rsPort, gate, backend, closedPort, rsContent,
}) {
  const w = work;
  const tls = `
        ssl_certificate         ${pki.server.cert};
        ssl_certificate_key     ${pki.server.key};
        # Ask every client for a certificate, let the handshake through without one or with an
        # unknown issuer, and report the chain verdict against the client CA in
        # $ssl_client_verify (SUCCESS, FAILED:reason, NONE).
        ssl_client_certificate  ${pki.ca};
        ssl_verify_client       optional_no_ca;
        ssl_verify_depth        2;`;
  // A location whose static JSON resource is served only after the gate said 2xx. (Not
  // `return 200 …`: return runs in the rewrite phase, before auth_request's access phase.)
  const gated = (path, authPath) => `
        location ${path} {
            auth_request ${authPath};
            auth_request_set $kb_subject $upstream_http_x_keybound_subject;
            auth_request_set $kb_client  $upstream_http_x_keybound_client_id;
            auth_request_set $kb_binding $upstream_http_x_keybound_binding;
            auth_request_set $kb_nonce   $upstream_http_dpop_nonce;
            # WWW-Authenticate of a 401 is copied by auth_request itself; DPoP-Nonce is not.
            add_header DPoP-Nonce          $kb_nonce always;
            add_header X-Keybound-Subject  $kb_subject;
            add_header X-Keybound-Client-Id $kb_client;
            add_header X-Keybound-Binding  $kb_binding;
            add_header Cache-Control       no-store always;
            default_type application/json;
            alias ${rsContent}/;
        }`;
  // The forward-auth subrequest: method and URI of the original request, its Authorization
  // and DPoP headers as sent (subrequests carry the client's headers), the certificate.
  const authRequest = (authPath, upstream) => `
        location = ${authPath} {
            internal;
            proxy_pass ${upstream}/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI    $request_uri;
            proxy_set_header X-SSL-Client-Escaped-Cert $ssl_client_escaped_cert;
        }`;
  const rs = `
    server {
        listen 127.0.0.1:${rsPort} ssl;${tls}${backend ? `
        location /proxy/ {
            proxy_pass ${backend};
            proxy_set_header Host $http_host;
            # Empty when there is no client certificate, which removes the header: a value
            # sent by the client never reaches the backend.
            proxy_set_header X-SSL-Client-Escaped-Cert $ssl_client_escaped_cert;
        }` : ''}${gate ? `${gated('/api/', '/_keybound_auth')}${authRequest('/_keybound_auth', gate)}` : ''}${
  gated('/api-gate-down/', '/_gate_down_auth')}${authRequest('/_gate_down_auth', `http://127.0.0.1:${closedPort}`)}
    }`;
  return `daemon off;
master_process off;
worker_processes 1;
pid ${w}/nginx.pid;
error_log ${w}/nginx-error.log info;
events { worker_connections 128; }
http {
    access_log ${w}/nginx-access.log;
    client_body_temp_path ${w}/nginx-body;
    proxy_temp_path ${w}/nginx-proxy;
    fastcgi_temp_path ${w}/nginx-fastcgi;
    uwsgi_temp_path ${w}/nginx-uwsgi;
    scgi_temp_path ${w}/nginx-scgi;
    proxy_connect_timeout 5s;
    proxy_read_timeout 10s;
    # oidc-provider's escaped certificate headers are a few KiB.
    proxy_buffer_size 16k;
    proxy_buffers 8 16k;
    server {
        listen 127.0.0.1:${asPort} ssl;${tls}
        location / {
            proxy_pass ${providerUpstream};
            proxy_set_header Host              $http_host;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Forwarded-For   $remote_addr;
            # RFC 8705 behind a TLS-terminating proxy: the client certificate (URL-encoded
            # PEM, empty and therefore removed when there is none) and nginx's verdict.
            proxy_set_header X-SSL-Client-Escaped-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-Verify       $ssl_client_verify;
        }
    }${rs}
}
`;
}

async function startNginx(opts) {
  const conf = join(opts.work, 'nginx.conf');
  writeFileSync(conf, nginxConf(opts));
  const bin = nginxBinary();
  const proc = startProcess(bin, ['-p', opts.work, '-c', conf, '-e', join(opts.work, 'nginx-error.log')],
    join(opts.work, 'nginx-stderr.log'));
  await waitPort(opts.asPort, proc, 'nginx');
  await waitPort(opts.rsPort, proc, 'nginx (RS)');
  const version = run(bin, ['-v']).stderr.toString().trim().split('/').pop();
  return { proc, version };
}

// --- HTTPS client that records every exchange ---------------------------------------------

/**
 * An HTTPS `fetch` over node:https trusting `ca`, presenting `identity` ({cert, key} file
 * paths) when given, never following redirects. Every exchange is pushed to `log`:
 * { method, url, request: {headers}, status, headers (lower-case, arrays for set-cookie),
 *   body (text) }. Usable as openid-client's `customFetch`.
 */
export function recordingFetch({ ca, identity, log = [] }) {
  const caPem = readFileSync(ca);
  const cert = identity ? readFileSync(identity.cert) : undefined;
  const key = identity ? readFileSync(identity.key) : undefined;
  const fetchFn = (input, options = {}) => new Promise((resolve, reject) => {
    const url = new URL(typeof input === 'string' ? input : input.href ?? input.url);
    const headers = {};
    const given = options.headers ?? {};
    const entries = typeof given.entries === 'function' ? [...given.entries()] : Object.entries(given);
    for (const [k, v] of entries) headers[k.toLowerCase()] = v;
    let body = options.body;
    if (body instanceof URLSearchParams) body = body.toString();
    if (body !== undefined && body !== null && typeof body !== 'string' && !Buffer.isBuffer(body)) {
      reject(new TypeError('recordingFetch: only string, Buffer or URLSearchParams bodies'));
      return;
    }
    if (body) headers['content-length'] = String(Buffer.byteLength(body));
    const req = httpsRequest(url, {
      method: options.method ?? 'GET', headers, ca: caPem, cert, key, agent: false, timeout: 10_000,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const entry = {
          method: options.method ?? 'GET', url: url.href, request: { headers }, status: res.statusCode,
          headers: res.headers, body: text,
        };
        log.push(entry);
        const out = new Headers();
        for (const [k, v] of Object.entries(res.headers)) {
          for (const one of Array.isArray(v) ? v : [v]) out.append(k, one);
        }
        const nullBody = [101, 204, 205, 304].includes(res.statusCode);
        resolve(new Response(nullBody ? null : text, { status: res.statusCode, headers: out }));
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${url.href}`)));
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
  fetchFn.log = log;
  return fetchFn;
}

/**
 * The scripted browser: GETs `url` and follows redirects (keeping cookies) until one points
 * at `redirectUri`, which it returns as a URL without fetching it. oidc-provider's
 * interactions are approved by provider.mjs on sight.
 */
export async function followToRedirectUri(fetchFn, url, redirectUri) {
  const jar = new Map();
  let next = new URL(url);
  for (let hop = 0; hop < 12; hop += 1) {
    const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetchFn(next.href, { method: 'GET', headers: cookie ? { cookie } : {} });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair.indexOf('=');
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status > 399 || !location) {
      throw new Error(`authorization stopped at ${next.href}: ${res.status} ${(await res.text()).slice(0, 200)}`);
    }
    next = new URL(location, next);
    if (next.href.startsWith(redirectUri)) return next;
  }
  throw new Error('authorization: too many redirects');
}

// --- keybound CLI ------------------------------------------------------------------------

/** `keybound ARGS` → { status, out (parsed JSON when it is JSON, else the text) }. */
export function keybound(bin, args, input) {
  const r = run(bin, args, { input, allowFail: true });
  const text = r.stdout.toString().trim();
  let out = text;
  try { out = JSON.parse(text); } catch { /* plain text output */ }
  return { status: r.status, out, stderr: r.stderr.toString().trim() };
}

// --- the deployment ----------------------------------------------------------------------

/**
 * Starts PKI, oidc-provider, the resource servers behind nginx, and nginx.
 * `rsUpstreams(deployment)` (optional) starts them once the provider has written the
 * deployment file (issuer, JWKS file, `rs.origin`, `rs.resource`), before nginx starts, and
 * resolves with `{ backend, gate }` (each `http://127.0.0.1:PORT` or undefined): `backend`
 * is a keybound resource server behind `/proxy/` that trusts the
 * `X-SSL-Client-Escaped-Cert` header from 127.0.0.1; `gate` answers nginx `auth_request`
 * subrequests on `/auth` for `/api/` (keybound serve's forward-auth protocol).
 */
export async function startDeployment({ work, rsUpstreams } = {}) {
  mkdirSync(work, { recursive: true });
  const pki = makePki(join(work, 'pki'));
  const asPort = await freePort();
  const rsPort = await freePort();
  const issuer = `https://127.0.0.1:${asPort}`;
  const rsOrigin = `https://127.0.0.1:${rsPort}`;
  const resources = [`${rsOrigin}/api`, 'urn:keybound:e2e:ps256-api'];

  const provider = startProcess(process.execPath, [
    join(here, 'provider.mjs'), '--work', work, '--issuer', issuer,
    ...resources.flatMap((r) => ['--resource', r]), '--mtls-subject', pki.clientA.subject,
  ], join(work, 'provider.log'));
  const [, providerUpstream] = await readLine(provider, /^listening (http:\/\/\S+)$/, 'oidc-provider');
  const deploymentFile = join(work, 'deployment.json');
  const deployment = JSON.parse(readFileSync(deploymentFile, 'utf8'));
  deployment.ca = pki.ca;
  deployment.pki = pki;
  deployment.clients.mtls.cert = pki.clientA.cert;
  deployment.clients.mtls.cert_key = pki.clientA.key;
  deployment.rs = {
    origin: rsOrigin,
    resource: resources[0],
    gate_url: `${rsOrigin}/api/resource`,
    backend_url: `${rsOrigin}/proxy/resource`,
    gate_down_url: `${rsOrigin}/api-gate-down/resource`,
    gate: null,
    backend: null,
  };

  const rsContent = join(work, 'rs-content');
  mkdirSync(rsContent, { recursive: true });
  writeFileSync(join(rsContent, 'resource'), '{"resource":"keybound e2e"}\n');
  const { gate, backend } = rsUpstreams ? await rsUpstreams(deployment) : {};
  deployment.rs.gate = gate ?? null;
  deployment.rs.backend = backend ?? null;
  // Reserved and closed again: nothing listens there while nginx runs.
  const closedPort = await freePort();
  const nginx = await startNginx({
    work, pki, asPort, providerUpstream, rsPort, gate, backend, closedPort, rsContent,
  });
  deployment.nginx = { version: nginx.version, as_port: asPort, rs_port: rsPort, conf: join(work, 'nginx.conf') };
  writeFileSync(deploymentFile, `${JSON.stringify(deployment, null, 2)}\n`);
  deployment.file = deploymentFile;
  // oidc-provider's refusals so far ({event, error, description, detail}), from its stderr.
  deployment.providerEvents = () => provider.stderrText().split('\n')
    .filter((l) => l.startsWith('provider-event '))
    .map((l) => JSON.parse(l.slice('provider-event '.length)));
  return deployment;
}

// `node oidc/harness.mjs up WORK`: the deployment alone, for a Rust test or a person.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'up') {
  const work = process.argv[3];
  if (!work) {
    console.error('usage: node oidc/harness.mjs up WORK');
    process.exit(2);
  }
  try {
    const d = await startDeployment({ work });
    console.log(`deployment ${d.file}`);
    process.stdin.resume();
    const stop = () => { stopAll(); process.exit(0); };
    process.stdin.on('end', stop);
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  } catch (e) {
    console.error(e);
    stopAll();
    process.exit(1);
  }
}
