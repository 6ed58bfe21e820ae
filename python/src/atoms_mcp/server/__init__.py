"""The MCP server: the SDK adapter on the call pipeline core (stdio and streamable HTTP)."""
