"""What one MCP tool is (`ToolSpec`) and the toolsets tools are grouped in; the rows live in `registry` (and, for
the team tools, `team_tools`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from atoms_mcp.core.tool_schemas import input_schema_of, output_schema_of

__all__ = ["PAGE_NOTE", "ToolSpec", "Toolset"]

Toolset = Literal["read", "write", "admin", "account"]
"""Named groups of tools an organisation policy can switch off: `read`, `write`, `admin` (organisation
administration), `account` (a signed-in user's own: organisations they found, their invitations)."""

PAGE_NOTE = (
    "Paginated: meta has total_count, limit, offset, has_more; ask again with offset += limit while has_more "
    "(a page too large for one result comes back shorter, with limit = the rows returned)."
)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool: what the model sees (name, description, schema, hints) and what the server runs."""

    name: str
    description: str
    input_model: type[BaseModel]
    # The model of a successful call's `data` (a `data` field), or of the whole result for kind "status".
    output_model: type[BaseModel]
    rpc: str | None
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    returns_meta: bool = False
    # "rpc": a transaction as the user calling public.<rpc>; "status": answered from the token alone.
    kind: Literal["rpc", "status"] = "rpc"
    title: str = field(default="")
    # None: `read` for a read-only tool, `write` otherwise (see `toolset`).
    group: Toolset | None = None

    @property
    def toolset(self) -> Toolset:
        """The toolset the tool belongs to."""
        if self.group is not None:
            return self.group
        return "read" if self.read_only else "write"

    @property
    def input_schema(self) -> dict[str, Any]:
        """The JSON Schema of the arguments, generated from the input model (self-contained, no `$ref`)."""
        return input_schema_of(self.input_model)

    @property
    def output_schema(self) -> dict[str, Any]:
        """The JSON Schema of the call's structuredContent, success or error (tool_schemas.py)."""
        return output_schema_of(self.output_model, paginated=self.returns_meta, enveloped=self.kind == "rpc")

    @property
    def summary(self) -> str:
        """The description's first sentence, for one-line listings (`atoms tools`)."""
        first = self.description.split(". ", 1)[0].rstrip(".")
        return first + "."
