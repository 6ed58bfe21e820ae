"""Entry point for `python -m atoms_mcp`."""

from atoms_mcp.cli import app

app()
