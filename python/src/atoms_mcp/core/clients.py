"""Which client is calling: the history actor and the raw client name kept for the audit log.

Actors (the database's vocabulary): `mcp_<client>` for an AI assistant through the MCP server, derived here from
the client's self-reported name, always with the `mcp_` prefix, so no MCP client can pass itself off as the CLI;
`cli` for a person at a terminal, set by the CLI adapter itself (`CLI_ACTOR`), never derived from a name.
"""

from __future__ import annotations

import re

__all__ = ["CLI_ACTOR", "CLI_CLIENT_NAME", "actor_for", "client_label"]

CLI_ACTOR = "cli"
CLI_CLIENT_NAME = "atoms-cli"
MAX_CLIENT_NAME = 100
# First match wins; patterns are searched in the lower-cased client name.
_KNOWN_CLIENTS: tuple[tuple[str, str], ...] = (
    (r"claude", "claude"),
    (r"cursor", "cursor"),
    (r"windsurf|codeium", "windsurf"),
    (r"vscode|visual[- ]studio[- ]code|copilot", "vscode"),
    (r"\bzed\b", "zed"),
    (r"cline", "cline"),
    (r"continue", "continue"),
    (r"goose", "goose"),
    (r"codex", "codex"),
    (r"gemini", "gemini"),
    (r"inspector", "inspector"),
)


def _slug(name: str) -> str:
    """Lower-case letters, digits and underscores only, at most 40 characters."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40]


def actor_for(client_name: str | None, override: str | None = None) -> str:
    """`mcp_<client>` for the change history: the override (ATOMS_CLIENT_NAME) if set, else a known
    client family (`claude-code` -> `mcp_claude`), else `mcp_other`."""
    if override and _slug(override):
        return f"mcp_{_slug(override)}"
    lowered = (client_name or "").lower()
    for pattern, family in _KNOWN_CLIENTS:
        if re.search(pattern, lowered):
            return f"mcp_{family}"
    return "mcp_other"


def client_label(client_name: str | None, override: str | None = None) -> str | None:
    """The raw client name for the audit log (capped, printable), else the override."""
    name = client_name or override
    if not name:
        return None
    printable = "".join(ch for ch in name if ch.isprintable())
    return printable[:MAX_CLIENT_NAME] or None
