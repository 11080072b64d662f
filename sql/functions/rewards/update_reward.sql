-- Change one of the business's rewards: its status (ACTIVE or INACTIVE), its cost, its stock
-- (how many are left from now on); NULL leaves a field as it is, so a limited stock stays
-- limited (a new reward is unlimited when created so). Returns the reward. Redemptions made
-- before keep the cost they paid. Errors: 22023 (a field), LY017 (no such reward), LY006
-- (another business's reward).
CREATE OR REPLACE FUNCTION loyalty.update_reward(
    p_business_id bigint,
    p_reward_id   bigint,
    p_status      text DEFAULT NULL,
    p_points_cost integer DEFAULT NULL,
    p_stock       integer DEFAULT NULL
)
RETURNS SETOF loyalty.reward_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner bigint;
BEGIN
    PERFORM loyalty._check_reward(NULL, p_points_cost, p_stock, p_status);
    SELECT r.business_id INTO v_owner FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF v_owner IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    ELSIF p_business_id IS DISTINCT FROM v_owner THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change reward %s: it is another business''s', p_business_id,
                             p_reward_id);
    END IF;
    RETURN QUERY
    UPDATE loyalty.rewards AS r
       SET status = coalesce(p_status, r.status), points_cost = coalesce(p_points_cost, r.points_cost),
           stock = coalesce(p_stock, r.stock), updated_at = now()
     WHERE r.id = p_reward_id
    RETURNING r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock;
END;
$$;
