-- The customer redeems a reward with the card of the reward's program: in ONE transaction the
-- cost is spent as a REDEEM ledger row (the ledger's writer: never below zero, InsufficientPoints,
-- LY011; a card not ACTIVE is CardNotActive, LY013), one is taken from a limited stock, and the
-- redemption is recorded PENDING with the code the business types at the counter; both sides are
-- told by name and reward.redeemed is published. The reward must be ACTIVE with stock left, else
-- RewardUnavailable (LY017); the card must exist (CardNotFound, LY012). A key the card has seen
-- for this reward replays the redemption (replayed true); for anything else it is LY014.
CREATE OR REPLACE FUNCTION loyalty.redeem_reward(
    p_customer_id     bigint,
    p_reward_id       bigint,
    p_idempotency_key text
)
RETURNS loyalty.redemption_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_reward loyalty.rewards;
    v_card   loyalty._locked_card;
    v_stored loyalty.redemptions;
    v_spent  loyalty.point_result;
    v_id     uuid;
    v_code   text;
BEGIN
    IF p_customer_id IS NULL OR p_reward_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and reward_id must not be NULL';
    ELSIF p_idempotency_key IS NULL OR length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('idempotency_key must be 1 to 200 characters, not %s',
                             coalesce(length(p_idempotency_key)::text || ' characters', 'NULL'));
    END IF;
    SELECT r.* INTO v_reward FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    END IF;
    -- The card's lock, as every writer of the card takes it: a second call with the same key
    -- waits here, then finds the first one's redemption.
    v_card := loyalty._lock_card(p_customer_id, v_reward.program_id, NULL);
    SELECT d.* INTO v_stored FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.card_id = v_card.id AND d.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        IF v_stored.reward_id <> p_reward_id THEN
            RAISE EXCEPTION USING ERRCODE = 'LY014',
                MESSAGE = format('Idempotency key %s was used on card %s to redeem reward %s; this call redeems %s',
                                 quote_literal(p_idempotency_key), v_card.id, v_stored.reward_id, p_reward_id);
        END IF;
        RETURN ROW(v_stored.id, v_stored.code, v_stored.status::text, v_stored.reward_id, v_stored.points,
                   (SELECT t.balance_after FROM loyalty.point_transactions AS t
                     WHERE t.customer_id = p_customer_id AND t.id = v_stored.transaction_id), true)::loyalty.redemption_result;
    END IF;
    IF v_reward.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is not active', v_reward.name);
    END IF;
    -- One less of a limited stock, or none left. The row lock makes concurrent redeemers of the
    -- last items take turns, each seeing the stock the one before left. (On a cluster the
    -- catalogue is reference data: this write reaches every node in this transaction; an
    -- unlimited reward writes nothing there and stays on the customer's worker.)
    IF v_reward.stock IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock - 1, updated_at = now()
         WHERE r.id = p_reward_id AND r.stock > 0 AND r.status = 'ACTIVE';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is out of stock', v_reward.name);
        END IF;
    END IF;
    -- The spend; on any error from here, the stock taken above rolls back with it.
    v_spent := loyalty._change_points(p_customer_id, v_reward.program_id, -v_reward.points_cost, 'REDEEM',
                                      p_idempotency_key, NULL, 'reward:' || p_reward_id, v_reward.name);
    v_id := loyalty._request_id(p_customer_id);
    v_code := loyalty._redemption_code(nextval('loyalty.redemption_number_seq'));
    INSERT INTO loyalty.redemptions (customer_id, id, reward_id, card_id, program_id, business_id, points, code,
                                     idempotency_key, transaction_id)
    VALUES (p_customer_id, v_id, p_reward_id, v_card.id, v_reward.program_id, v_reward.business_id,
            v_reward.points_cost, v_code, p_idempotency_key, v_spent.transaction_id);
    PERFORM loyalty._redemption_changed(p_customer_id, v_id, 'reward.redeemed', v_spent.balance_after);
    RETURN ROW(v_id, v_code, 'PENDING', p_reward_id, v_reward.points_cost, v_spent.balance_after,
               false)::loyalty.redemption_result;
END;
$$;
