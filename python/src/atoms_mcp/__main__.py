"""Entry point for `python -m atoms_mcp`."""

from atoms_mcp.cli.app import app

app()
