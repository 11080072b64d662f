REVOKE ALL ON SCHEMA loyalty FROM loyalty_app;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty FROM loyalty_app;

ALTER DEFAULT PRIVILEGES FOR ROLE loyalty_owner GRANT EXECUTE ON FUNCTIONS TO PUBLIC;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA loyalty TO PUBLIC;

-- Back to plain invoker functions, owned by the role running the rollback.
DO $$
DECLARE
    v_command text;
BEGIN
    FOR v_command IN
        SELECT format('ALTER FUNCTION %s SECURITY INVOKER RESET search_path', p.oid::regprocedure)
          FROM pg_catalog.pg_proc AS p
         WHERE p.pronamespace = 'loyalty'::regnamespace AND p.prosecdef
    LOOP
        EXECUTE v_command;
    END LOOP;
    EXECUTE format('REASSIGN OWNED BY loyalty_owner TO %I', current_user);
END
$$;

-- Drop the roles only when no other database still depends on them (roles are cluster-wide).
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_shdepend AS d
                WHERE d.refclassid = 'pg_authid'::regclass
                  AND d.refobjid IN (SELECT oid FROM pg_catalog.pg_roles
                                      WHERE rolname IN ('loyalty_owner', 'loyalty_app'))
                  AND d.dbid <> (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()))
    THEN
        RAISE NOTICE 'roles loyalty_owner and loyalty_app are kept: another database uses them';
    ELSE
        DROP ROLE IF EXISTS loyalty_app;
        DROP ROLE IF EXISTS loyalty_owner;
    END IF;
END
$$;
