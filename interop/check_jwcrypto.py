"""Interop checks between keybound and PyPI `jwcrypto` (RFC 9449 DPoP proofs).

    python check_jwcrypto.py KEYBOUND_BIN WORKDIR

Run by `cargo xtask interop` from the venv it installs under tools/. Prints one line per
check, `CHECK<TAB>peer<TAB>case<TAB>expected<TAB>got`; a check passes when expected == got.

1. Proofs from jwcrypto (ES256, ES384, PS256, EdDSA) are verified by the built
   `keybound dpop verify --batch`, untouched (valid) and tampered (rejected, with the reason
   the CLI contract names).
2. Proofs from `keybound dpop sign` (ES256, ES384, PS256, RS256, EdDSA) are verified by
   jwcrypto with the key embedded in their header, and their claims and RFC 7638
   thumbprints compared.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import time
import uuid
from importlib.metadata import version

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

KEYBOUND = sys.argv[1]
WORK = sys.argv[2]
PEER = f"jwcrypto {version('jwcrypto')}"
TIMEOUT = 60

HTU = "https://rs.example.test/resource"
HTM = "GET"
ACCESS_TOKEN = "jwcrypto-access-token.AbC-123_x"
NONCE = "server-nonce_0123"


def b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def ath(token: str) -> str:
    return b64u(hashlib.sha256(token.encode("ascii")).digest())


def check(case: str, expected, got) -> None:
    got = str(got).replace("\t", " ").replace("\n", " ")
    print(f"CHECK\t{PEER}\t{case}\t{expected}\t{got}", flush=True)


def keybound(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KEYBOUND, *args], input=stdin, capture_output=True, text=True, timeout=TIMEOUT
    )


# --- 1. jwcrypto signs, keybound verifies -------------------------------------------------

PEER_KEYS = [
    ("ES256", dict(kty="EC", crv="P-256")),
    ("ES384", dict(kty="EC", crv="P-384")),
    ("PS256", dict(kty="RSA", size=2048)),
    ("EdDSA", dict(kty="OKP", crv="Ed25519")),
]


def sign_proof(key: jwk.JWK, alg: str, htm: str, htu: str, token=None, nonce=None, extra=None):
    claims = {"jti": str(uuid.uuid4()), "htm": htm, "htu": htu, "iat": int(time.time())}
    if token is not None:
        claims["ath"] = ath(token)
    if nonce is not None:
        claims["nonce"] = nonce
    claims.update(extra or {})
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": key.export_public(as_dict=True)}
    signer = jws.JWS(json.dumps(claims).encode())
    signer.add_signature(key, alg=alg, protected=json_encode(header))
    return signer.serialize(compact=True)


def flip_signature_byte(proof: str) -> str:
    head, payload, sig = proof.split(".")
    raw = bytearray(b64u_decode(sig))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64u(bytes(raw))}"


def rewrite_claim(proof: str, name: str, value) -> str:
    """Changes one claim and keeps the original signature (what an attacker can do)."""
    head, payload, sig = proof.split(".")
    claims = json.loads(b64u_decode(payload))
    claims[name] = value
    return f"{head}.{b64u(json.dumps(claims).encode())}.{sig}"


def request(proof, htm=HTM, htu=HTU, token=None, jkt=None, nonce=None):
    return {"proof": proof, "htm": htm, "htu": htu, "now": None,
            "access_token": token, "jkt": jkt, "nonce": nonce}


def proofs_to_keybound() -> None:
    cases = []  # (case name, expected, request, jwcrypto thumbprint or None)
    for alg, params in PEER_KEYS:
        key = jwk.JWK.generate(**params)
        other = jwk.JWK.generate(**params)
        jkt = key.thumbprint()
        p = lambda **kw: sign_proof(key, alg, HTM, HTU, **kw)  # noqa: E731
        cases += [
            (f"{alg} proof -> keybound", "valid", request(p()), jkt),
            (f"{alg} proof with ath+nonce+cnf.jkt -> keybound", "valid",
             request(p(token=ACCESS_TOKEN, nonce=NONCE), token=ACCESS_TOKEN, jkt=jkt, nonce=NONCE), None),
            (f"{alg} proof, flipped signature byte", "signature", request(flip_signature_byte(p())), None),
            (f"{alg} proof, htu claim rewritten", "signature",
             request(rewrite_claim(p(), "htu", "https://evil.example.test/resource")), None),
            (f"{alg} proof, htm claim rewritten", "signature",
             request(rewrite_claim(p(), "htm", "POST")), None),
            (f"{alg} proof sent to another URI", "htu",
             request(p(), htu="https://rs.example.test/other"), None),
            (f"{alg} proof sent with another method", "htm", request(p(), htm="DELETE"), None),
            (f"{alg} proof, ath of another token", "ath",
             request(p(token="some-other-token"), token=ACCESS_TOKEN), None),
            (f"{alg} proof, wrong nonce", "nonce", request(p(nonce="stale"), nonce=NONCE), None),
            (f"{alg} proof, token bound to another key", "key_binding",
             request(p(token=ACCESS_TOKEN), token=ACCESS_TOKEN, jkt=other.thumbprint()), None),
        ]
    # One proof twice: the batch keeps one replay store.
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    replayed = sign_proof(key, "ES256", HTM, HTU)
    cases += [
        ("ES256 proof, first use", "valid", request(replayed), None),
        ("ES256 proof, replayed", "replay", request(replayed), None),
    ]

    batch = "".join(json.dumps(c[2]) + "\n" for c in cases)
    out = keybound("dpop", "verify", "--batch", stdin=batch)
    lines = out.stdout.splitlines()
    if len(lines) != len(cases):
        check("keybound dpop verify --batch answers every line", len(cases),
              f"{len(lines)} lines, exit {out.returncode}: {out.stderr.strip()[:200]}")
        return
    for (name, expected, _, thumb), line in zip(cases, lines):
        answer = json.loads(line)
        got = "valid" if answer.get("valid") else answer.get("reason", line)
        check(name, expected, got)
        if thumb is not None and answer.get("valid"):
            check(f"{name}: keybound jkt == jwcrypto thumbprint", thumb, answer.get("jkt"))


# --- 2. keybound signs, jwcrypto verifies -------------------------------------------------

KEYBOUND_ALGS = ["ES256", "ES384", "PS256", "RS256", "EdDSA"]


def jwcrypto_verify(proof: str, alg: str) -> tuple[str, dict, dict]:
    """Verifies like an RFC 9449 §4.3 server would with jwcrypto; returns (verdict, header, claims)."""
    head, payload, _ = proof.split(".")
    header = json.loads(b64u_decode(head))
    if header.get("typ") != "dpop+jwt":
        return f"typ {header.get('typ')!r}", header, {}
    if header.get("alg") != alg:
        return f"alg {header.get('alg')!r}", header, {}
    key = jwk.JWK(**header["jwk"])
    if key.has_private:
        return "private jwk", header, {}
    token = jws.JWS()
    token.deserialize(proof)
    try:
        token.verify(key, alg=alg)
    except Exception as e:  # jwcrypto raises InvalidJWSSignature and friends
        return f"rejected ({type(e).__name__})", header, {}
    return "valid", header, json.loads(token.payload)


def proofs_from_keybound() -> None:
    for alg in KEYBOUND_ALGS:
        keyfile = os.path.join(WORK, f"jwcrypto-{alg}.jwk")
        gen = keybound("jwk", "generate", "--alg", alg)
        if gen.returncode != 0:
            check(f"keybound jwk generate --alg {alg}", "exit 0", f"exit {gen.returncode}")
            continue
        with open(keyfile, "w") as f:
            f.write(gen.stdout)
        jkt = keybound("jwk", "thumbprint", keyfile).stdout.strip()
        signed = keybound("dpop", "sign", "--key", keyfile, "--htm", HTM, "--htu", HTU,
                          "--access-token", ACCESS_TOKEN, "--nonce", NONCE)
        proof = signed.stdout.strip()
        if signed.returncode != 0 or proof.count(".") != 2:
            check(f"keybound dpop sign --alg {alg}", "exit 0", f"exit {signed.returncode}")
            continue
        verdict, header, claims = jwcrypto_verify(proof, alg)
        check(f"keybound {alg} proof -> jwcrypto JWS verify (embedded jwk, typ)", "valid", verdict)
        want = {"htm": HTM, "htu": HTU, "ath": ath(ACCESS_TOKEN), "nonce": NONCE}
        got = {k: claims.get(k) for k in want}
        fresh = isinstance(claims.get("iat"), int) and abs(claims["iat"] - time.time()) < 60
        has_jti = isinstance(claims.get("jti"), str) and len(claims["jti"]) >= 16
        check(f"keybound {alg} proof claims (htm, htu, ath, nonce, iat, jti)", "as signed",
              "as signed" if got == want and fresh and has_jti else json.dumps(claims))
        check(f"keybound {alg} jkt == jwcrypto thumbprint",
              jkt, jwk.JWK(**header.get("jwk", {})).thumbprint() if header.get("jwk") else None)
        verdict, _, _ = jwcrypto_verify(flip_signature_byte(proof), alg)
        check(f"keybound {alg} proof, flipped signature byte -> jwcrypto", "rejected",
              "rejected" if verdict.startswith("rejected") else verdict)


if __name__ == "__main__":
    proofs_to_keybound()
    proofs_from_keybound()
