"""HS256 tokens checked with the standard library decide exactly as PyJWT decides: the same tokens accepted with the
same claims, the same tokens refused for the same reason (expired, audience, anything else), on generated tokens
that are well formed, forged, re-encoded, mangled, or carry claims and headers of every odd shape."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoms_mcp.identity.compact_jwt import TokenRefusedError, sign_hs256, unverified_claims, verify_hs256

SECRET = "a-shared-secret-of-more-than-thirty-two-bytes"
OTHER_SECRET = "another-shared-secret-of-more-than-32-bytes"
AUDIENCE = "authenticated"
ISSUER = "https://auth.example.test/auth/v1"
LEEWAY = 5
REQUIRED = ("exp", "sub")

_MISSING = object()
# Offsets from now far from every boundary (exp at now - leeway, iat/nbf at now + leeway), so the two checks
# taken a moment apart cannot fall on different sides.
TIME_OFFSETS = st.sampled_from([-86_400, -60, 0, 60, 86_400])
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(alphabet="0123456789e.-x ", max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=1),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _time_claim(now: int) -> st.SearchStrategy[Any]:
    return st.one_of(
        TIME_OFFSETS.map(lambda offset: now + offset),
        TIME_OFFSETS.map(lambda offset: float(now + offset) + 0.5),
        TIME_OFFSETS.map(lambda offset: str(now + offset)),
        ODD_VALUES,
        st.just(_MISSING),
    )


@st.composite
def claims(draw: st.DrawFn) -> dict[str, Any]:
    """Claims of every shape: all drawn at random, or a good set with one claim drawn at random."""
    now = int(time.time())
    odd: dict[str, st.SearchStrategy[Any]] = {
        "exp": _time_claim(now),
        "iat": _time_claim(now),
        "nbf": st.one_of(st.just(_MISSING), _time_claim(now)),
        "sub": st.one_of(st.just(""), ODD_VALUES, st.just(_MISSING)),
        "aud": st.one_of(
            st.sampled_from(["some-other-api", [AUDIENCE, "x"], ["x"], [], "", [AUDIENCE, 1]]),
            ODD_VALUES,
            st.just(_MISSING),
        ),
        "iss": st.one_of(st.just(_MISSING), st.sampled_from([ISSUER, "https://elsewhere.test"]), ODD_VALUES),
        "jti": st.one_of(st.just(_MISSING), st.just("id-1"), ODD_VALUES),
    }
    drawn: dict[str, Any] = {
        "exp": now + 600,
        "iat": now,
        "sub": "a0000000-0000-4000-8000-0000000000a2",
        "aud": AUDIENCE,
        "iss": ISSUER,
        "role": "authenticated",
    }
    if draw(st.booleans()):
        changed = draw(st.sampled_from([*odd, None]))
        if changed is not None:
            drawn[changed] = draw(odd[changed])
    else:
        drawn.update({name: draw(strategy) for name, strategy in odd.items()})
    return {name: value for name, value in drawn.items() if value is not _MISSING}


@st.composite
def headers(draw: st.DrawFn) -> dict[str, Any]:
    """Headers of every shape: all drawn at random, or `{"alg": "HS256", "typ": "JWT"}` with one field changed."""
    odd: dict[str, st.SearchStrategy[Any]] = {
        "alg": st.one_of(st.sampled_from(["none", "HS512", "RS256", "hs256", "", _MISSING]), ODD_VALUES),
        "typ": st.sampled_from(["JWT", "at+jwt", _MISSING]),
        "kid": st.one_of(st.just("key-1"), ODD_VALUES),
        "crit": st.sampled_from([["b64"], [], ["exp"], "b64", [1], ["b64", "b64"]]),
        "b64": st.sampled_from([True, False]),
    }
    drawn: dict[str, Any] = {"alg": "HS256", "typ": "JWT"}
    if draw(st.booleans()):
        changed = draw(st.sampled_from(sorted(odd)))
        drawn[changed] = draw(odd[changed])
    else:
        drawn.update({name: draw(st.one_of(st.just(_MISSING), strategy)) for name, strategy in odd.items()})
        drawn["alg"] = draw(st.sampled_from(["HS256", drawn["alg"]]))
    return {name: value for name, value in drawn.items() if value is not _MISSING}


def _non_canonical(segment: str) -> str:
    """The segment with the unused low bits of its last character set: the same bytes, encoded non-canonically."""
    if len(segment) % 4 not in (2, 3):
        return segment
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]


def _token(header: dict[str, Any], payload: bytes, secret: str) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(payload)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@st.composite
def tokens(draw: st.DrawFn) -> str:
    header = draw(headers()) if draw(st.integers(0, 2)) == 0 else {"alg": "HS256", "typ": "JWT"}
    payload = draw(
        st.one_of(
            claims().map(lambda c: json.dumps(c).encode()),
            st.sampled_from([b"[]", b"null", b"not json", b'{"a": ', b"\xff\xfe"]),
        )
    )
    token = _token(header, payload, draw(st.sampled_from([SECRET, SECRET, SECRET, OTHER_SECRET])))
    mangle = draw(st.sampled_from(["none"] * 6 + ["pad", "char", "cut", "extra", "swap-alg", "non-canonical"]))
    segments = token.split(".")
    head, body, signature = segments
    if mangle in ("pad", "non-canonical"):
        which = draw(st.integers(0, 2))
        padding = "=" * draw(st.integers(1, 4))
        segments[which] = segments[which] + padding if mangle == "pad" else _non_canonical(segments[which])
        return ".".join(segments)
    if mangle == "char":
        position = draw(st.integers(min_value=0, max_value=len(token) - 1))
        return token[:position] + draw(st.sampled_from(["!", "+", "/", "A", "é", ".", " "])) + token[position + 1 :]
    if mangle == "cut":
        return token[: draw(st.integers(min_value=0, max_value=len(token) - 1))]
    if mangle == "extra":
        return f"{token}.{signature}"
    if mangle == "swap-alg":
        return f"{_b64(json.dumps({'alg': 'none'}).encode())}.{body}.{signature}"
    return token


def _pyjwt(token: str, *, issuer: str | None, check_expiry: bool) -> tuple[str, dict[str, Any] | None]:
    try:
        decoded = jwt.decode(
            token,
            SECRET,
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": list(REQUIRED), "verify_exp": check_expiry},
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        return "expired", None
    except jwt.InvalidAudienceError:
        return "audience", None
    except (jwt.PyJWTError, ValueError):
        return "invalid", None
    return "accepted", decoded


def _ours(token: str, *, issuer: str | None, check_expiry: bool) -> tuple[str, dict[str, Any] | None]:
    try:
        decoded = verify_hs256(
            token, SECRET, audience=AUDIENCE, issuer=issuer, leeway=LEEWAY, required=REQUIRED, check_expiry=check_expiry
        )
    except TokenRefusedError as refused:
        return refused.reason, None
    return "accepted", decoded


def _same_json(left: Any, right: Any) -> bool:
    return json.dumps(left, sort_keys=True) == json.dumps(right, sort_keys=True)


# Hand-picked encodings beside the generated ones: a good token, then each base64url rule broken once.
_GOOD = _token(
    {"alg": "HS256", "typ": "JWT"},
    json.dumps({"sub": "u", "aud": AUDIENCE, "iss": ISSUER, "exp": 4_102_444_800, "iat": 1_700_000_000}).encode(),
    SECRET,
)
_HEAD, _BODY, _SIGNATURE = _GOOD.split(".")
EDGE_TOKENS = [
    _GOOD,
    f"{_HEAD}====.{_BODY}.{_SIGNATURE}",
    f"{_HEAD}=.{_BODY}.{_SIGNATURE}",
    f"{_HEAD}.{_BODY}!.{_SIGNATURE}",
    f"{_HEAD}.{_BODY}.{_non_canonical(_SIGNATURE)}",
    f"{_HEAD}.{_non_canonical(_BODY)}.{_SIGNATURE}",
]


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token=tokens(), issuer=st.sampled_from([None, ISSUER]), check_expiry=st.booleans())
def test_hs256_verification_decides_as_pyjwt_decides(token: str, issuer: str | None, check_expiry: bool) -> None:
    theirs, their_claims = _pyjwt(token, issuer=issuer, check_expiry=check_expiry)
    ours, our_claims = _ours(token, issuer=issuer, check_expiry=check_expiry)
    assert ours == theirs
    assert _same_json(our_claims, their_claims)


@pytest.mark.parametrize("token", EDGE_TOKENS, ids=["good", "4-pad", "1-pad", "foreign", "sig-bits", "body-bits"])
def test_each_base64url_rule_is_pyjwts(token: str) -> None:
    assert _ours(token, issuer=ISSUER, check_expiry=True) == _pyjwt(token, issuer=ISSUER, check_expiry=True)


@settings(max_examples=500, deadline=None)
@given(token=tokens())
def test_unverified_claims_are_pyjwts_unverified_decode(token: str) -> None:
    try:
        theirs: dict[str, Any] | None = jwt.decode(
            token, options={"verify_signature": False, "verify_exp": False, "verify_aud": False}
        )
    except jwt.PyJWTError:
        theirs = None
    assert _same_json(unverified_claims(token), theirs)


@settings(max_examples=200, deadline=None)
@given(payload=claims().filter(lambda c: isinstance(c.get("iss", ""), str)))  # PyJWT refuses to sign another iss
def test_signing_writes_the_token_pyjwt_writes(payload: dict[str, Any]) -> None:
    assert sign_hs256(payload, SECRET) == jwt.encode(payload, SECRET, algorithm="HS256")


def test_the_generated_tokens_reach_every_outcome() -> None:
    """The differential test above is only as good as its tokens: each outcome occurs among them."""
    outcomes: set[str] = set()

    @settings(max_examples=1000, deadline=None, database=None, derandomize=True)
    @given(token=tokens())
    def collect(token: str) -> None:
        outcomes.add(_ours(token, issuer=None, check_expiry=True)[0])

    collect()
    assert outcomes == {"accepted", "expired", "audience", "invalid"}


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtlc3Qta2V5LW9mLWF0LWxlYXN0LTMyLWJ5dGVz user@host",
        '{"kty": "RSA", "n": "0vx7agoebGcQSuu", "e": "AQAB"}',
    ],
    ids=["empty", "pem-public-key", "ssh-public-key", "jwk"],
)
def test_a_secret_that_is_public_key_material_verifies_nothing(secret: str) -> None:
    claims = {"sub": "u", "aud": AUDIENCE, "exp": int(time.time()) + 600}
    token = _token({"alg": "HS256", "typ": "JWT"}, json.dumps(claims).encode(), secret)
    with pytest.raises(TokenRefusedError) as refused:
        verify_hs256(token, secret, audience=AUDIENCE, issuer=None, leeway=LEEWAY)
    assert refused.value.reason == "invalid"


def test_the_algorithm_is_pinned_whatever_the_token_names() -> None:
    claims = {"sub": "u", "aud": AUDIENCE, "exp": int(time.time()) + 600}
    long_secret = SECRET * 2  # long enough for HS512, so PyJWT signs without a key-length warning
    for algorithm in ("none", "HS384", "HS512"):
        token = jwt.encode(claims, long_secret if algorithm != "none" else "", algorithm=algorithm)
        with pytest.raises(TokenRefusedError, match="algorithm"):
            verify_hs256(token, long_secret, audience=AUDIENCE, issuer=None, leeway=LEEWAY)
    assert verify_hs256(sign_hs256(claims, SECRET), SECRET, audience=AUDIENCE, issuer=None, leeway=LEEWAY) == claims
