-- 0037_users_and_programs: upsert_user, create_program, set_program_status (contract "Who writes
-- users and programs"; issue 30): a service's loyalty_app login writes its users and programs
-- through the API, on one server and on a cluster, with no table privilege.
-- Written by tools/new_migration.py from sql/functions/; add table DDL where marked.
-- depends: 0036_points_expiry

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- Table DDL of this migration, if any, goes here (before the functions that use it).

-- sql/functions/create_program.sql
-- A business's new loyalty program (contract "Who writes users and programs"), its business
-- registered (loyalty.businesses; the business must be a user: LY003 otherwise). p_name is
-- required; welcome points 0 or more; the TTLs positive or NULL (never). Returns the program's id.
CREATE OR REPLACE FUNCTION loyalty.create_program(
    p_business_id    bigint,
    p_name           text,
    p_welcome_points integer DEFAULT 0,
    p_request_ttl    interval DEFAULT '7 days',
    p_points_ttl     interval DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_name IS NULL OR loyalty._trim_space(p_name) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a program needs a name, not none';
    ELSIF p_welcome_points IS NULL OR p_welcome_points < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('welcome_points must be 0 or more, not %s', coalesce(p_welcome_points::text, 'NULL'));
    ELSIF p_request_ttl <= interval '0' OR p_points_ttl <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a TTL is positive or NULL (never), not %s', coalesce(p_request_ttl::text, '') || ' '
                             || coalesce(p_points_ttl::text, ''));
    END IF;
    PERFORM loyalty.register_business(p_business_id);
    INSERT INTO loyalty.loyalty_programs AS g (business_id, name, welcome_points, request_ttl, points_ttl)
    VALUES (p_business_id, p_name, p_welcome_points, p_request_ttl, p_points_ttl)
    RETURNING g.id INTO v_id;
    RETURN v_id;
END;
$$;

-- sql/functions/set_program_status.sql
-- A business activates or deactivates one of its programs (contract "Who writes users and
-- programs"): 'ACTIVE' or 'INACTIVE' (22023 otherwise); another business's program is LY006,
-- an unknown one LY004. An INACTIVE program takes no request and earns and spends nothing
-- (ProgramNotActive, CardNotActive). Returns the program's status.
CREATE OR REPLACE FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner bigint;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a program''s status is ACTIVE or INACTIVE, not %s', coalesce(quote_literal(p_status), 'NULL'));
    END IF;
    SELECT g.business_id INTO v_owner FROM loyalty.loyalty_programs AS g WHERE g.id = p_program_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF v_owner IS DISTINCT FROM p_business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change program %s: it is another business''s', p_business_id, p_program_id);
    END IF;
    UPDATE loyalty.loyalty_programs AS g SET status = p_status, updated_at = now()
     WHERE g.id = p_program_id AND g.status IS DISTINCT FROM p_status;
    RETURN p_status;
END;
$$;

-- sql/functions/upsert_user.sql
-- Write a user as the application knows it (contract "Who writes users and programs"): the row
-- of that id made or brought up to date, so that a service's loyalty_app login needs no table
-- privilege. A business's copy (loyalty.businesses) follows its user: on one server the users
-- trigger does that, on a Citus cluster (no trigger there) this function. Returns the id.
CREATE OR REPLACE FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'a user id is required, not NULL';
    END IF;
    INSERT INTO loyalty.users AS u (id, name, email)
    VALUES (p_id, p_name, p_email)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email
     WHERE (u.name, u.email) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email);
    IF loyalty._distributed() THEN
        UPDATE loyalty.businesses AS b SET name = p_name, email = p_email, updated_at = now()
         WHERE b.id = p_id AND (b.name, b.email) IS DISTINCT FROM (p_name, p_email);
    END IF;
    RETURN p_id;
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.create_program(bigint,text,integer,interval,interval) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.set_program_status(bigint,bigint,text) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.upsert_user(bigint,text,text) TO loyalty_app;
