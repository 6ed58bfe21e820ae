"""Verification of the user's JWT, and dev tokens.

A token is accepted only if its signature verifies (HS256 with `ATOMS_JWT_SECRET`, or RS256/ES256 keys from
`ATOMS_JWKS_URL`), it has not expired, its audience is `ATOMS_JWT_AUDIENCE`, it names a user (`sub`) and its
`role` claim is `authenticated` - a service_role or anon token is refused, so the MCP server can never act
with more than a signed-in user's rights. The verified claims are what the database sees as
`request.jwt.claims`; nothing from the client is trusted beyond them.

HS256 tokens are checked by `identity.compact_jwt` (the standard library); PyJWT, its JWKS client and the
`cryptography` package load only when a JWKS URL is configured.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from atoms_mcp.core.caller import SIGN_IN_HINT, TokenStatus, VerifiedUser
from atoms_mcp.core.errors import UnauthenticatedError
from atoms_mcp.identity.compact_jwt import TokenRefusedError, sign_hs256, verify_hs256
from atoms_mcp.settings import Settings, require_token_keys

if TYPE_CHECKING:
    from jwt import PyJWKClient

__all__ = ["REQUIRED_ROLE", "JwtVerifier", "mint_token"]

REQUIRED_ROLE = "authenticated"
# Seconds of clock difference tolerated between the issuer and this machine (exp, nbf, iat).
LEEWAY_SECONDS = 5
REQUIRED_CLAIMS = ("exp", "sub")
_REFUSALS = {
    "expired": f"Your session has expired. {SIGN_IN_HINT}",
    "audience": f"The token is not meant for atoms (audience). {SIGN_IN_HINT}",
    "invalid": f"The access token was rejected. {SIGN_IN_HINT}",
}


class JwtVerifier:
    """Verifies user JWTs by the settings' key material, audience and issuer."""

    def __init__(self, settings: Settings) -> None:
        """Raises ConfigurationError without token keys, or with the demo secret outside ATOMS_DEV=1."""
        require_token_keys(settings)
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._secret = settings.jwt_secret
        self._jwks = _jwks_client(settings.jwks_url) if settings.jwks_url else None

    async def verify(self, token: str, *, check_expiry: bool = True) -> VerifiedUser:
        """The verified user of ``token``.

        Raises:
            UnauthenticatedError: bad signature, expired, wrong audience/issuer, not a signed-in user's token.
        """
        try:
            if self._jwks is not None:
                claims = await self._verify_with_jwks(self._jwks, token, check_expiry=check_expiry)
            else:
                claims = verify_hs256(
                    token,
                    self._secret or "",
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=LEEWAY_SECONDS,
                    required=REQUIRED_CLAIMS,
                    check_expiry=check_expiry,
                )
        except TokenRefusedError as refused:
            raise UnauthenticatedError(_REFUSALS[refused.reason]) from None
        if claims.get("role") != REQUIRED_ROLE:
            raise UnauthenticatedError(
                f"Only a signed-in user's token is accepted (role must be 'authenticated'). {SIGN_IN_HINT}"
            )
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise UnauthenticatedError(f"The token names no user. {SIGN_IN_HINT}")
        exp = claims.get("exp")
        email = claims.get("email")
        return VerifiedUser(
            user_id=sub,
            email=email if isinstance(email, str) else None,
            expires_at=int(exp) if isinstance(exp, int | float) else None,
            claims=claims,
        )

    async def _verify_with_jwks(self, jwks: PyJWKClient, token: str, *, check_expiry: bool) -> dict[str, Any]:
        """The claims of an RS256/ES256 token whose key the JWKS names (PyJWT; the key set fetched off-loop)."""
        import anyio.to_thread
        import jwt

        try:
            signing_key = await anyio.to_thread.run_sync(jwks.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=["RS256", "ES256"],
                audience=self._audience,
                issuer=self._issuer,
                options={"require": list(REQUIRED_CLAIMS), "verify_exp": check_expiry},
                leeway=LEEWAY_SECONDS,
            )
        except jwt.ExpiredSignatureError:
            raise TokenRefusedError("expired", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise TokenRefusedError("audience", "the audience does not match") from None
        except (jwt.PyJWTError, ValueError) as error:
            raise TokenRefusedError("invalid", str(error)) from None
        return claims

    async def status(self, token: str | None) -> TokenStatus:
        """authenticated / not_authenticated / expired, for atoms_status (never raises)."""
        if not token:
            return TokenStatus("not_authenticated", None, f"Not signed in. {SIGN_IN_HINT}")
        try:
            user = await self.verify(token)
        except UnauthenticatedError as error:
            try:
                expired = await self.verify(token, check_expiry=False)
            except UnauthenticatedError:
                return TokenStatus("not_authenticated", None, error.message)
            return TokenStatus("expired", expired.email, error.message)
        return TokenStatus.of(user)


def _jwks_client(url: str) -> PyJWKClient:
    """PyJWT's JWKS client (keys cached), loaded only for a configured JWKS URL."""
    import jwt

    return jwt.PyJWKClient(url, cache_keys=True)


def mint_token(
    secret: str,
    *,
    user_id: str,
    email: str | None,
    audience: str = "authenticated",
    ttl_seconds: int = 3600,
    role: str = REQUIRED_ROLE,
    now: int | None = None,
) -> str:
    """An HS256 JWT shaped like Supabase Auth's, for local development and tests."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": role,
        "aud": audience,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "aal": "aal1",
    }
    if email is not None:
        claims["email"] = email
    return sign_hs256(claims, secret)
