"""The call pipeline core: tool registry, input models, errors, and the steps of one tool call (identify the
caller, rate-limit, run the RPC as the user, queue the audit record). Imports neither the MCP SDK nor sign-in code."""
