"""`atoms call` as a person runs it, beside the least a Python client can do for the same answer.

Variants, interleaved in one run: `atoms_call` (the whole command: interpreter start, imports, settings, one call
through the call pipeline with its rate-limit check and audit record, output); `floor_script` (a Python process that
imports psycopg, opens one connection as the gateway, takes on the same user and calls the same RPC); and
`python_startup` (`python -c pass`) for reference. The goal: `atoms call` within 2x the floor at p50.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from atoms_bench.harness import Figure, interleave
from atoms_bench.scenarios import BenchContext, server_settings

__all__ = ["FLOOR_SCRIPT", "cli_call"]

FLOOR_SCRIPT = """
import sys
import psycopg
url, claims, project, key = sys.argv[1:5]
with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
    conn.execute(
        "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
    )
    print(conn.execute("select public.atoms_get_item(project_id => %s, item_id => %s)", (project, key)).fetchone()[0])
"""


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {done.returncode}: {(done.stderr or done.stdout).strip()[-500:]}")


async def cli_call(ctx: BenchContext) -> None:
    """Wall time of `atoms call atoms_get_item` vs. the floor script vs. an empty interpreter (subprocesses)."""
    from atoms_mcp.identity.verifier import mint_token
    from atoms_mcp.settings import DEV_JWT_SECRET

    settings = server_settings(ctx)
    probe = ctx.probe
    token = mint_token(settings.jwt_secret or DEV_JWT_SECRET, user_id=probe.viewer_id, email=None, ttl_seconds=6 * 3600)
    claims = json.dumps({"sub": probe.viewer_id, "role": "authenticated", "aud": "authenticated"})
    env = {
        "PATH": "/usr/bin:/bin",
        "ATOMS_DEV": "1",
        "ATOMS_DATABASE_URL": ctx.url,
        "ATOMS_GATEWAY_DATABASE_URL": ctx.gateway,
        "ATOMS_ACCESS_TOKEN": token,
        "ATOMS_RATE_LIMIT_RPM": "10000",
        "ATOMS_STATE_DIR": str(ctx.state_dir),
    }
    atoms = str(Path(sys.executable).parent / "atoms")
    arguments = json.dumps({"project_id": probe.project_id, "item_id": probe.requirement_key})
    samples = await interleave(
        {
            "atoms_call": lambda: _run([atoms, "call", "atoms_get_item", arguments], env),
            "floor_script": lambda: _run(
                [sys.executable, "-c", FLOOR_SCRIPT, ctx.gateway, claims, probe.project_id, probe.requirement_key], env
            ),
            "python_startup": lambda: _run([sys.executable, "-c", "pass"], env),
        },
        iterations=min(ctx.iterations, 10 if ctx.smoke else 30),
        warmup=2,
    )
    ctx.figures.append(
        Figure(
            "cli", "atoms call vs floor script (get_item)", samples, "atoms_call", "floor_script", 2.0, "<= 2x at p50"
        )
    )
    ctx.figures.append(Figure("cli", "floor script vs empty interpreter", samples, "floor_script", "python_startup"))
