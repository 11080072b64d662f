-- Cancel a PENDING redemption: the customer's own (p_business_id NULL), or, with p_business_id,
-- one of that business's programs. In ONE transaction its points come back as a REFUND ledger
-- row (keyed by the redemption, so never twice), a limited stock gets its item back, the
-- redemption becomes CANCELLED, the other side is told and redemption.cancelled is published.
-- Cancelling again returns it; a fulfilled one is RedemptionNotPending (LY018); an id that is
-- not that customer's is RedemptionNotFound (LY021); another business's is NotAuthorized (LY006).
CREATE OR REPLACE FUNCTION loyalty.cancel_redemption(
    p_customer_id   bigint,
    p_redemption_id uuid,
    p_business_id   bigint DEFAULT NULL
)
RETURNS SETOF loyalty.redemption_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_found  loyalty.redemptions;
    v_refund loyalty.point_result;
BEGIN
    IF p_customer_id IS NULL OR p_redemption_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and redemption_id must not be NULL';
    END IF;
    -- Every decision on one redemption is serialised here; a waiter sees the decided row.
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('Redemption %s is not one of customer %s''s', p_redemption_id, p_customer_id);
    ELSIF p_business_id IS NOT NULL AND p_business_id <> v_found.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not cancel redemption %s: it is another business''s', p_business_id,
                             p_redemption_id);
    ELSIF v_found.status = 'FULFILLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was fulfilled; it cannot be cancelled', p_redemption_id,
                             v_found.code);
    ELSIF v_found.status = 'CANCELLED' THEN
        RETURN NEXT loyalty._redemption_details(p_customer_id, p_redemption_id);
        RETURN;
    END IF;
    v_refund := loyalty._change_points(p_customer_id, v_found.program_id, v_found.points, 'REFUND',
                                       'refund:' || p_redemption_id, NULL, 'redemption:' || p_redemption_id, NULL);
    -- A limited stock gets its item back (on a cluster a write of every node; none for unlimited).
    IF (SELECT r.stock FROM loyalty.rewards AS r WHERE r.id = v_found.reward_id) IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock + 1, updated_at = now() WHERE r.id = v_found.reward_id;
    END IF;
    UPDATE loyalty.redemptions AS d
       SET status = 'CANCELLED', decided_at = now(), refund_id = v_refund.transaction_id,
           cancelled_by = CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN NEXT loyalty._redemption_changed(p_customer_id, p_redemption_id, 'redemption.cancelled',
                                            v_refund.balance_after,
                                            CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END);
END;
$$;
