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
