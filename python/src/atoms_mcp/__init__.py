"""atoms_mcp: the thin MCP server ("shim") and tooling of atoms, a Postgres-first traceability backend."""

__all__ = ["__version__"]

__version__ = "0.1.0"
