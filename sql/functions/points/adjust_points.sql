-- A correction of p_points (positive or negative, not zero) with a note saying why; allowed on
-- a card, enrollment or program that is not ACTIVE. Never below zero.
CREATE OR REPLACE FUNCTION loyalty.adjust_points(
    p_customer_id     bigint,
    p_program_id      bigint,
    p_points          integer,
    p_idempotency_key text,
    p_note            text,
    p_business_id     bigint DEFAULT NULL
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', true);
    IF length(p_note) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('note must be at most 1000 characters, not %s', length(p_note));
    END IF;
    RETURN loyalty._change_points(p_customer_id, p_program_id, p_points, 'ADJUST', p_idempotency_key,
                                  p_business_id, NULL, p_note);
END;
$$;
