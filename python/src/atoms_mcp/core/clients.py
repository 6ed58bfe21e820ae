"""Which MCP client is calling: the history actor (`mcp_<client>`) and the raw name kept for the audit log."""

from __future__ import annotations

import re

__all__ = ["actor_for", "client_label"]

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
    (r"^atoms-cli$", "cli"),
)


def _slug(name: str) -> str:
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
