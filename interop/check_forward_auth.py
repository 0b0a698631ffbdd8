"""Forward-auth interop checks: nginx `auth_request` -> `keybound serve` -> an echo upstream.

    python check_forward_auth.py KEYBOUND_BIN WORKDIR

Run by `cargo xtask interop` with the interop venv's python (jwcrypto). Prints one line per
check, `CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got`; a check passes when expected == got.

- jwcrypto plays the authorization server (ES256 RFC 9068 access tokens, its JWKS) and the
  client (ES256 DPoP proofs); openssl makes the TLS certificates; curl is the client.
- nginx terminates TLS and runs the `auth_request` configuration of docs/proxy-wiring.md
  against `keybound serve` on loopback, then proxies admitted requests to a Python upstream
  that echoes the headers it received as JSON.
- Cases: a legitimate DPoP request (200, the gate's identity headers reach the upstream, a
  client-forged X-Keybound-Subject does not); replayed, stolen (as Bearer, with the thief's
  key), wrong-URL and token-less requests (401 with the gate's challenge passed back to the
  client); a certificate-bound token with the right, another and no client certificate;
  RFC 9728 metadata through nginx.

Everything listens on 127.0.0.1; every process started here is killed before exit.
"""

import base64
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

from loopback import free_port, wait_port

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

KEYBOUND, WORK = sys.argv[1:3]
TIMEOUT = 30
PROCS: list[subprocess.Popen] = []
ISSUER = "https://as.interop.test"


def check(peer: str, case: str, expected, got) -> None:
    got = str(got).replace("\t", " ").replace("\n", " ")
    print(f"CHECK\t{peer}\t{case}\t{expected}\t{got}", flush=True)


def path(name: str) -> str:
    return os.path.join(WORK, name)


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT, check=True)


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


# --- the authorization server and the client (jwcrypto) --------------------------------

AS_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="as-1")


def mint(audience: str, cnf: dict) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "sub": "alice", "aud": audience, "client_id": "client-1",
              "iat": now, "exp": now + 300, "jti": str(uuid.uuid4()), "cnf": cnf}
    token = jws.JWS(json.dumps(claims).encode())
    token.add_signature(AS_KEY, alg="ES256",
                        protected=json_encode({"typ": "at+jwt", "alg": "ES256", "kid": "as-1"}))
    return token.serialize(compact=True)


def proof(key: jwk.JWK, htm: str, htu: str, token: str, nonce: str | None = None) -> str:
    claims = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time()),
              "ath": b64u(hashlib.sha256(token.encode()).digest())}
    if nonce is not None:
        claims["nonce"] = nonce
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.export_public(as_dict=True)}
    signer = jws.JWS(json.dumps(claims).encode())
    signer.add_signature(key, alg="ES256", protected=json_encode(header))
    return signer.serialize(compact=True)


# --- the upstream: echoes what reached it -----------------------------------------------

class Echo(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = json.dumps({"path": self.path,
                           "headers": {k.lower(): v for k, v in self.headers.items()}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def start_upstream() -> int:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


# --- keybound serve, nginx ---------------------------------------------------------------

def start_gate(origin: str, name: str, *extra: str) -> int:
    with open(path("jwks.json"), "w") as f:
        f.write(json.dumps({"keys": [AS_KEY.export_public(as_dict=True)]}))
    log = open(path(f"{name}.log"), "wb")
    proc = subprocess.Popen(
        [KEYBOUND, "serve", "--listen", "127.0.0.1:0", "--public-origin", origin,
         "--issuer", ISSUER, "--audience", origin, "--jwks", path("jwks.json"),
         "--trusted-proxy", "127.0.0.1/32", *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log)
    PROCS.append(proc)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening on http://127.0.0.1:"):
        raise RuntimeError(f"keybound serve: unexpected first line {line!r} (see gate.log)")
    return int(line.rsplit(":", 1)[1])


def server_block(port: int, gate: int, upstream: int) -> str:
    """The `auth_request` server of docs/proxy-wiring.md."""
    w = WORK
    return f"""
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate     {w}/server.pem;
        ssl_certificate_key {w}/server.key;
        ssl_verify_client   optional_no_ca;

        location = /_keybound {{
            internal;
            proxy_pass http://127.0.0.1:{gate}/auth;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Original-URI    $request_uri;
            proxy_set_header X-SSL-Client-Escaped-Cert $ssl_client_escaped_cert;
        }}

        location = /.well-known/oauth-protected-resource {{
            proxy_pass http://127.0.0.1:{gate};
        }}

        location / {{
            auth_request /_keybound;
            auth_request_set $keybound_sub     $upstream_http_x_keybound_subject;
            auth_request_set $keybound_client  $upstream_http_x_keybound_client_id;
            auth_request_set $keybound_binding $upstream_http_x_keybound_binding;
            auth_request_set $keybound_nonce   $upstream_http_dpop_nonce;
            add_header DPoP-Nonce $keybound_nonce always;

            proxy_set_header X-Keybound-Subject   $keybound_sub;
            proxy_set_header X-Keybound-Client-Id $keybound_client;
            proxy_set_header X-Keybound-Binding   $keybound_binding;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}"""


def start_nginx(servers: list[tuple[int, int]], upstream: int) -> None:
    w = WORK
    blocks = "".join(server_block(port, gate, upstream) for port, gate in servers)
    conf = f"""daemon off;
master_process off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {w}/nginx-access.log;
    client_body_temp_path {w}/nginx-body;
    proxy_temp_path {w}/nginx-proxy;
    fastcgi_temp_path {w}/nginx-fastcgi;
    uwsgi_temp_path {w}/nginx-uwsgi;
    scgi_temp_path {w}/nginx-scgi;
{blocks}
}}
"""
    with open(path("nginx.conf"), "w") as f:
        f.write(conf)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    log = open(path("nginx-stderr.log"), "wb")
    proc = subprocess.Popen([nginx, "-p", WORK, "-c", path("nginx.conf"), "-e",
                             path("nginx-error.log")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    PROCS.append(proc)
    for port, _ in servers:
        wait_port(port, proc, "nginx")


def stop_all() -> None:
    for proc in PROCS:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# --- requests (curl) ---------------------------------------------------------------------

def curl(url: str, headers=(), cert: str | None = None) -> tuple[int, dict, str]:
    """GET; returns (status, lower-cased response headers, body)."""
    args = ["curl", "-sS", "--max-time", "10", "--cacert", path("server.pem"),
            "-D", path("headers.txt"), "-o", "-", "-w", "\n%{http_code}"]
    if cert:
        args += ["--cert", path(f"{cert}.pem"), "--key", path(f"{cert}.key")]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=TIMEOUT)
    body, _, status = out.stdout.rpartition("\n")
    got = {}
    try:
        with open(path("headers.txt")) as f:
            for line in f:
                if ":" in line:
                    k, v = line.split(":", 1)
                    got.setdefault(k.strip().lower(), v.strip())
    except OSError:
        pass
    return int(status or 0), got, body


def main() -> None:
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", path("server.key"), "-out", path("server.pem"), "-days", "2",
        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1")
    for name in ["client", "thief"]:
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", path(f"{name}.key"), "-out", path(f"{name}.pem"), "-days", "2",
            "-subj", f"/CN={name}")
    der = run("openssl", "x509", "-in", path("client.pem"), "-outform", "DER").stdout
    client_x5t = b64u(hashlib.sha256(der).digest())

    port, nonce_port = free_port(), free_port()
    origin = f"https://127.0.0.1:{port}"
    nonce_origin = f"https://127.0.0.1:{nonce_port}"
    gate = start_gate(origin, "gate")
    nonce_gate = start_gate(nonce_origin, "nonce-gate", "--require-nonce")
    upstream = start_upstream()
    start_nginx([(port, gate), (nonce_port, nonce_gate)], upstream)
    nginx_v = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"],
                             capture_output=True, text=True).stderr.strip().split("/")[-1]
    peer = f"nginx {nginx_v} + keybound serve"

    alice = jwk.JWK.generate(kty="EC", crv="P-256")
    mallory = jwk.JWK.generate(kty="EC", crv="P-256")
    token = mint(origin, {"jkt": alice.thumbprint()})
    url = f"{origin}/api/accounts?page=1"
    htu = f"{origin}/api/accounts"

    def dpop(p: str, tok: str = token):
        return [f"Authorization: DPoP {tok}", f"DPoP: {p}"]

    legit = proof(alice, "GET", htu, token)
    s, h, body = curl(url, dpop(legit) + ["X-Keybound-Subject: mallory"])
    echoed = json.loads(body).get("headers", {}) if s == 200 else {}
    check(peer, "legitimate DPoP request (jwcrypto token + proof)", "200", s)
    check(peer, "upstream gets the gate's subject, not the client's forged header",
          "alice", echoed.get("x-keybound-subject"))
    check(peer, "upstream gets the binding", "dpop", echoed.get("x-keybound-binding"))
    check(peer, "upstream gets the client id", "client-1", echoed.get("x-keybound-client-id"))
    check(peer, "upstream gets the original path", "/api/accounts?page=1",
          json.loads(body).get("path") if s == 200 else None)

    def challenge(h: dict) -> str:
        return h.get("www-authenticate", "").split(" error_description")[0]

    s, h, _ = curl(url, dpop(legit))
    check(peer, "replayed request (same proof)", '401 DPoP error="invalid_dpop_proof",',
          f"{s} {challenge(h)}")
    s, h, _ = curl(url, [f"Authorization: Bearer {token}"])
    check(peer, "stolen DPoP token sent as Bearer", '401 DPoP error="invalid_token",',
          f"{s} {challenge(h)}")
    s, h, _ = curl(url, dpop(proof(mallory, "GET", htu, token)))
    check(peer, "stolen token with the thief's own key", '401 DPoP error="invalid_dpop_proof",',
          f"{s} {challenge(h)}")
    s, h, _ = curl(url, dpop(proof(alice, "GET", f"{origin}/api/admin", token)))
    check(peer, "proof made for another URL", '401 DPoP error="invalid_dpop_proof",',
          f"{s} {challenge(h)}")
    s, h, _ = curl(url)
    www = h.get("www-authenticate", "")
    cut = www.find("DPoP algs=")
    check(peer, "no token: both challenges passed back",
          f'401 Bearer resource_metadata="{origin}/.well-known/oauth-protected-resource", DPoP algs=',
          f"{s} {www[:cut + len('DPoP algs=')] if cut >= 0 else www}")

    cert_token = mint(origin, {"x5t#S256": client_x5t})
    bearer = [f"Authorization: Bearer {cert_token}"]
    s, h, body = curl(url, bearer, cert="client")
    check(peer, "certificate-bound token, client's certificate ($ssl_client_escaped_cert)",
          "200 mtls", f"{s} {json.loads(body)['headers'].get('x-keybound-binding') if s == 200 else ''}")
    s, h, _ = curl(url, bearer, cert="thief")
    check(peer, "certificate-bound token, another certificate", '401 Bearer error="invalid_token",',
          f"{s} {challenge(h)}")
    s, h, _ = curl(url, bearer)
    check(peer, "certificate-bound token, no certificate", '401 Bearer error="invalid_token",',
          f"{s} {challenge(h)}")

    s, h, body = curl(f"{origin}/.well-known/oauth-protected-resource")
    meta = json.loads(body) if s == 200 else {}
    check(peer, "RFC 9728 metadata through nginx: resource", origin, meta.get("resource"))
    check(peer, "RFC 9728 metadata: authorization_servers", [ISSUER],
          meta.get("authorization_servers"))
    # --require-nonce: the challenge's DPoP-Nonce reaches the client; the retry passes.
    nonce_token = mint(nonce_origin, {"jkt": alice.thumbprint()})
    nonce_htu = f"{nonce_origin}/api/accounts"
    first = proof(alice, "GET", nonce_htu, nonce_token)
    s, h, _ = curl(f"{nonce_origin}/api/accounts", dpop(first, nonce_token))
    nonce = h.get("dpop-nonce", "")
    check(peer, "nonce required: challenge with DPoP-Nonce passed back",
          '401 DPoP error="use_dpop_nonce", nonce', f"{s} {challenge(h)} {'nonce' if nonce else '-'}")
    retry = proof(alice, "GET", nonce_htu, nonce_token, nonce)
    s, h, _ = curl(f"{nonce_origin}/api/accounts", dpop(retry, nonce_token))
    check(peer, "nonce required: retry with the server nonce", "200", s)

    check(peer, "keybound serve logged one decision per check", "9",
          sum(1 for line in open(path("gate.log")) if "keybound decision" in line))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
