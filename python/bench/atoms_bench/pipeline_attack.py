"""The call pipeline under load: how a call takes its rate-limit slot, and a call's latency during an attack.

- metering: one user's 4 concurrent `atoms_list_items` calls, slot + RPC in one round trip, with the gateway's two
  variants interleaved: `savepoint` (one transaction, the limiter's row lock held until the RPC commits, so the
  user's calls queue) and `pipelined` (the slot's transaction committed before the RPC's, in one pipeline). The
  ratio is the burst's wall time, savepoint / pipelined.
- attack: an ordinary `atoms_list_projects` call over streamable HTTP while two clients keep posting tools/call
  requests with 20,000 unknown argument names (260 KB each, under the body cap), against the same call on a
  quiet server. The ratio is the call's latency during the attack / without it.
Measures; never fails on time.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from atoms_bench.harness import Figure, interleave
from atoms_bench.scenarios import BenchContext, _check, _token, http_client, http_server, server_settings

__all__ = ["attack_ratio", "metering"]

BURST = 4


async def metering(ctx: BenchContext) -> None:
    """Burst of one user's concurrent calls: savepoint vs pipelined slot + RPC."""
    from atoms_mcp.core.gateway import CallContext, Gateway, Metering

    settings = server_settings(ctx, pool_max_size=BURST)
    p = ctx.probe
    call = CallContext(
        claims={"sub": p.viewer_id, "role": "authenticated", "aud": "authenticated"},
        actor="mcp_bench",
        session_id="bench",
        client_name="bench",
    )
    arguments = {"project_id": p.project_id, "limit": 50}
    gateways = {m.value: Gateway(settings, metering=m, connections=BURST) for m in Metering}
    for gateway in gateways.values():
        await gateway.open()
    try:

        def burst(gateway: Gateway) -> Any:
            async def run() -> None:
                await asyncio.gather(
                    *(gateway.call_rpc("atoms_list_items", arguments, call, rate_limit=10_000) for _ in range(BURST))
                )

            return run

        samples = await interleave({name: burst(g) for name, g in gateways.items()}, iterations=ctx.iterations)
    finally:
        for gateway in gateways.values():
            await gateway.close()
    figure = Figure(
        scenario="metering",
        label=f"one user's {BURST} concurrent calls, slot + RPC: savepoint / pipelined (burst wall time)",
        samples=samples,
        numerator="savepoint",
        denominator="pipelined",
        note="pipelined commits the slot before the RPC starts; savepoint holds the limiter's row lock until "
        "the RPC commits (the user's calls queue behind it)",
    )
    ctx.figures.append(figure)
    ctx.metrics["metering_savepoint_over_pipelined_p50"] = figure.ratio_p50


async def attack_ratio(ctx: BenchContext) -> None:
    """A call's latency during the 20,000-unknown-keys attack / without it (streamable HTTP)."""
    import json

    import httpx2

    settings = server_settings(ctx)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "atoms_list_projects", "arguments": {f"unknown_{i:05d}": i for i in range(20_000)}},
    }
    raw = json.dumps(body).encode()  # encoded once: the attacker's JSON work must not load the measuring loop
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    with http_server(ctx) as url:
        async with (
            http_client(url, _token(settings, ctx.probe.viewer_id)) as session,
            httpx2.AsyncClient(timeout=120) as attacker,
        ):

            async def attack_loop() -> None:
                while True:
                    with contextlib.suppress(httpx2.HTTPError):
                        await attacker.post(url, content=raw, headers=headers)

            async def quiet() -> None:
                _check(await session.call_tool("atoms_list_projects", {"limit": 1}))

            async def attacked() -> None:
                tasks = [asyncio.ensure_future(attack_loop()) for _ in range(2)]
                try:
                    await asyncio.sleep(0.005)  # the attack requests are in flight (timed: 5 ms of the figure)
                    _check(await session.call_tool("atoms_list_projects", {"limit": 1}))
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)

            samples = await interleave({"attacked": attacked, "quiet": quiet}, iterations=ctx.iterations)
    figure = Figure(
        scenario="attack",
        label="atoms_list_projects over HTTP during a 20,000-unknown-keys attack / without it",
        samples=samples,
        numerator="attacked",
        denominator="quiet",
        note="the attack is refused before identification by the key-count cap (400, counted per address; then 429 "
        "once the address used up its refusals); attacked includes a 5 ms head start of the attack",
    )
    ctx.figures.append(figure)
    ctx.metrics["attack_ratio_p50"] = figure.ratio_p50
