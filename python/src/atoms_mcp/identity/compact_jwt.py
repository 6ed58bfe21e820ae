"""Compact JWTs with the standard library: reading one, signing and verifying HS256, validating its claims.

HS256 tokens (Supabase's JWT secret) are verified here, so checking a token loads neither PyJWT nor the
`cryptography` package that PyJWT imports with its JWKS client; RS256/ES256 tokens (a JWKS URL) go through PyJWT
(`identity.verifier`). The rules are PyJWT's, check for check and in the same order: strict base64url segments
(no foreign characters, at most two padding characters, canonical encoding), a JSON-object header and payload,
the `kid`, `crit` and `b64` header rules, an algorithm the caller pins (never one the token chooses), a
constant-time signature comparison before anything in the payload is trusted, then the required claims, `iat`,
`nbf`, `exp` (with leeway), `iss`, `aud`, `sub` and `jti`. The tests compare both on generated tokens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

__all__ = [
    "CompactToken",
    "TokenRefusedError",
    "parse",
    "sign_hs256",
    "unverified_claims",
    "validate_claims",
    "verify_hs256",
]

Reason = Literal["expired", "audience", "invalid"]

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
# Extensions of the `crit` header understood here (RFC 7797's `b64`, which must then not be false).
_SUPPORTED_CRIT = frozenset({"b64"})
# Openings of public keys in OpenSSH form: as an HMAC "secret" anyone could sign with them.
_SSH_KEY_PREFIXES = (b"ssh-", b"ecdsa-sha2-", b"sk-ssh-", b"sk-ecdsa-")


class TokenRefusedError(Exception):
    """A token that is not acceptable. ``reason``: "expired", "audience" (not meant for us) or "invalid"."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason: Reason = reason


@dataclass(frozen=True, slots=True)
class CompactToken:
    """A JWS in compact form, split and decoded, nothing verified yet."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def claims(self) -> dict[str, Any]:
        """The payload as a JSON object."""
        try:
            claims: Any = json.loads(self.payload)
        except (ValueError, RecursionError):
            raise TokenRefusedError("invalid", "the payload is not JSON") from None
        if not isinstance(claims, dict):
            raise TokenRefusedError("invalid", "the payload is not a JSON object")
        return cast(dict[str, Any], claims)


def parse(token: str) -> CompactToken:
    """``token`` split into header, payload and signature, with the header's own rules checked.

    Raises:
        TokenRefusedError: not a well-formed compact JWS (reason "invalid").
    """
    try:
        raw = token.encode("utf-8")
    except UnicodeEncodeError:
        raise TokenRefusedError("invalid", "the token is not text") from None
    signing_input, dot, signature_segment = raw.rpartition(b".")
    header_segment, dot2, payload_segment = signing_input.partition(b".")
    if not dot or not dot2:
        raise TokenRefusedError("invalid", "not enough segments")
    try:
        header: Any = json.loads(_segment(header_segment))
    except (ValueError, RecursionError):
        raise TokenRefusedError("invalid", "the header is not JSON") from None
    if not isinstance(header, dict):
        raise TokenRefusedError("invalid", "the header is not a JSON object")
    fields = cast(dict[str, Any], header)
    if fields.get("b64", True) is False:
        # An unencoded, detached payload (RFC 7797) is never how a token reaches atoms; PyJWT refuses it too
        # unless the caller hands the payload in separately.
        raise TokenRefusedError("invalid", "a detached payload (b64 false) is not accepted")
    payload = _segment(payload_segment)
    signature = _segment(signature_segment)
    if "kid" in fields and not isinstance(fields["kid"], str):
        raise TokenRefusedError("invalid", "kid must be a string")
    if "crit" in fields:
        _check_crit(fields)
    return CompactToken(fields, payload, signing_input, signature)


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The claims of a well-formed token WITHOUT checking its signature (to describe or refuse it, never to trust
    it), or None when ``token`` is not a JWT."""
    try:
        return parse(token).claims()
    except TokenRefusedError:
        return None


def sign_hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 JWT of ``claims`` (header `{"alg":"HS256","typ":"JWT"}`), as PyJWT encodes it."""
    header = _encode(b'{"alg":"HS256","typ":"JWT"}')
    payload = _encode(json.dumps(claims, separators=(",", ":")).encode("utf-8"))
    signing_input = header + b"." + payload
    return (signing_input + b"." + _encode(_hmac_sha256(_hmac_key(secret), signing_input))).decode("ascii")


def verify_hs256(
    token: str,
    secret: str,
    *,
    audience: str,
    issuer: str | None,
    leeway: float,
    required: Iterable[str] = ("exp", "sub"),
    check_expiry: bool = True,
    now: float | None = None,
) -> dict[str, Any]:
    """The claims of ``token`` after its HS256 signature with ``secret`` and its claims are verified.

    Raises:
        TokenRefusedError: malformed, another algorithm, a bad signature, or a claim that does not hold.
    """
    key = _hmac_key(secret)
    parsed = parse(token)
    algorithm = parsed.header.get("alg")
    if algorithm != "HS256":
        raise TokenRefusedError("invalid", "the algorithm is not allowed")
    if not hmac.compare_digest(parsed.signature, _hmac_sha256(key, parsed.signing_input)):
        raise TokenRefusedError("invalid", "signature verification failed")
    claims = parsed.claims()
    validate_claims(
        claims,
        audience=audience,
        issuer=issuer,
        leeway=leeway,
        required=required,
        check_expiry=check_expiry,
        now=time.time() if now is None else now,
    )
    return claims


def validate_claims(
    claims: dict[str, Any],
    *,
    audience: str,
    issuer: str | None,
    leeway: float,
    required: Iterable[str],
    check_expiry: bool,
    now: float,
) -> None:
    """The registered claims of a verified token, checked in PyJWT's order.

    Raises:
        TokenRefusedError: "expired" past `exp` (+ leeway), "audience" for an `aud` not naming ``audience``,
            "invalid" for anything else (a required claim missing, `iat`/`nbf` in the future, a wrong issuer, ...).
    """
    for name in required:
        if claims.get(name) is None:
            raise TokenRefusedError("invalid", f"the token has no {name!r} claim")
    if "iat" in claims and _numeric_date(claims["iat"], "iat") > now + leeway:
        raise TokenRefusedError("invalid", "the token is not yet valid (iat)")
    if "nbf" in claims and _numeric_date(claims["nbf"], "nbf") > now + leeway:
        raise TokenRefusedError("invalid", "the token is not yet valid (nbf)")
    if check_expiry and "exp" in claims and _numeric_date(claims["exp"], "exp") <= now - leeway:
        raise TokenRefusedError("expired", "the token has expired")
    if issuer is not None and claims.get("iss", _MISSING) != issuer:
        raise TokenRefusedError("invalid", "the issuer does not match")
    if not claims.get("aud"):
        raise TokenRefusedError("invalid", "the token has no 'aud' claim")
    named: Any = claims["aud"]
    if not isinstance(named, str | list):
        raise TokenRefusedError("audience", "the audience claim is malformed")
    audiences = [named] if isinstance(named, str) else cast(list[Any], named)
    if any(not isinstance(each, str) for each in audiences):
        raise TokenRefusedError("audience", "the audience claim is malformed")
    if audience not in audiences:
        raise TokenRefusedError("audience", "the audience does not match")
    if "sub" in claims and not isinstance(claims["sub"], str):
        raise TokenRefusedError("invalid", "sub must be a string")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise TokenRefusedError("invalid", "jti must be a string")


_MISSING = object()


def _numeric_date(value: Any, name: str) -> int:
    """A NumericDate claim as PyJWT reads it (`int(value)`: whole seconds; a number or digits)."""
    try:
        return int(value)
    except (ValueError, TypeError, OverflowError):
        raise TokenRefusedError("invalid", f"{name} must be an integer") from None


def _check_crit(header: dict[str, Any]) -> None:
    crit: Any = header["crit"]
    if not isinstance(crit, list) or not crit:
        raise TokenRefusedError("invalid", "crit must be a non-empty list")
    for extension in cast(list[Any], crit):
        if not isinstance(extension, str) or extension not in _SUPPORTED_CRIT or extension not in header:
            raise TokenRefusedError("invalid", "unsupported critical extension")


def _segment(segment: bytes) -> bytes:
    """One base64url segment decoded strictly: only the URL-safe alphabet, at most two `=` (and then only at a
    length that is a multiple of 4), and the canonical encoding of what it decodes to."""
    stripped = segment.rstrip(b"=")
    padding = len(segment) - len(stripped)
    if padding > 2 or (padding and len(segment) % 4) or len(stripped) % 4 == 1:
        raise TokenRefusedError("invalid", "bad base64url padding")
    if not _ALPHABET.issuperset(stripped):
        raise TokenRefusedError("invalid", "a character outside base64url")
    try:
        decoded = base64.urlsafe_b64decode(stripped + b"=" * (-len(stripped) % 4))
    except binascii.Error:
        raise TokenRefusedError("invalid", "bad base64url") from None
    if _encode(decoded) != stripped:
        raise TokenRefusedError("invalid", "non-canonical base64url")
    return decoded


def _encode(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _hmac_key(secret: str) -> bytes:
    """The secret as HMAC key; an empty one, or key material of another kind (PEM, OpenSSH, a JWK) is refused:
    configured by mistake, a public key would let anyone sign tokens (the algorithm-confusion attack)."""
    key = secret.encode("utf-8")
    if not key:
        raise TokenRefusedError("invalid", "the HS256 secret is empty")
    opening = key.lstrip()
    if b"-----BEGIN " in key or opening.startswith(_SSH_KEY_PREFIXES) or _is_json_object(opening):
        raise TokenRefusedError("invalid", "the HS256 secret is key material of another kind, not a shared secret")
    return key


def _is_json_object(text: bytes) -> bool:
    if not text.startswith(b"{"):
        return False
    try:
        return isinstance(json.loads(text), dict)
    except (ValueError, RecursionError):
        return False


def _hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()
