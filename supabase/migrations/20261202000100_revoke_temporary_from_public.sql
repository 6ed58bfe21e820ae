-- Second layer against session-local objects: no API role may create temporary tables, views, domains or
-- functions, so nothing can be planted in pg_temp for a definer function to find. The first layer is
-- `set search_path = pg_catalog, pg_temp` with every other name schema-qualified, on every function.
-- Objects: the database's ACL (TEMPORARY revoked from PUBLIC). Database-wide: every role that relied on PUBLIC's
--   TEMPORARY loses it (the owner keeps its own); no RPC uses temporary tables. To undo:
--   grant temporary on database <name> to public;
-- Security: only the database's owner (or a member of the owning role, or a superuser) may change its ACL. On a
--   hosted project where the migration runner does not own the database this migration changes nothing and says so
--   in a NOTICE; the search-path layer then holds on its own.

do $$
declare
  database_name text := pg_catalog.current_database();
  owner_id oid;
begin
  select d.datdba into owner_id
  from pg_catalog.pg_database as d
  where d.datname = database_name;
  if pg_catalog.pg_has_role(current_user, owner_id, 'USAGE') then
    execute pg_catalog.format('revoke temporary on database %I from public', database_name);
  else
    raise notice 'temporary on database % stays granted to PUBLIC: % does not own it (its owner is %)',
      database_name, current_user, owner_id::regrole
      using hint = pg_catalog.format(
        'The owner may run: revoke temporary on database %I from public;', database_name
      );
  end if;
end
$$;
