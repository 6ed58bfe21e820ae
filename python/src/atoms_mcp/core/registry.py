"""The tool registry: one row per MCP tool, and nothing else in the package knows about individual tools.

A row names the tool, tells an AI assistant when to use it and what comes back, and says which input model
validates the arguments, which RPC (`public.<rpc>`) runs it, whether the RPC returns `{data, meta}`, and the
hints an MCP client sees (read-only, destructive, idempotent). The MCP server's `tools/list` and `tools/call`,
and the CLI's `atoms tools` and `atoms call`, are generated from `TOOLS`. Adding a tool means one row here, one
RPC, one row in the policy contract.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel

from atoms_mcp.core import models, verification_models

__all__ = ["TOOLS", "TOOLS_BY_NAME", "ToolSpec"]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the model sees (name, description, schema, hints) and what the server runs."""

    name: str
    description: str
    input_model: type[BaseModel]
    rpc: str | None
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    returns_meta: bool = False
    # "rpc": a transaction as the user calling public.<rpc>; "status": answered from the token alone.
    kind: Literal["rpc", "status"] = "rpc"
    title: str = field(default="")

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments, generated from the input model."""
        generated = self.input_model.model_json_schema(by_alias=True)
        definitions = cast(dict[str, Any], generated.pop("$defs", {}))
        schema = _without_null_defaults(_inline_refs(generated, definitions))
        schema.pop("title", None)
        schema.pop("description", None)
        return schema

    @property
    def summary(self) -> str:
        """The description's first sentence, for one-line listings (`atoms tools`)."""
        first = self.description.split(". ", 1)[0].rstrip(".")
        return first + "."


def _inline_refs(schema: Any, definitions: dict[str, Any]) -> Any:
    """Nested models (a bulk import's items, a bulk link's links) written out in place: input schemas carry no
    `$ref`, which some MCP clients do not follow. The models are not recursive, so this ends."""
    if isinstance(schema, dict):
        mapping = cast(dict[str, Any], schema)
        reference = mapping.get("$ref")
        if isinstance(reference, str) and reference.startswith("#/$defs/"):
            return _inline_refs(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {k: _inline_refs(v, definitions) for k, v in mapping.items()}
    if isinstance(schema, list):
        return [_inline_refs(v, definitions) for v in cast(list[Any], schema)]
    return schema


def _without_null_defaults(schema: Any) -> Any:
    """Optional fields are simply absent when not given: `"default": null` would contradict their type."""
    if isinstance(schema, dict):
        mapping = cast(dict[str, Any], schema)
        return {k: _without_null_defaults(v) for k, v in mapping.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(v) for v in cast(list[Any], schema)]
    return schema


_PAGE = "Paginated: meta has total_count, limit, offset, has_more; ask again with offset += limit while has_more."

TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="atoms_status",
        title="Connection status",
        description=(
            "Check whether you are signed in to atoms. Use it first when another atoms tool answers "
            "UNAUTHENTICATED, or to tell the user who they are signed in as. Works without a token. Returns "
            "{status: authenticated | not_authenticated | expired, email, message}; the message says how to sign in."
        ),
        input_model=models.StatusInput,
        rpc=None,
        read_only=True,
        idempotent=True,
        kind="status",
    ),
    ToolSpec(
        name="atoms_list_projects",
        title="List projects",
        description=(
            "List the projects you can see, with your role and item counts. Start here: every other tool needs a "
            "project_id from this list. Returns [{id, name, description, org_id, org_name, role, item_counts, "
            f"updated_at}}]. {_PAGE}"
        ),
        input_model=models.ListProjectsInput,
        rpc="atoms_list_projects",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_list_items",
        title="List items",
        description=(
            "List a project's requirements, test cases and notes, optionally filtered by type, domain and level "
            "(filters combine with AND), oldest first. Use it to browse; use atoms_search to find by words and "
            f"atoms_get_item for one item's full text and links. Returns [{{id, type, title, summary, domains, "
            f"level}}]. {_PAGE}"
        ),
        input_model=models.ListItemsInput,
        rpc="atoms_list_items",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_get_item",
        title="Get item",
        description=(
            "Read one item in full by its key (REQ-001, TC-012, NOTE-003): title, summary, body, domains, level, "
            "who created and changed it, its parents, children, related items, what it verifies or is verified "
            "by, suspect_links, a requirement's verification_status, a test case's latest result and results."
        ),
        input_model=models.GetItemInput,
        rpc="atoms_get_item",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_search",
        title="Search items",
        description=(
            "Full-text search over titles, summaries and bodies of a project's items, best match first; an exact "
            "key such as REQ-001 ranks first. Use it when you know words but not the key. Returns item summaries "
            "[{id, type, title, summary, domains, level}], meta {total_count, limit}."
        ),
        input_model=models.SearchInput,
        rpc="atoms_search",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_get_coverage",
        title="Test coverage",
        description=(
            "Which requirements a test case verifies (covered) and which are verified (status, see "
            "atoms_trace_matrix), optionally for one domain or level. Use it to find gaps. Returns {covered, "
            "uncovered, total, coverage_percent, uncovered_items, verified_count, verified_percent, by_status}."
        ),
        input_model=models.GetCoverageInput,
        rpc="atoms_get_coverage",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_get_history",
        title="Item history",
        description=(
            "The change history of one item, newest first (also for deleted items): who changed what, when, "
            "through which client (actor user or mcp_<client>), with old and new values and the reason given; link "
            "events appear in the history of both linked items. Use it to audit an item or to find who deleted it. "
            f"{_PAGE}"
        ),
        input_model=models.GetHistoryInput,
        rpc="atoms_get_history",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_export_mermaid",
        title="Export Mermaid diagram",
        description=(
            "Draw the requirement hierarchy (and optionally the test cases verifying it) as a Mermaid `graph TD` "
            "diagram, from one root item or the whole project, to a given depth. Show the returned `mermaid` text "
            "in a ```mermaid block. Returns {mermaid, node_count, edge_count}."
        ),
        input_model=models.ExportMermaidInput,
        rpc="atoms_export_mermaid",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_trace",
        title="Trace links",
        description=(
            "Follow traceability links from one item: upstream (parents, requirements it verifies), downstream "
            "(children, verifying test cases) or both (upstream and downstream together; never siblings), to a "
            "depth of 1-10; related links both ways, related_depth hops. Use it for impact analysis. Each item "
            "names via, the key it was reached from, so the items rebuild the tree. Returns {root, direction, "
            "items:[{id, title, type, relationship, link_kind, via, depth}], total_count}."
        ),
        input_model=models.TraceInput,
        rpc="atoms_trace",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_list_suspect_links",
        title="Suspect links",
        description=(
            "Links made suspect by a change of title, summary, body or level at their upstream end, until cleared "
            f"(atoms_clear_suspect); item_id: that item's. Returns [{{from_id, to_id, type, cause, ...}}]. {_PAGE}"
        ),
        input_model=verification_models.ListSuspectLinksInput,
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
        rpc="atoms_trace_matrix",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_project_summary",
        title="Project summary",
        description=(
            "One-call overview of a project: item counts, coverage (covered and verified percent, status counts), "
            "test results (passed, failed, blocked, not-run, never run), the last 10 changes and whether the "
            "history hash chain is intact. Use it to orient yourself in a project or to report its status."
        ),
        input_model=models.ProjectSummaryInput,
        rpc="atoms_project_summary",
        read_only=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_browse",
        title="Browse items",
        description=(
            "Same as atoms_list_items (same filters and result); meant for showing a project's items to the user. "
            f"{_PAGE}"
        ),
        input_model=models.BrowseInput,
        rpc="atoms_browse",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_create_item",
        title="Create item",
        description=(
            "Create a requirement, test case or note (editors and admins). The key (REQ-009, TC-010, ...) is "
            "assigned for you. parent_ids links it under existing items in the same step. To create many items "
            "use atoms_bulk_import. Returns {id, type, title, project_id}."
        ),
        input_model=models.CreateItemInput,
        rpc="atoms_create_item",
        read_only=False,
    ),
    ToolSpec(
        name="atoms_update_item",
        title="Update item",
        description=(
            "Change fields of an existing item (editors and admins); only the fields you give change, domains "
            "replaces the whole list, status records a test result for a test case. reason says why (kept in "
            "history; required when the project requires reasons). Returns {id, title, type, updated_fields}."
        ),
        input_model=models.UpdateItemInput,
        rpc="atoms_update_item",
        read_only=False,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_delete_item",
        title="Delete item",
        description=(
            "Soft-delete an item (editors and admins): it disappears from lists, search, coverage and traces but "
            "keeps its history, and an admin can restore it with atoms_restore_item. An item with live children or "
            "verification links is refused with CONFLICT and the impact in error.details (children, verified_by, "
            "verifies, requirements_losing_coverage); show it to the user, and only with their consent pass "
            "force: true and a reason. Returns {id, title, type, deleted, message, reason, impact}."
        ),
        input_model=models.DeleteItemInput,
        rpc="atoms_delete_item",
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_link_items",
        title="Link items",
        description=(
            "Add or remove links between items of a project (editors and admins). Words read from from_id to "
            "to_id: `child` (to_id becomes a child of from_id), `parent`, `related`, `verifies` (test case -> "
            "requirement), `verified_by` (requirement -> test case). Adding an existing link or removing a missing "
            "one succeeds without change. One link: from_id, to_id, type, action; returns {from_id, to_id, type, "
            "action, changed, message}. Many: links (1-500 of {from_id, to_id, type, action}), each applied on its "
            "own; returns {processed, changed, links:[{index, from_id, to_id, type, action, changed}], errors:[{index, "
            "from_id, to_id, type, error}]}. "
            "reason is kept in history."
        ),
        input_model=models.LinkItemsInput,
        rpc="atoms_link_items",
        read_only=False,
        destructive=True,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_bulk_import",
        title="Bulk import",
        description=(
            "Create up to 100 items in one call (editors and admins), in order; parent_id may name an item created "
            "earlier in the same call, and a test case's verifies lists the requirements it verifies (keys or "
            "#index of earlier items). Items are independent: a bad item is reported in errors (0-based index) and "
            "the rest are created. Returns {created, items:[{id, type, title}], errors:[{index, title, error}]}."
        ),
        input_model=models.BulkImportInput,
        rpc="atoms_bulk_import",
        read_only=False,
    ),
    ToolSpec(
        name="atoms_record_test_result",
        title="Record test result",
        description=(
            "Record the outcome of running a test case: passed, failed, blocked or not-run, with an optional note "
            "(editors and admins), and as evidence when it ran (run_at; default now), the build under test, who "
            "executed it (a member's email or a name) and an evidence reference (URL, report id). Returns "
            "{item_id, result, run_at, run_by, recorded_at, recorded_by, build, executed_by, executed_by_id, "
            "evidence, note, message}."
        ),
        input_model=models.RecordTestResultInput,
        rpc="atoms_record_test_result",
        read_only=False,
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
        rpc="atoms_clear_suspect",
        read_only=False,
    ),
    ToolSpec(
        name="atoms_restore_item",
        title="Restore item",
        description=(
            "Undo the soft delete of an item (admins only); its key, links and history come back. Use "
            "atoms_get_history to find deleted items' keys."
        ),
        input_model=models.RestoreItemInput,
        rpc="atoms_restore_item",
        read_only=False,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_get_audit_log",
        title="MCP audit log",
        description=(
            "The project's record of MCP tool calls (admins only), newest first, filterable by tool, user, status "
            f"(success or error) and time range: who called which tool with which (sanitised) arguments. {_PAGE}"
        ),
        input_model=models.GetAuditLogInput,
        rpc="atoms_get_audit_log",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_verify_history",
        title="Verify history",
        description=(
            "Check that the project's change history is tamper-free by recomputing its hash chain (any member). "
            "Reports whether it is intact and, if not, the first broken link."
        ),
        input_model=models.VerifyHistoryInput,
        rpc="atoms_verify_history",
        read_only=True,
        idempotent=True,
    ),
)

TOOLS_BY_NAME: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}
