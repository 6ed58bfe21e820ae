"""The tool registry: one row per MCP tool, and nothing else in the package knows about individual tools.

A row names the tool, tells an AI assistant when to use it and what comes back, and says which input model
validates the arguments, which RPC (`public.<rpc>`) runs it, whether the RPC returns `{data, meta}`, and the
hints an MCP client sees (read-only, destructive, idempotent). The MCP server's `tools/list` and `tools/call`,
and the CLI's `atoms tools` and `atoms call`, are generated from `TOOLS`. Adding a tool means one row here, one
RPC, one row in the policy contract.
"""

from __future__ import annotations

from atoms_mcp.core import models
from atoms_mcp.core.team_tools import TEAM_TOOLS
from atoms_mcp.core.toolspec import PAGE_NOTE, Toolset, ToolSpec
from atoms_mcp.core.verification_tools import VERIFICATION_TOOLS

__all__ = ["TOOLS", "TOOLS_BY_NAME", "ToolSpec", "Toolset"]


_PAGE = PAGE_NOTE

_PROJECT_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="atoms_status",
        title="Connection status",
        description=(
            "Check whether you are signed in to atoms. Use it first when another atoms tool answers "
            "UNAUTHENTICATED, or to tell the user who they are signed in as. Works without a token. Returns "
            "{status: authenticated | not_authenticated | expired, email, message}; the message says how to sign in."
        ),
        input_model=models.StatusInput,
        output_model=models.StatusOutput,
        rpc=None,
        read_only=True,
        idempotent=True,
        kind="status",
    ),
    ToolSpec(
        name="atoms_list_projects",
        title="List projects",
        description=(
            "List the projects you can see, with your role and item counts; archived (read-only) projects only with "
            "include_archived. Start here: every other tool needs a project_id (or org_id) from this list. Returns "
            "[{id, name, description, org_id, org_name, role, item_counts, updated_at, archived, archived_at}]. "
            f"{_PAGE}"
        ),
        input_model=models.ListProjectsInput,
        output_model=models.ListProjectsOutput,
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
        output_model=models.ListItemsOutput,
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
            "by, suspect_links, a requirement's verification_status, a test case's latest result and results. The body "
            "comes in pieces of body_limit characters from body_offset (default 20000 from 0); body_length is its "
            "full length, and while meta.truncated holds a marker for `body`, ask again with body_offset = its "
            "next_offset."
        ),
        input_model=models.GetItemInput,
        output_model=models.GetItemOutput,
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
            f"[{{id, type, title, summary, domains, level}}]. {_PAGE}"
        ),
        input_model=models.SearchInput,
        output_model=models.SearchOutput,
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
        output_model=models.GetCoverageOutput,
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
        output_model=models.GetHistoryOutput,
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
        output_model=models.ExportMermaidOutput,
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
        output_model=models.TraceOutput,
        rpc="atoms_trace",
        read_only=True,
        idempotent=True,
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
        output_model=models.ProjectSummaryOutput,
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
        output_model=models.BrowseOutput,
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
        output_model=models.CreateItemOutput,
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
        output_model=models.UpdateItemOutput,
        rpc="atoms_update_item",
        read_only=False,
        # Not idempotent: a status appends a test result each time (a retried call records it twice).
        idempotent=False,
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
        output_model=models.DeleteItemOutput,
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
            "one succeeds without change. Destructive: action `remove` deletes a link (its history keeps it). "
            "One link: from_id, to_id, type, action; returns {from_id, to_id, type, "
            "action, changed, message}. Many: links (1-500 of {from_id, to_id, type, action}), each applied on its "
            "own; returns {processed, changed, links:[{index, from_id, to_id, type, action, changed}], errors:[{index, "
            "from_id, to_id, type, error}]}. "
            "reason is kept in history."
        ),
        input_model=models.LinkItemsInput,
        output_model=models.LinkItemsOutput,
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
        output_model=models.BulkImportOutput,
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
        output_model=models.RecordTestResultOutput,
        rpc="atoms_record_test_result",
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
        output_model=models.RestoreItemOutput,
        rpc="atoms_restore_item",
        read_only=False,
        idempotent=True,
    ),
    ToolSpec(
        name="atoms_get_audit_log",
        title="MCP audit log",
        description=(
            "The record of MCP tool calls (admins only), newest first: a project's (project_id) or the "
            "organisation-level calls such as the team tools (org_id), filterable by tool, user, status (success or "
            f"error) and time range: who called which tool with which (sanitised) arguments. {_PAGE}"
        ),
        input_model=models.GetAuditLogInput,
        output_model=models.GetAuditLogOutput,
        rpc="atoms_get_audit_log",
        read_only=True,
        idempotent=True,
        returns_meta=True,
    ),
    ToolSpec(
        name="atoms_verify_history",
        title="Verify history",
        description=(
            "Check that a change history is tamper-free by recomputing its hash chain: a project's (project_id, any "
            "member) or an organisation's own membership and project history (org_id, admins). Reports whether it "
            "is intact and, if not, the first broken link."
        ),
        input_model=models.VerifyHistoryInput,
        output_model=models.VerifyHistoryOutput,
        rpc="atoms_verify_history",
        read_only=True,
        idempotent=True,
    ),
)

TOOLS: tuple[ToolSpec, ...] = _PROJECT_TOOLS + VERIFICATION_TOOLS + TEAM_TOOLS

TOOLS_BY_NAME: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}
