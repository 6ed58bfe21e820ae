"""The HTTP transport's first line: requests refused before identification, counted and limited per client address.

`RequestGuard` wraps the whole HTTP app (outside authentication). For each request it
- refuses at once (429) a request from a client address that used up its refusals of this minute
  (ATOMS_REFUSALS_PER_MINUTE), unless it carries a bearer token that verifies (users behind the same address as an
  attacker keep working; the per-user rate limit then applies);
- refuses a body over ATOMS_MAX_BODY_BYTES (413), read in chunks and never buffered past the cap;
- refuses a `tools/call` whose arguments hold more than ATOMS_MAX_ARGUMENT_KEYS keys or nest deeper than
  ATOMS_MAX_ARGUMENT_DEPTH (400 with a JSON-RPC -32602 error), before any token is verified or model built;
- counts every such refusal, and every 401 the authentication answers, in the `RefusalCounter` under the client's
  address; the counts reach the audit log as one row per (address, minute, reason).
Large bodies are parsed in a worker thread, never on the event loop. The client address is the peer's, or, when
the peer is one of ATOMS_TRUSTED_PROXIES, the nearest X-Forwarded-For entry that is not a trusted proxy.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from typing import Any, cast

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atoms_mcp.core.caller import Verifier
from atoms_mcp.core.errors import UnauthenticatedError
from atoms_mcp.core.refusals import RefusalCounter
from atoms_mcp.core.validation import StructureError, check_structure
from atoms_mcp.settings import Settings

__all__ = ["RequestGuard", "client_address", "client_address_of"]

UNKNOWN_ADDRESS = "0.0.0.0"
# Bodies larger than this are parsed in a worker thread.
OFF_LOOP_BYTES = 64 * 1024

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _networks(settings: Settings) -> list[Network]:
    return [ipaddress.ip_network(entry, strict=False) for entry in settings.trusted_proxies]


def _parsed(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address: ``peer``, or, when the peer is a trusted proxy, the rightmost X-Forwarded-For entry
    that is not one (entries that are not IP addresses end the walk)."""
    address = _parsed(peer) if peer else None
    if address is None:
        return UNKNOWN_ADDRESS
    if forwarded_for:
        for entry in reversed(forwarded_for.split(",")):
            if not any(address in network for network in trusted):
                break
            forwarded = _parsed(entry)
            if forwarded is None:
                break
            address = forwarded
    return str(address)


def client_address_of(request: Any, settings: Settings) -> str | None:
    """The client address of a Starlette request (None on stdio and in-memory connections)."""
    scope: Any = getattr(request, "scope", None)
    if not isinstance(scope, dict):
        return None
    return _address_of_scope(cast(dict[str, Any], scope), _networks(settings))


def _address_of_scope(scope: Mapping[str, Any], trusted: Sequence[Network]) -> str:
    client: Any = scope.get("client")
    peer = str(client[0]) if client else None
    forwarded: str | None = None
    if trusted:
        for name, value in cast(list[tuple[bytes, bytes]], scope.get("headers") or []):
            if name.lower() == b"x-forwarded-for":
                forwarded = value.decode("latin-1") if forwarded is None else f"{forwarded},{value.decode('latin-1')}"
    return client_address(peer, forwarded, trusted)


class RequestGuard:
    """ASGI middleware: structural caps and the per-address refusal limit before identification (see the module)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, refusals: RefusalCounter, verifier: Verifier) -> None:
        self.app = app
        self._refusals = refusals
        self._verifier = verifier
        self._trusted = _networks(settings)
        self._max_body = settings.max_body_bytes
        self._max_keys = settings.max_argument_keys
        self._max_depth = settings.max_argument_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        address = _address_of_scope(scope, self._trusted)
        if self._refusals.is_limited(address) and not await self._verified(scope):
            self._refusals.count(address, "RATE_LIMITED")
            await _answer(send, 429, {"error": "too_many_requests", "error_description": "Too many refused requests."})
            return
        refusals = self._refusals

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                refusals.count(address, "UNAUTHENTICATED")
            await send(message)

        if scope.get("method") != "POST":
            await self.app(scope, receive, counting_send)
            return
        body = await self._read_body(scope, receive)
        if body is None:
            refusals.count(address, "PAYLOAD_TOO_LARGE")
            await _answer(send, 413, {"error": "payload_too_large", "error_description": "The request is too large."})
            return
        refusal = await self._structure_refusal(body)
        if refusal is not None:
            error, request_id = refusal
            refusals.count(address, error.reason)
            await _answer(
                send, 400, {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32602, "message": error.message}}
            )
            return
        await self.app(scope, _replay(body, receive), counting_send)

    async def _verified(self, scope: Scope) -> bool:
        """Whether the request carries a bearer token that verifies."""
        for name, value in cast(list[tuple[bytes, bytes]], scope.get("headers") or []):
            if name.lower() == b"authorization" and value[:7].lower() == b"bearer ":
                try:
                    await self._verifier.verify(value[7:].decode("latin-1").strip())
                except UnauthenticatedError:
                    return False
                return True
        return False

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it exceeds the cap (by Content-Length or by what arrives)."""
        for name, value in cast(list[tuple[bytes, bytes]], scope.get("headers") or []):
            if name.lower() == b"content-length" and value.isdigit() and int(value) > self._max_body:
                return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = cast(bytes, message.get("body", b""))
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _structure_refusal(self, body: bytes) -> tuple[StructureError, Any] | None:
        """The first tools/call message of ``body`` whose arguments exceed a cap, with its JSON-RPC id."""
        # Every body is parsed (no substring shortcut: JSON may escape the method name, e.g. a slash as \\/).
        if len(body) > OFF_LOOP_BYTES:
            return await anyio.to_thread.run_sync(self._check, body)
        return self._check(body)

    def _check(self, body: bytes) -> tuple[StructureError, Any] | None:
        try:
            parsed: Any = json.loads(body)
        except ValueError:
            return None  # not JSON: the transport answers it (a parse error is no tool call)
        messages: list[Any] = cast(list[Any], parsed) if isinstance(parsed, list) else [parsed]
        for message in messages:
            if not isinstance(message, dict):
                continue
            request = cast(dict[str, Any], message)
            if request.get("method") != "tools/call":
                continue
            params: Any = request.get("params")
            arguments: Any = cast(dict[str, Any], params).get("arguments") if isinstance(params, dict) else None
            try:
                check_structure(arguments, max_keys=self._max_keys, max_depth=self._max_depth)
            except StructureError as error:
                request_id: Any = request.get("id")
                return error, request_id if isinstance(request_id, str | int) else None
        return None


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands the app the body already read, then the client's later messages (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(send: Send, status: int, payload: Mapping[str, Any]) -> None:
    body = json.dumps(payload).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
