-- What a customer of the program can redeem now: its ACTIVE rewards with stock left, cheapest
-- first. A program that does not exist is LY004 (an empty catalogue is an empty result).
CREATE OR REPLACE FUNCTION loyalty.program_rewards(p_program_id bigint)
RETURNS SETOF loyalty.reward_details
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM loyalty.loyalty_programs AS p WHERE p.id = p_program_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    RETURN QUERY
    SELECT r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock
      FROM loyalty.rewards AS r
     WHERE r.program_id = p_program_id AND r.status = 'ACTIVE' AND (r.stock IS NULL OR r.stock > 0)
     ORDER BY r.points_cost, r.id;
END;
$$;
