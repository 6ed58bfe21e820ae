"""Token verification: only a correctly signed, unexpired user token for our audience is accepted."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from atoms_mcp.core.caller import StaticTokenSource, TokenSource
from atoms_mcp.core.errors import UnauthenticatedError
from atoms_mcp.identity.resource_server import AtomsTokenVerifier, VerifiedAccessToken
from atoms_mcp.identity.verifier import JwtVerifier, mint_token
from atoms_mcp.settings import DEV_JWT_SECRET
from mcp_support import make_settings, token_for

pytestmark = pytest.mark.anyio

EDITOR_ID = "a0000000-0000-4000-8000-0000000000a2"


@pytest.fixture
def verifier(tmp_path: Path) -> JwtVerifier:
    return JwtVerifier(make_settings(None, tmp_path))


async def test_a_dev_token_of_a_seed_user_verifies(verifier: JwtVerifier) -> None:
    user = await verifier.verify(token_for("editor"))
    assert user.user_id == EDITOR_ID
    assert user.email == "editor@acme.test"
    assert user.claims["role"] == "authenticated"
    assert user.expires_at is not None and user.expires_at > time.time()


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (mint_token(DEV_JWT_SECRET, user_id=EDITOR_ID, email=None, ttl_seconds=-120), "expired"),
        (mint_token("another-secret-of-at-least-32-characters!!", user_id=EDITOR_ID, email=None), "rejected"),
        (mint_token(DEV_JWT_SECRET, user_id=EDITOR_ID, email=None, audience="some-other-api"), "audience"),
        (mint_token(DEV_JWT_SECRET, user_id=EDITOR_ID, email=None, role="service_role"), "role"),
        (mint_token(DEV_JWT_SECRET, user_id=EDITOR_ID, email=None, role="anon"), "role"),
        (jwt.encode({"role": "authenticated", "aud": "authenticated", "exp": 2**31}, DEV_JWT_SECRET), "rejected"),
        (jwt.encode({"sub": EDITOR_ID, "role": "authenticated", "aud": "authenticated"}, DEV_JWT_SECRET), "rejected"),
        (jwt.encode({"sub": EDITOR_ID, "role": "authenticated", "aud": "authenticated"}, "", "none"), "rejected"),
        ("not.a.jwt", "rejected"),
    ],
    ids=["expired", "forged", "wrong-audience", "service-role", "anon", "no-sub", "no-exp", "alg-none", "garbage"],
)
async def test_unacceptable_tokens_are_refused(verifier: JwtVerifier, token: str, reason: str) -> None:
    with pytest.raises(UnauthenticatedError) as refused:
        await verifier.verify(token)
    assert refused.value.code == "UNAUTHENTICATED"
    assert reason in refused.value.message


async def test_issuer_is_checked_when_configured(tmp_path: Path) -> None:
    strict = JwtVerifier(make_settings(None, tmp_path, jwt_issuer="https://auth.example.test/auth/v1"))
    with pytest.raises(UnauthenticatedError):
        await strict.verify(token_for("viewer"))


async def test_status_tells_authenticated_expired_and_not_authenticated(verifier: JwtVerifier) -> None:
    assert (await verifier.status(token_for("admin"))).status == "authenticated"
    expired = await verifier.status(token_for("admin", ttl_seconds=-600))
    assert (expired.status, expired.email) == ("expired", "admin@acme.test")
    assert (await verifier.status(None)).status == "not_authenticated"
    forged = await verifier.status(mint_token("x" * 40, user_id=EDITOR_ID, email="editor@acme.test"))
    assert (forged.status, forged.email) == ("not_authenticated", None)


async def test_the_sdk_token_verifier_carries_the_verified_user_or_refuses(verifier: JwtVerifier) -> None:
    sdk = AtomsTokenVerifier(verifier)
    access = await sdk.verify_token(token_for("viewer"))
    assert isinstance(access, VerifiedAccessToken) and access.subject == "a0000000-0000-4000-8000-0000000000a3"
    assert (access.user.user_id, access.user.email) == ("a0000000-0000-4000-8000-0000000000a3", "viewer@acme.test")
    assert access.user.claims["role"] == "authenticated"
    assert await sdk.verify_token(token_for("viewer", role="service_role")) is None


def test_static_token_source_implements_the_protocol() -> None:
    assert isinstance(StaticTokenSource("t"), TokenSource)
    assert "no token" in StaticTokenSource(None).status()


# ---- JWKS (Supabase asymmetric signing keys) ----


@pytest.fixture
def jwks_keys() -> Iterator[tuple[str, dict[str, Any]]]:
    """A local JWKS endpoint serving one RSA and one EC public key; yields its URL and the private keys."""
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    keys = []
    for kid, key, alg in (("rsa-1", rsa_key, "RS256"), ("ec-1", ec_key, "ES256")):
        algorithm = jwt.algorithms.RSAAlgorithm if alg == "RS256" else jwt.algorithms.ECAlgorithm
        jwk = json.loads(algorithm.to_jwk(key.public_key()))
        keys.append({**jwk, "kid": kid, "alg": alg, "use": "sig"})
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/.well-known/jwks.json", {"rsa-1": rsa_key, "ec-1": ec_key}
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": EDITOR_ID, "role": "authenticated", "aud": "authenticated", "exp": now + 600, **extra}


async def test_rs256_and_es256_tokens_verify_against_the_jwks(
    jwks_keys: tuple[str, dict[str, Any]], tmp_path: Path
) -> None:
    url, private = jwks_keys
    verifier = JwtVerifier(make_settings(None, tmp_path, jwks_url=url))
    rs = jwt.encode(_claims(), private["rsa-1"], algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(_claims(), private["ec-1"], algorithm="ES256", headers={"kid": "ec-1"})
    assert (await verifier.verify(rs)).user_id == EDITOR_ID
    assert (await verifier.verify(es)).user_id == EDITOR_ID
    # With a JWKS configured, an HS256 token signed with the (public) dev secret is no longer accepted.
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(token_for("editor"))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(_claims(), other, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(forged)
    wrong_role = jwt.encode(_claims(role="service_role"), private["rsa-1"], algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(wrong_role)
