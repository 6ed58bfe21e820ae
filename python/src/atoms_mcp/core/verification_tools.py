"""The registry rows of the verification tools: suspect links (`atoms_list_suspect_links`, `atoms_clear_suspect`) and
the traceability matrix (`atoms_trace_matrix`). `registry.TOOLS` lists them after the project tools."""

from __future__ import annotations

from atoms_mcp.core import verification_models
from atoms_mcp.core.toolspec import PAGE_NOTE, ToolSpec

__all__ = ["VERIFICATION_TOOLS"]

_PAGE = PAGE_NOTE

VERIFICATION_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="atoms_list_suspect_links",
        title="Suspect links",
        description=(
            "Links made suspect by a change of title, summary, body or level at their upstream end, until cleared "
            f"(atoms_clear_suspect); item_id: that item's. Returns [{{from_id, to_id, type, cause, ...}}]. {_PAGE}"
        ),
        input_model=verification_models.ListSuspectLinksInput,
        output_model=verification_models.ListSuspectLinksOutput,
        rpc="atoms_list_suspect_links",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_trace_matrix",
        title="Traceability matrix",
        description=(
            "Per requirement its status, verifying tests, each one's latest result (result, run_at, executed_by, "
            "build) and suspect flag; filters level, domain, status. Status, first match: suspect > failing > "
            "blocked > not_run (no result or latest not-run) > stale (ran before the last change) > verified > "
            f"uncovered. Use it for a verification report. Returns [{{id, title, status, tests, ...}}]. {_PAGE}"
        ),
        input_model=verification_models.TraceMatrixInput,
        output_model=verification_models.TraceMatrixOutput,
        rpc="atoms_trace_matrix",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_clear_suspect",
        title="Clear suspect link",
        description=(
            "Mark a suspect link reviewed (editors and admins): from_id -> to_id is test case -> requirement or "
            "parent -> child; reason (what you reviewed) is required, kept in history. A passing run older than the "
            "change stays stale. Returns {from_id, to_id, type, link_kind, cleared, suspect_since, reason, message}."
        ),
        input_model=verification_models.ClearSuspectInput,
        output_model=verification_models.ClearSuspectOutput,
        rpc="atoms_clear_suspect",
        read_only=False,
    ),
)
