"""mTLS interop checks (RFC 8705): openssl, curl and nginx against keybound.

    python check_mtls.py KEYBOUND_BIN RS_SERVER_BIN WORKDIR

Run by `cargo xtask interop` (standard library only). Prints one line per check,
`CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got`; a check passes when expected == got.

- openssl makes a CA, a server certificate, client certificates A (P-256) and B (RSA), the
  proxy's own client certificate P, and a self-signed "rogue" certificate; its
  `x509 -outform DER | dgst -sha256 -binary | base64url` must equal `keybound cert thumbprint`.
- curl --cert calls the keybound HTTPS resource server (interop/rs-server: rustls with
  keybound-mtls's client-certificate verifier, keybound::rs for the decision) with tokens
  bound (cnf."x5t#S256") to A, B or P.
- nginx terminates TLS with `ssl_verify_client on` and forwards `$ssl_client_escaped_cert`
  (the lines of docs/proxy-wiring.md) to keybound backends on loopback that trust the header
  only from 127.0.0.1 (keybound-mtls TrustedProxies). One backend is HTTPS and nginx connects
  to it with its own client certificate P (proxy_ssl_certificate): a token bound to P must
  still be rejected, because a trusted proxy's transport certificate is never the client's.

Everything listens on 127.0.0.1; every process started here is killed before exit.
"""

import json
import os
import shutil
import subprocess
import sys
import urllib.parse

from loopback import free_port, wait_port

KEYBOUND, RS_SERVER, WORK = sys.argv[1:4]
TIMEOUT = 30
PROCS: list[subprocess.Popen] = []


def check(peer: str, case: str, expected, got) -> None:
    got = str(got).replace("\t", " ").replace("\n", " ")
    print(f"CHECK\t{peer}\t{case}\t{expected}\t{got}", flush=True)


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, input=stdin, capture_output=True, timeout=TIMEOUT, check=True)


def version(*cmd: str) -> str:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    return (out.stdout + out.stderr).strip().splitlines()[0]


def path(name: str) -> str:
    return os.path.join(WORK, name)


# --- PKI (openssl) -----------------------------------------------------------------------

def openssl_pki() -> None:
    def ext(name: str, text: str) -> str:
        with open(path(name), "w") as f:
            f.write(text)
        return path(name)

    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", path("ca.key"), "-out", path("ca.pem"), "-days", "2",
        "-subj", "/CN=keybound interop CA")
    leaf = ext("leaf.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    server = ext("server.ext", "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                 "subjectAltName=IP:127.0.0.1\n")
    for name, key, cn, extfile, serial in [
        ("server", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "127.0.0.1", server, "1"),
        ("client-a", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "client A", leaf, "2"),
        ("client-b", ["rsa:2048"], "client B", leaf, "3"),
        ("proxy", ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"], "nginx proxy", leaf, "4"),
    ]:
        run("openssl", "req", "-newkey", *key, "-nodes", "-keyout", path(f"{name}.key"),
            "-out", path(f"{name}.csr"), "-subj", f"/CN={cn}")
        run("openssl", "x509", "-req", "-in", path(f"{name}.csr"), "-CA", path("ca.pem"),
            "-CAkey", path("ca.key"), "-set_serial", serial, "-days", "2",
            "-extfile", extfile, "-out", path(f"{name}.pem"))
    run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
        "-nodes", "-keyout", path("rogue.key"), "-out", path("rogue.pem"), "-days", "2",
        "-subj", "/CN=client A")


def openssl_x5t(name: str) -> str:
    """x5t#S256 the openssl way: x509 -outform DER | dgst -sha256 -binary | base64url."""
    der = run("openssl", "x509", "-in", path(f"{name}.pem"), "-outform", "DER").stdout
    digest = run("openssl", "dgst", "-sha256", "-binary", stdin=der).stdout
    b64 = run("openssl", "base64", "-A", stdin=digest).stdout.decode().strip()
    return b64.replace("+", "-").replace("/", "_").rstrip("=")


def nginx_escaped(name: str) -> str:
    """A header value as nginx's $ssl_client_escaped_cert writes it (URL-encoded PEM)."""
    with open(path(f"{name}.pem")) as f:
        return urllib.parse.quote(f.read(), safe="+/=")


# --- processes ---------------------------------------------------------------------------

def start_rs(name: str, *args: str) -> str:
    """Starts the keybound resource server; returns its origin (`https://127.0.0.1:PORT`)."""
    log = open(path(f"{name}.log"), "wb")
    proc = subprocess.Popen(
        [RS_SERVER, "--tokens", path("tokens.json"), "--lifeline", "--max-seconds", "300", *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log)
    PROCS.append(proc)
    line = proc.stdout.readline().decode().strip()
    if not line.startswith("listening "):
        raise RuntimeError(f"{name}: unexpected first line {line!r} (see {name}.log)")
    return line.removeprefix("listening ")


def start_nginx(tls_port: int, plain_backend: str, tls_backend: str) -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    w = WORK
    forward = ("        proxy_set_header X-SSL-Client-Cert   $ssl_client_escaped_cert;\n"
               "        proxy_set_header X-SSL-Client-Verify $ssl_client_verify;\n")
    as_proxy_client = (f"        proxy_ssl_certificate         {w}/proxy.pem;\n"
                       f"        proxy_ssl_certificate_key     {w}/proxy.key;\n"
                       f"        proxy_ssl_trusted_certificate {w}/ca.pem;\n"
                       "        proxy_ssl_verify              on;\n"
                       "        proxy_ssl_name                127.0.0.1;\n")
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
    proxy_connect_timeout 5s;
    proxy_read_timeout 10s;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate         {w}/server.pem;
        ssl_certificate_key     {w}/server.key;
        # tls_client_auth: nginx validates the chain against the client CA.
        ssl_client_certificate  {w}/ca.pem;
        ssl_verify_client       on;
        ssl_verify_depth        2;
        location /plain/ {{
{forward}        proxy_pass {plain_backend};
        }}
        location /tls/ {{
{forward}{as_proxy_client}        proxy_pass {tls_backend};
        }}
        location /tls-no-forward/ {{
        # The client certificate is not forwarded: an empty value removes the header.
        proxy_set_header X-SSL-Client-Cert "";
{as_proxy_client}        proxy_pass {tls_backend};
        }}
    }}
}}
"""
    with open(path("nginx.conf"), "w") as f:
        f.write(conf)
    log = open(path("nginx-stderr.log"), "wb")
    proc = subprocess.Popen([nginx, "-p", WORK, "-c", path("nginx.conf"), "-e", path("nginx-error.log")],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    PROCS.append(proc)
    wait_port(tls_port, proc, "nginx")


def stop_all() -> None:
    for proc in PROCS:
        if proc.poll() is None:
            proc.kill()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


# --- requests (curl) ---------------------------------------------------------------------

def curl(url: str, token: str, cert: str | None = None, headers=()) -> tuple[int, dict]:
    """GET with curl; returns (status, JSON body or {'raw': text})."""
    args = ["curl", "-sS", "--max-time", "10", "--connect-timeout", "5",
            "--cacert", path("ca.pem"), "-o", "-", "-w", "\n%{http_code}",
            "-H", f"Authorization: Bearer {token}"]
    if cert:
        args += ["--cert", path(f"{cert}.pem"), "--key", path(f"{cert}.key")]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=TIMEOUT)
    body, _, status = out.stdout.rpartition("\n")
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = {"raw": body.strip()[:120] or out.stderr.strip()[:120]}
    return int(status or 0), parsed


def outcome(status: int, body: dict) -> str:
    """`200 mtls` or `401 certificate_mismatch` (keybound's reason) or `400` (nginx's page)."""
    detail = body.get("binding") if status == 200 else body.get("reason", "")
    return f"{status} {detail}".strip()


def seen_cert(body: dict) -> str:
    cert = body.get("client_cert")
    return f"{cert['source']} {cert['x5t#S256']}" if cert else "none"


def main() -> None:
    openssl_pki()
    ossl = " ".join(version("openssl", "version").split()[:2])
    curl_v = " ".join(version("curl", "--version").split()[:2])
    nginx_v = version(shutil.which("nginx") or "/usr/sbin/nginx", "-v").split("/")[-1].strip()

    x5t = {}
    for name in ["client-a", "client-b", "proxy", "rogue"]:
        x5t[name] = openssl_x5t(name)
        kb = subprocess.run([KEYBOUND, "cert", "thumbprint", path(f"{name}.pem")],
                            capture_output=True, text=True, timeout=TIMEOUT).stdout.strip()
        check(ossl, f"x5t#S256 of {name}.pem: keybound cert thumbprint == openssl dgst", x5t[name], kb)
    with open(path("tokens.json"), "w") as f:
        json.dump({f"tok-{n}": {"sub": n, "cnf": {"x5t#S256": x5t[n]}}
                   for n in ["client-a", "client-b", "proxy"]}, f)

    # Direct: curl --cert to the keybound HTTPS server (no proxy trusted).
    direct = start_rs("rs-direct", "--tls-cert", path("server.pem"), "--tls-key", path("server.key"))
    url = f"{direct}/resource"
    s, b = curl(url, "tok-client-a", "client-a")
    check(curl_v, "direct: cert A + token bound to A", "200 mtls", outcome(s, b))
    check(curl_v, "direct: server-side x5t#S256 of A == openssl's", f"tls {x5t['client-a']}", seen_cert(b))
    s, b = curl(url, "tok-client-b", "client-b")
    check(curl_v, "direct: RSA cert B + token bound to B", "200 mtls", outcome(s, b))
    check(curl_v, "direct: server-side x5t#S256 of B == openssl's", f"tls {x5t['client-b']}", seen_cert(b))
    s, b = curl(url, "tok-client-a", "client-b")
    check(curl_v, "direct: cert B + token bound to A", "401 certificate_mismatch", outcome(s, b))
    s, b = curl(url, "tok-client-a", "rogue")
    check(curl_v, "direct: self-signed cert with A's subject + token bound to A",
          "401 certificate_mismatch", outcome(s, b))
    s, b = curl(url, "tok-client-a")
    check(curl_v, "direct: no certificate + token bound to A", "401 certificate_missing", outcome(s, b))
    s, b = curl(url, "tok-client-a", "client-b",
                [f"X-SSL-Client-Cert: {nginx_escaped('client-a')}"])
    check(curl_v, "direct: cert B + forged X-SSL-Client-Cert of A + token bound to A",
          "401 certificate_mismatch", outcome(s, b))
    s, b = curl(url, "tok-unknown", "client-a")
    check(curl_v, "direct: cert A + unknown token", "401 invalid_token", outcome(s, b))

    # Behind nginx: backends that trust the header only from 127.0.0.1.
    plain = start_rs("rs-plain", "--trust-proxy", "127.0.0.1/32")
    tls_backend = start_rs("rs-tls", "--trust-proxy", "127.0.0.1/32",
                           "--tls-cert", path("server.pem"), "--tls-key", path("server.key"))
    untrusting = start_rs("rs-untrusting", "--trust-proxy", "10.0.0.0/8")
    port = free_port()
    start_nginx(port, plain, tls_backend)
    proxy = f"https://127.0.0.1:{port}"
    peer = f"nginx {nginx_v}"

    s, b = curl(f"{proxy}/plain/resource", "tok-client-a", "client-a")
    check(peer, "proxy -> http backend: cert A + token bound to A", "200 mtls", outcome(s, b))
    check(peer, "proxy -> http backend: x5t#S256 from $ssl_client_escaped_cert == openssl's",
          f"header {x5t['client-a']}", seen_cert(b))
    s, b = curl(f"{proxy}/plain/resource", "tok-client-b", "client-b")
    check(peer, "proxy -> http backend: RSA cert B + token bound to B", "200 mtls", outcome(s, b))
    s, b = curl(f"{proxy}/plain/resource", "tok-client-a", "client-b",
                [f"X-SSL-Client-Cert: {nginx_escaped('client-a')}"])
    check(peer, "proxy -> http backend: cert B + client-forged header of A + token bound to A",
          "401 certificate_mismatch", outcome(s, b))
    s, b = curl(f"{proxy}/tls/resource", "tok-client-a", "client-a")
    check(peer, "proxy -(mTLS as P)-> https backend: cert A + token bound to A", "200 mtls", outcome(s, b))
    check(peer, "proxy -(mTLS as P)-> https backend: backend saw the proxy's own certificate",
          x5t["proxy"], b.get("peer_tls_cert"))
    check(peer, "proxy -(mTLS as P)-> https backend: but bound the forwarded one",
          f"header {x5t['client-a']}", seen_cert(b))
    s, b = curl(f"{proxy}/tls/resource", "tok-proxy", "client-b")
    check(peer, "proxy -(mTLS as P)-> https backend: cert B + token bound to the proxy's P",
          "401 certificate_mismatch", outcome(s, b))
    s, b = curl(f"{proxy}/tls-no-forward/resource", "tok-proxy", "client-b")
    check(peer, "proxy -(mTLS as P, no forwarded cert)-> https backend: token bound to P",
          "401 certificate_missing", outcome(s, b))
    s, b = curl(f"{proxy}/plain/resource", "tok-client-a")
    check(peer, "ssl_verify_client on: no client certificate", "400", outcome(s, b))
    s, b = curl(f"{proxy}/plain/resource", "tok-client-a", "rogue")
    check(peer, "ssl_verify_client on: certificate from another CA", "400", outcome(s, b))

    # The same header straight to a backend that does not trust the caller's address.
    s, b = curl(f"{untrusting}/resource", "tok-client-a",
                headers=[f"X-SSL-Client-Cert: {nginx_escaped('client-a')}"])
    check(curl_v, "straight to a backend trusting only 10.0.0.0/8: header of A + token bound to A",
          "401 certificate_missing", outcome(s, b))
    s, b = curl(f"{plain}/resource", "tok-client-a")
    check(curl_v, "straight to the trusting backend without the header: token bound to A",
          "401 certificate_missing", outcome(s, b))


if __name__ == "__main__":
    try:
        main()
    finally:
        stop_all()
