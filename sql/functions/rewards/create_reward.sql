-- A reward in the catalogue of one of the business's programs: a name (1 to 200 characters), a
-- cost in points (positive) and a stock (NULL: unlimited; else how many are left, never below
-- zero). Returns its id. Errors: 22023 (a field), LY004 (no such program), LY006 (another
-- business's program).
CREATE OR REPLACE FUNCTION loyalty.create_reward(
    p_business_id bigint,
    p_program_id  bigint,
    p_name        text,
    p_points_cost integer,
    p_stock       integer DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_program loyalty._program_info;
    v_id      bigint;
BEGIN
    IF p_name IS NULL OR p_points_cost IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a reward needs a name and a points_cost, not NULL';
    END IF;
    PERFORM loyalty._check_reward(p_name, p_points_cost, p_stock, NULL);
    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF p_business_id IS DISTINCT FROM v_program.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not add rewards to program %s: it is another business''s',
                             p_business_id, p_program_id);
    END IF;
    INSERT INTO loyalty.rewards AS r (program_id, business_id, name, points_cost, stock)
    VALUES (p_program_id, p_business_id, loyalty._trim_space(p_name), p_points_cost, p_stock)
    RETURNING r.id INTO v_id;
    RETURN v_id;
END;
$$;
