-- An amount of points as the ledger's callers take it: a positive integer, or (p_signed) any
-- non-zero one; else InvalidInput (22023) naming the argument.
CREATE OR REPLACE FUNCTION loyalty._check_points(p_points integer, p_name text, p_signed boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_points IS NULL OR p_points = 0 OR (p_points < 0 AND NOT p_signed) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s must be %s integer, not %s', p_name,
                             CASE WHEN p_signed THEN 'a non-zero' ELSE 'a positive' END, coalesce(p_points::text, 'NULL'));
    END IF;
END;
$$;
