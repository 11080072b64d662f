-- Roles and privileges: loyalty_owner owns every object; loyalty_app may only EXECUTE the API.
-- depends: 0007_enrollment_functions
--
-- Migrations run as a superuser (or a role that is a member of loyalty_owner with CREATEROLE).
-- Migrations after this one start with SET LOCAL ROLE loyalty_owner, so what they create is
-- owned by loyalty_owner and closed to PUBLIC by the default privileges below.

-- Roles are cluster-wide: another database may have created them already, maybe right now.
DO $$
BEGIN
    CREATE ROLE loyalty_owner NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    RAISE NOTICE 'role loyalty_owner exists already';
END
$$;

DO $$
BEGIN
    CREATE ROLE loyalty_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    RAISE NOTICE 'role loyalty_app exists already';
END
$$;

ALTER SCHEMA loyalty OWNER TO loyalty_owner;

-- Hand every table, view, sequence, composite type and function of the schema to loyalty_owner
-- (indexes and identity sequences follow their tables).
DO $$
DECLARE
    v_command text;
BEGIN
    FOR v_command IN
        SELECT format('ALTER %s %s OWNER TO loyalty_owner',
                      CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'v' THEN 'VIEW'
                                     WHEN 'S' THEN 'SEQUENCE' ELSE 'TYPE' END,
                      c.oid::regclass)
          FROM pg_catalog.pg_class AS c
         WHERE c.relnamespace = 'loyalty'::regnamespace
           AND c.relkind IN ('r', 'v', 'S', 'c')
           AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend AS d
                            WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i'))
        UNION ALL
        SELECT format('ALTER FUNCTION %s OWNER TO loyalty_owner', p.oid::regprocedure)
          FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace = 'loyalty'::regnamespace
    LOOP
        EXECUTE v_command;
    END LOOP;
END
$$;

-- The API runs as loyalty_owner, with a search_path no caller can hijack (pg_temp last).
ALTER FUNCTION loyalty.process_enrollment_approval(uuid, boolean, text, bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.request_enrollment(bigint, bigint, text)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.ensure_customer_exists(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.ensure_customer(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION loyalty.customer_cards(bigint)
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Nothing is executable by PUBLIC, now or later.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty FROM PUBLIC;
ALTER DEFAULT PRIVILEGES FOR ROLE loyalty_owner REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

GRANT USAGE ON SCHEMA loyalty TO loyalty_app;
GRANT EXECUTE ON FUNCTION
    loyalty.process_enrollment_approval(uuid, boolean, text, bigint),
    loyalty.request_enrollment(bigint, bigint, text),
    loyalty.ensure_customer_exists(bigint),
    loyalty.ensure_customer(bigint),
    loyalty.customer_cards(bigint)
    TO loyalty_app;
