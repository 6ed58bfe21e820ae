"""Keeping a signed-in session alive and ending it: the refresh-token grant and RFC 7009 revocation.

Both need only what the credentials file keeps (token and revocation endpoints, client id, resource), so they run
without discovery and without the MCP SDK. The OAuth protocol work is authlib's.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuth2Client

from atoms_mcp.identity.credentials import Credentials, LoginError

__all__ = ["HTTP_TIMEOUT_SECONDS", "expires_at", "now", "refresh_credentials", "revoke_refresh_token"]

HTTP_TIMEOUT_SECONDS = 15.0


async def refresh_credentials(credentials: Credentials, http: httpx2.AsyncClient | None = None) -> Credentials:
    """Exchange the refresh token for new tokens (keeping the rotated refresh token).

    Raises:
        authlib.integrations.base_client.OAuthError: the server refused (e.g. invalid_grant: expired or revoked).
        httpx2.HTTPError: the server could not be reached.
        LoginError: there is no refresh token.
    """
    if not credentials.refresh_token:
        raise LoginError("the stored session has no refresh token")
    extra = {"resource": credentials.resource} if credentials.resource else {}
    client: Any = AsyncOAuth2Client(
        client_id=credentials.client_id, token_endpoint_auth_method="none", timeout=HTTP_TIMEOUT_SECONDS
    )
    async with client:
        token: Mapping[str, Any] = await client.refresh_token(
            credentials.token_endpoint, refresh_token=credentials.refresh_token, **extra
        )
    return credentials.model_copy(
        update={
            "access_token": token["access_token"],
            "token_type": token.get("token_type", credentials.token_type),
            # authlib keeps the old refresh token when the response carries none (no rotation).
            "refresh_token": token.get("refresh_token") or credentials.refresh_token,
            "expires_at": expires_at(token),
            "scope": token.get("scope", credentials.scope),
            "obtained_at": now(),
        }
    )


def revoke_refresh_token(credentials: Credentials) -> bool:
    """Revoke the refresh token at the server's RFC 7009 endpoint; False when none is advertised or it failed."""
    if not credentials.revocation_endpoint or not credentials.refresh_token:
        return False
    client: Any = OAuth2Client(
        client_id=credentials.client_id,
        token_endpoint_auth_method="none",
        revocation_endpoint_auth_method="none",
        timeout=HTTP_TIMEOUT_SECONDS,
    )
    with client:
        try:
            response: Any = client.revoke_token(
                credentials.revocation_endpoint, token=credentials.refresh_token, token_type_hint="refresh_token"
            )
        except httpx2.HTTPError:
            return False
    return response.status_code == 200


def expires_at(token: Mapping[str, Any]) -> int | None:
    """The access token's expiry (seconds since the epoch) as authlib computed it from `expires_in`."""
    value = token.get("expires_at")
    return int(value) if value is not None else None


def now() -> int:
    """The current time in whole seconds since the epoch."""
    return int(time.time())
