-- The outcomes of an MCP call beyond success and error, each in the audit log's status enum.
-- Objects: public.mcp_call_status (extended). Values: cancelled (the client or the server stopped the call before
--   it finished), rate_limited (the caller's rate limit refused it; nothing else ran), refused (HTTP requests refused
--   before the caller was identified: authentication, size caps, the per-address limit; one row per client address,
--   minute and reason, with a count).
-- Own file: a new enum value cannot be used in the transaction that adds it (DESIGN 3.10).

alter type public.mcp_call_status add value if not exists 'cancelled';
alter type public.mcp_call_status add value if not exists 'rate_limited';
alter type public.mcp_call_status add value if not exists 'refused';

comment on type public.mcp_call_status is
'atoms: outcome of one MCP tool call in public.mcp_audit_log: success, error, cancelled, rate_limited; refused counts HTTP requests refused before identification (per client address, minute and reason).';
