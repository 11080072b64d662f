-- Run by `loyaltydb migrate` before the migrations, on a database that has the citus extension.
-- Citus connects from the coordinator to the workers as the current user, and migrations from
-- 0009 on run as loyalty_owner (SET LOCAL ROLE): on a cluster that role must be able to log in
-- (citus issue 7719). It is created here, ahead of 0008 (which then keeps it), or given LOGIN.
-- The role has no password: the DBA lets it in from the coordinator (pg_hba.conf on the workers,
-- or a password in pg_dist_authinfo); see the README's "Scaling out".
DO $$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'citus') THEN
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'loyalty_owner') THEN
            CREATE ROLE loyalty_owner LOGIN;
        ELSIF NOT (SELECT rolcanlogin FROM pg_catalog.pg_roles WHERE rolname = 'loyalty_owner') THEN
            ALTER ROLE loyalty_owner LOGIN;
        END IF;
        -- 0041's roles, committed before the migrations: the grants to them run as
        -- loyalty_owner, whose connections to the workers would not see roles made in the
        -- same transaction over another connection.
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'loyalty_privacy') THEN
            CREATE ROLE loyalty_privacy NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'loyalty_events') THEN
            CREATE ROLE loyalty_events NOLOGIN;
        END IF;
    END IF;
END
$$;
