-- A reward's fields as create_reward and update_reward take them (NULL: not given): a name of 1
-- to 200 characters, a positive cost, a stock of zero or more, a status ACTIVE or INACTIVE;
-- else InvalidInput (22023) naming the argument.
CREATE OR REPLACE FUNCTION loyalty._check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_name IS NOT NULL AND length(loyalty._trim_space(p_name)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('name must be 1 to 200 characters, not %s', length(loyalty._trim_space(p_name)));
    END IF;
    IF p_points_cost IS NOT NULL THEN
        PERFORM loyalty._check_points(p_points_cost, 'points_cost', false);
    END IF;
    IF p_stock < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('stock must be zero or more (or NULL: unlimited), not %s', p_stock);
    END IF;
    IF p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('status must be ACTIVE or INACTIVE, not %s', quote_literal(p_status));
    END IF;
END;
$$;
