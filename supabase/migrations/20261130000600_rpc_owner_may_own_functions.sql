-- Let the RPC owner take ownership of the security-definer RPCs in public.
-- Objects: CREATE on schema public for atoms_rpc_owner.
-- Why: ALTER FUNCTION ... OWNER TO atoms_rpc_owner (every write RPC) requires the new owner to hold CREATE on the
--   function's schema. Security: the role is NOLOGIN and runs only the fixed bodies of the RPCs it owns, so this
--   grants no reachable power; no API role can SET ROLE to it.

grant create on schema public to atoms_rpc_owner;
