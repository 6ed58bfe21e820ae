"""Fire-and-forget audit of every tool call: a bounded in-memory queue drained in batches in the background.

`AuditQueue.record()` never blocks and never fails a tool call. A background task writes batches through an
`AuditSink` (by default `private.write_mcp_audit_batch(records jsonb)` on a plain gateway connection, not as
the user: a connection of its own, or one lent for each batch). While the sink fails, records stay queued and the
batch is retried with exponential backoff; records beyond the queue's bound, and whatever is still unwritten at
shutdown, are appended to a JSONL spill file under the state directory, which the next start replays. No record is
dropped silently.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, Protocol, cast

import psycopg
from psycopg.types.json import Jsonb

__all__ = ["AuditQueue", "AuditRecordRejectedError", "AuditSink", "DatabaseAuditSink", "sanitize_params"]

logger = logging.getLogger(__name__)

SECRET_KEY_PARTS = ("token", "secret", "password", "passwd", "authorization", "api_key", "apikey", "cookie", "jwt")
MAX_STRING = 500
MAX_ITEMS = 50
MAX_DEPTH = 4
SPILL_NAME = "audit-spill.jsonl"
REJECTED_NAME = "audit-rejected.jsonl"
_REJECTED_INDEX = re.compile(r"records\[(\d+)\]")


class AuditRecordRejectedError(Exception):
    """The sink refuses one record of a batch for good (malformed); the others may be retried."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(reason)
        self.index = index
        self.reason = reason


def sanitize_params(value: Any, depth: int = 0) -> Any:
    """A copy of tool arguments fit for the audit log: secret-looking keys dropped, strings and lists cut."""
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return "…"
        mapping = cast(Mapping[object, Any], value)
        return {
            str(k)[:64]: sanitize_params(v, depth + 1)
            for k, v in mapping.items()
            if not any(part in str(k).lower() for part in SECRET_KEY_PARTS)
        }
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return "…"
        sequence = cast(Sequence[Any], value)
        items = [sanitize_params(v, depth + 1) for v in sequence[:MAX_ITEMS]]
        if len(sequence) > MAX_ITEMS:
            items.append(f"… {len(sequence) - MAX_ITEMS} more")
        return items
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_STRING]


_NOT_JSONB_TEXT = re.compile("[\x00\ud800-\udfff]")


def without_nul(value: Any) -> Any:
    """``value`` fit for jsonb: NUL and unpaired surrogates replaced by U+FFFD, NaN and infinities by their names
    as text (jsonb refuses all of them, and one such record would make the whole batch fail)."""
    if isinstance(value, str):
        return _NOT_JSONB_TEXT.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {without_nul(k): without_nul(v) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, list | tuple):
        return [without_nul(v) for v in cast(Sequence[Any], value)]
    return value


class AuditSink(Protocol):
    """Where batches of audit records go. Raising means "not written; keep them and retry"."""

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None: ...

    async def close(self) -> None: ...


BorrowConnection = Callable[[], AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]]


class DatabaseAuditSink:
    """`private.write_mcp_audit_batch(records)` on a plain (not as-the-user) gateway connection: its own, opened on
    the first write, or, with ``borrow``, one lent for each batch (a process that makes one call, the CLI, then opens
    no second connection)."""

    def __init__(self, url: str, connect_timeout: int = 5, *, borrow: BorrowConnection | None = None) -> None:
        self._url = url
        self._connect_timeout = connect_timeout
        self._borrow = borrow
        self._conn: psycopg.AsyncConnection[Any] | None = None

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        if self._borrow is not None:
            async with self._borrow() as conn:
                await self._write_on(conn, records)
            return
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout, application_name="atoms-mcp-audit"
            )
        try:
            await self._write_on(self._conn, records)
        except psycopg.OperationalError:
            await self.close()
            raise

    async def _write_on(self, conn: psycopg.AsyncConnection[Any], records: Sequence[Mapping[str, Any]]) -> None:
        try:
            batch = Jsonb([without_nul(record) for record in records])
            await conn.execute("select private.write_mcp_audit_batch(%s::jsonb)", (batch,))
        except psycopg.Error as error:
            primary = error.diag.message_primary or ""
            match = _REJECTED_INDEX.search(primary)
            if error.sqlstate == "22023" and match and int(match.group(1)) < len(records):
                raise AuditRecordRejectedError(int(match.group(1)), primary) from error
            raise

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            await conn.close()


class AuditQueue:
    """Bounded queue + background writer. Use `async with queue:` (starts the writer, flushes on exit)."""

    def __init__(
        self,
        sink: AuditSink,
        *,
        state_dir: Path,
        max_size: int = 10_000,
        batch_size: int = 200,
        initial_backoff: float = 0.2,
        max_backoff: float = 30.0,
        flush_timeout: float = 10.0,
    ) -> None:
        self._sink = sink
        self._state_dir = state_dir
        self._max_size = max_size
        self._batch_size = batch_size
        self._initial_backoff = initial_backoff
        self._max_backoff = max_backoff
        self._flush_timeout = flush_timeout
        self._pending: deque[dict[str, Any]] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._replay_files: list[tuple[Path, int]] = []
        self.written = 0
        self.spilled = 0
        self.rejected = 0

    @property
    def spill_path(self) -> Path:
        return self._state_dir / SPILL_NAME

    def __len__(self) -> int:
        return len(self._pending)

    def record(self, record: dict[str, Any]) -> None:
        """Queue one record; never blocks, never raises into the tool call."""
        if len(self._pending) >= self._max_size or self._closing:
            self._spill([record])
            return
        self._pending.append(record)
        self._wakeup.set()

    async def __aenter__(self) -> AuditQueue:
        self._replay()
        self._task = asyncio.create_task(self._run(), name="atoms-audit-writer")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Flush what is queued (bounded by flush_timeout), spill the rest, close the sink."""
        if self._task is None:
            return
        self._closing = True
        self._wakeup.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), self._flush_timeout)
        except TimeoutError:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        finally:
            self._task = None
            if self._pending:
                logger.warning("audit: sink unavailable at shutdown; %d records spilled", len(self._pending))
                self._spill(list(self._pending))
                self._pending.clear()
            # Unwritten replayed records were just spilled again: their old files are superseded.
            for path, _ in self._replay_files:
                path.unlink(missing_ok=True)
            self._replay_files.clear()
            try:
                await self._sink.close()
            except Exception:  # the sink's own failure must not mask shutdown
                logger.exception("audit: closing the sink failed")

    async def _run(self) -> None:
        backoff = self._initial_backoff
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._pending[i] for i in range(min(self._batch_size, len(self._pending)))]
            try:
                await self._sink.write(batch)
            except AuditRecordRejectedError as rejected:
                # One malformed record must not block the others: set it aside (loudly), retry the rest.
                record = batch[rejected.index]
                del self._pending[rejected.index]
                self._settle_replays_removed(rejected.index)
                logger.error("audit: record refused by the sink (%s); kept in %s", rejected.reason, REJECTED_NAME)
                self._append(self._state_dir / REJECTED_NAME, [{"reason": rejected.reason, "record": record}])
                self.rejected += 1
                continue
            except Exception as error:  # any sink failure: keep the records, retry later
                logger.warning("audit: writing %d records failed (%s); retrying in %.1fs", len(batch), error, backoff)
                if self._closing and backoff >= self._max_backoff:
                    return
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            for _ in batch:
                self._pending.popleft()
            self.written += len(batch)
            backoff = self._initial_backoff
            self._settle_replays(len(batch))

    def _spill(self, records: list[dict[str, Any]]) -> None:
        self._append(self.spill_path, records)
        self.spilled += len(records)

    def _append(self, path: Path, records: list[dict[str, Any]]) -> None:
        self._state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as spill:
            for record in records:
                spill.write(json.dumps(record, default=str) + "\n")

    def _replay(self) -> None:
        """Queue the records a previous run spilled; the file is removed once they are all written."""
        candidates = sorted(self._state_dir.glob("audit-spill*.replay.jsonl"))
        if self.spill_path.exists():
            moved = self._state_dir / f"audit-spill.{uuid.uuid4().hex}.replay.jsonl"
            self.spill_path.rename(moved)
            candidates.append(moved)
        for path in candidates:
            records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            self._pending.extend(records)
            self._replay_files.append((path, len(records)))
            logger.info("audit: replaying %d spilled records from %s", len(records), path)
        if self._pending:
            self._wakeup.set()

    def _settle_replays_removed(self, index: int) -> None:
        """A record at ``index`` of the queue was set aside: if it was a replayed one, count it as settled."""
        position = 0
        for i, (path, remaining) in enumerate(self._replay_files):
            if index < position + remaining:
                self._replay_files[i] = (path, remaining - 1)
                if remaining - 1 == 0:
                    self._replay_files.pop(i)
                    path.unlink(missing_ok=True)
                return
            position += remaining

    def _settle_replays(self, written: int) -> None:
        # Replayed records sit at the front of the queue, in file order.
        while self._replay_files and written > 0:
            path, remaining = self._replay_files[0]
            taken = min(remaining, written)
            written -= taken
            remaining -= taken
            if remaining:
                self._replay_files[0] = (path, remaining)
            else:
                self._replay_files.pop(0)
                path.unlink(missing_ok=True)
