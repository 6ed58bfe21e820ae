"""Input and output models of the verification tools: suspect links, clearing a suspect flag and the traceability
matrix. Inputs follow models.py (strict, unknown fields refused, limits mirroring the SQL validation); outputs name
the fields each tool promises (a later sibling field is allowed).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.models import (
    Domain,
    ItemKey,
    Level,
    Limit200,
    Offset,
    ProjectInput,
    Reason,
    TestResult,
    ToolOutput,
)

__all__ = [
    "ClearedSuspect",
    "ClearSuspectInput",
    "ClearSuspectOutput",
    "LatestResult",
    "ListSuspectLinksInput",
    "ListSuspectLinksOutput",
    "MatrixRow",
    "MatrixTest",
    "RequirementStatus",
    "SuspectCause",
    "SuspectLink",
    "TraceMatrixInput",
    "TraceMatrixOutput",
]

# public.requirement_status, in precedence order (first match wins).
RequirementStatus = Literal["suspect", "failing", "blocked", "not_run", "stale", "verified", "uncovered"]


class ListSuspectLinksInput(ProjectInput):
    item_id: ItemKey | SkipJsonSchema[None] = Field(
        default=None, description="Only suspect links where this item is either end."
    )
    limit: Limit200 = 50
    offset: Offset = 0


class ClearSuspectInput(ProjectInput):
    from_id: ItemKey = Field(description="The link's source: the test case (verifies) or the parent (child).")
    to_id: ItemKey = Field(description="The link's target: the requirement (verifies) or the child (child).")
    reason: Reason = Field(description="What you reviewed and why the link still holds (1-1000), kept in history.")


class TraceMatrixInput(ProjectInput):
    level: Level | SkipJsonSchema[None] = Field(default=None, description="Only requirements of this level.")
    domain: Domain | SkipJsonSchema[None] = Field(default=None, description="Only requirements with this domain.")
    status: RequirementStatus | SkipJsonSchema[None] = Field(
        default=None, description="Only requirements with this verification status."
    )
    limit: Limit200 = 50
    offset: Offset = 0


class SuspectCause(ToolOutput):
    item_id: str
    fields_changed: list[str]
    changed_at: str
    changed_by: str | None
    reason: str | None


class SuspectLink(ToolOutput):
    from_id: str
    to_id: str
    type: Literal["verifies", "child"]
    link_kind: Literal["verification", "hierarchy"]
    suspect_since: str
    cause: SuspectCause


class ListSuspectLinksOutput(ToolOutput):
    data: list[SuspectLink]


class ClearedSuspect(ToolOutput):
    from_id: str
    to_id: str
    type: Literal["verifies", "child"]
    link_kind: Literal["verification", "hierarchy"]
    cleared: bool
    suspect_since: str
    reason: str
    message: str


class ClearSuspectOutput(ToolOutput):
    data: ClearedSuspect


class LatestResult(ToolOutput):
    result: TestResult
    run_at: str
    executed_by: str | None
    build: str | None


class MatrixTest(ToolOutput):
    id: str
    title: str
    suspect: bool
    suspect_since: str | None
    latest_result: LatestResult | None


class MatrixRow(ToolOutput):
    id: str
    title: str
    level: Level | None
    domains: list[str]
    status: RequirementStatus
    content_changed_at: str
    tests: list[MatrixTest]


class TraceMatrixOutput(ToolOutput):
    data: list[MatrixRow]
