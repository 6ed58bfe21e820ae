"""The fire-and-forget audit queue: batching, never blocking, retry with backoff, flush, spill and replay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from atoms_mcp.core.audit import AuditQueue, AuditRecordRejectedError, json_safe, sanitize_params
from mcp_support import ListSink

pytestmark = pytest.mark.anyio


def rec(i: int) -> dict[str, Any]:
    return {"tool_name": "atoms_get_item", "status": "success", "duration_ms": i, "params": {"n": i}}


class FlakySink(ListSink):
    """Fails the first `failures` writes (database down), then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.attempts = 0

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("database unreachable")
        await super().write(records)


class GatedSink(ListSink):
    """Blocks every write until the test opens the gate (a very slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.waiting.set()
        await self.gate.wait()
        await super().write(records)


class DownSink(ListSink):
    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        raise ConnectionError("database unreachable")


async def wait_until(predicate: Any) -> None:
    with anyio.fail_after(5):
        while not predicate():
            await asyncio.sleep(0.005)


async def test_every_record_is_written_once_in_order_and_in_batches(tmp_path: Path) -> None:
    sink = ListSink()
    async with AuditQueue(sink, state_dir=tmp_path, batch_size=7) as queue:
        for i in range(50):
            queue.record(rec(i))
        await wait_until(lambda: len(sink.records) == 50)
    assert [r["duration_ms"] for r in sink.records] == list(range(50))
    assert queue.written == 50 and queue.spilled == 0


async def test_recording_never_waits_for_a_slow_sink(tmp_path: Path) -> None:
    sink = GatedSink()
    async with AuditQueue(sink, state_dir=tmp_path, batch_size=10) as queue:
        queue.record(rec(0))
        with anyio.fail_after(5):
            await sink.waiting.wait()  # the writer is now stuck inside the sink
        for i in range(1, 100):
            queue.record(rec(i))  # returns at once: nothing here awaits the sink
        assert len(queue) == 100 and sink.records == []
        sink.gate.set()
        await wait_until(lambda: len(sink.records) == 100)


async def test_records_survive_a_database_outage_and_arrive_once_it_is_back(tmp_path: Path) -> None:
    sink = FlakySink(failures=4)
    async with AuditQueue(sink, state_dir=tmp_path, batch_size=5, initial_backoff=0.01) as queue:
        for i in range(12):
            queue.record(rec(i))
        await wait_until(lambda: len(sink.records) == 12)
    assert sink.attempts > 4
    assert sorted(r["duration_ms"] for r in sink.records) == list(range(12))


async def test_shutdown_flushes_what_is_queued(tmp_path: Path) -> None:
    sink = ListSink()
    queue = AuditQueue(sink, state_dir=tmp_path)
    async with queue:
        for i in range(30):
            queue.record(rec(i))
    assert len(sink.records) == 30
    assert not queue.spill_path.exists()


async def test_unwritten_records_are_spilled_at_shutdown_and_replayed_on_start(tmp_path: Path) -> None:
    down = AuditQueue(DownSink(), state_dir=tmp_path, initial_backoff=0.01, flush_timeout=0.3)
    async with down:
        for i in range(8):
            down.record(rec(i))
    assert down.spilled == 8
    lines = down.spill_path.read_text().splitlines()
    assert [json.loads(line)["duration_ms"] for line in lines] == list(range(8))
    assert oct(down.spill_path.stat().st_mode & 0o777) == "0o600"

    sink = ListSink()
    async with AuditQueue(sink, state_dir=tmp_path) as queue:
        queue.record(rec(100))
        await wait_until(lambda: len(sink.records) == 9)
    assert [r["duration_ms"] for r in sink.records] == [*range(8), 100]
    assert list(tmp_path.glob("audit-spill*")) == []


async def test_records_beyond_the_bound_are_spilled_not_dropped(tmp_path: Path) -> None:
    sink = GatedSink()
    queue = AuditQueue(sink, state_dir=tmp_path, max_size=5, flush_timeout=5)
    async with queue:
        for i in range(8):
            queue.record(rec(i))
        assert len(queue) == 5 and queue.spilled == 3
        sink.gate.set()
    assert len(sink.records) == 5
    replay_sink = ListSink()
    async with AuditQueue(replay_sink, state_dir=tmp_path):
        await wait_until(lambda: len(replay_sink.records) == 3)
    assert sorted(r["duration_ms"] for r in sink.records + replay_sink.records) == list(range(8))


async def test_a_record_the_sink_refuses_is_replaced_by_a_sanitised_row_in_its_place(tmp_path: Path) -> None:
    class PickySink(ListSink):
        async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
            for index, record in enumerate(records):
                if record["duration_ms"] == 3 and record["status"] == "success":
                    raise AuditRecordRejectedError(index, f"records[{index}].duration_ms is bad")
            await super().write(records)

    sink = PickySink()
    async with AuditQueue(sink, state_dir=tmp_path, batch_size=4) as queue:
        for i in range(6):
            queue.record(rec(i))
        await wait_until(lambda: len(sink.records) == 6)
    assert [r.get("error_code") for r in sink.records] == [None, None, None, "AUDIT_SANITISED", None, None]
    minimal = sink.records[3]
    assert minimal["tool_name"] == "atoms_get_item" and minimal["status"] == "error"
    assert minimal["params"]["_sanitised"] is True and "duration_ms is bad" in minimal["params"]["reason"]
    rejected = [json.loads(line) for line in (tmp_path / "audit-rejected.jsonl").read_text().splitlines()]
    assert rejected == [{"reason": "records[3].duration_ms is bad", "record": rec(3)}]


async def test_with_spill_at_once_a_failed_write_spills_immediately(tmp_path: Path) -> None:
    async with AuditQueue(DownSink(), state_dir=tmp_path, spill_at_once=True, flush_timeout=30) as queue:
        queue.record(rec(1))
        queue.record(rec(2))
        spill = tmp_path / "audit-spill.jsonl"
        await wait_until(spill.exists)
        assert [json.loads(line)["duration_ms"] for line in spill.read_text().splitlines()] == [1, 2]
        assert len(queue) == 0


async def test_records_of_a_source_are_drained_while_running_and_at_shutdown(tmp_path: Path) -> None:
    sink = ListSink()
    calls: list[bool] = []

    def source(final: bool) -> list[dict[str, Any]]:
        calls.append(final)
        return [rec(100 + len(calls))]

    async with AuditQueue(sink, state_dir=tmp_path, source_interval=0.01) as queue:
        queue.add_source(source)
        await wait_until(lambda: len(sink.records) >= 1)
    assert calls[-1] is True and False in calls
    assert len(sink.records) == len(calls)


def test_non_finite_numbers_never_reach_json() -> None:
    record = {"params": sanitize_params({"limit": float("nan"), "x": [float("inf"), -float("inf")]})}
    text = json.dumps(json_safe(record), allow_nan=False)
    assert json.loads(text) == {"params": {"limit": "nan", "x": ["inf", "-inf"]}}
    assert json_safe({"bad": float("nan"), "nul": "a\x00b"}) == {"bad": "nan", "nul": "a\ufffdb"}


def test_params_are_sanitised() -> None:
    cleaned = sanitize_params(
        {
            "title": "x" * 2000,
            "access_token": "eyJ...",
            "nested": {"Password": "hunter2", "keep": [1, True, None]},
            "items": [{"title": "t", "client_secret": "s"}] * 60,
        }
    )
    assert len(cleaned["title"]) == 501 and cleaned["title"].endswith("…")
    assert "access_token" not in cleaned
    assert cleaned["nested"] == {"keep": [1, True, None]}
    assert len(cleaned["items"]) == 51 and cleaned["items"][0] == {"title": "t"}
    assert cleaned["items"][-1] == "… 10 more"
