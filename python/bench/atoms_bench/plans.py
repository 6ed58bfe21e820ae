"""The plans the read RPCs really run: auto_explain with nested statements, captured as notices.

EXPLAIN of ``select public.atoms_x(...)`` shows only a Result node: the RPC bodies are functions. auto_explain
(``log_nested_statements``) logs the plan of every statement the function executes; with
``auto_explain.log_level = notice`` those plans reach the client as notices, which a psycopg notice handler
collects. The caller acts as a viewer, so the plans are the ones RLS and the RPC produce for a real user.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg

from atoms_bench.workload import Probe, ReadCall, act_as, read_statement

__all__ = ["BIG_TABLES", "CallPlans", "capture_plans", "render_plan", "seq_scans"]

BIG_TABLES = frozenset({"items", "item_links", "test_results", "change_history"})


@dataclass(slots=True)
class CallPlans:
    """The statements one RPC call executed, each with its JSON plan."""

    call: str
    plans: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None


def _nodes(node: dict[str, object]) -> Iterator[dict[str, object]]:
    yield node
    for child in node.get("Plans", []) or []:  # type: ignore[union-attr]
        yield from _nodes(child)  # type: ignore[arg-type]


def seq_scans(plans: CallPlans, tables: frozenset[str] = BIG_TABLES) -> list[str]:
    """'<relation> in <query>' for every sequential scan of one of ``tables``."""
    found = []
    for plan in plans.plans:
        for node in _nodes(plan["Plan"]):  # type: ignore[arg-type]
            if node.get("Node Type") == "Seq Scan" and node.get("Relation Name") in tables:
                query = " ".join(str(plan.get("Query Text", "")).split())[:160]
                found.append(f"{node['Relation Name']} in: {query}")
    return found


def render_plan(plan: dict[str, object]) -> str:
    """A compact text tree: node type, relation, index, actual rows."""
    lines: list[str] = []

    def walk(node: dict[str, object], depth: int) -> None:
        parts = [str(node.get("Node Type"))]
        if node.get("Relation Name"):
            parts.append(f"on {node['Relation Name']}")
        if node.get("Index Name"):
            parts.append(f"using {node['Index Name']}")
        if node.get("Subplan Name"):
            parts.append(f"({node['Subplan Name']})")
        if "Actual Rows" in node:
            parts.append(f"rows={node['Actual Rows']} loops={node.get('Actual Loops')}")
        lines.append("  " * depth + " ".join(parts))
        for child in node.get("Plans", []) or []:  # type: ignore[union-attr]
            walk(child, depth + 1)  # type: ignore[arg-type]

    walk(plan["Plan"], 0)  # type: ignore[arg-type]
    return "\n".join(lines)


def capture_plans(conn: psycopg.Connection, calls: list[ReadCall], probe: Probe) -> list[CallPlans]:
    """Run each call as the probe's viewer with auto_explain on; return the nested statements' plans.

    ``conn`` must be a superuser connection (LOAD and the auto_explain settings are superuser-only); each call
    runs in its own rolled-back transaction as the viewer.
    """
    conn.execute("load 'auto_explain'")
    for setting, value in (
        ("auto_explain.log_min_duration", "0"),
        ("auto_explain.log_nested_statements", "on"),
        ("auto_explain.log_analyze", "on"),
        ("auto_explain.log_timing", "off"),
        ("auto_explain.log_format", "json"),
        ("auto_explain.log_level", "notice"),
        ("client_min_messages", "notice"),
    ):
        conn.execute("select set_config(%s, %s, false)", (setting, value))
    captured: list[str] = []

    def on_notice(diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary and "plan:" in diag.message_primary:
            captured.append(diag.message_primary)

    conn.add_notice_handler(on_notice)
    results = []
    try:
        for call in calls:
            statement, params = read_statement(call, probe)
            captured.clear()
            outcome = CallPlans(call.name)
            try:
                with conn.transaction(force_rollback=True):
                    act_as(conn, probe.viewer_id)
                    conn.execute(statement, params)
            except psycopg.Error as error:
                outcome.error = f"{type(error).__name__}: {error}"
            for message in captured:
                plan = json.loads(message.split("plan:", 1)[1])
                query = str(plan.get("Query Text", ""))
                # The top-level call itself is only a Result node over the function.
                head = query.lstrip().lower()
                if head.startswith(('select "public".', "select set_config(")):
                    continue
                outcome.plans.append(plan)
            results.append(outcome)
    finally:
        conn.remove_notice_handler(on_notice)
        conn.execute("select set_config('auto_explain.log_min_duration', '-1', false)")
    return results
