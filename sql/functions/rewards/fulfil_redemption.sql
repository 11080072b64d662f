-- The business hands the reward over: the PENDING redemption with that code in one of its
-- programs becomes FULFILLED, the customer is told and redemption.fulfilled is published. The
-- code is read without case, spaces or dashes ("abcd-2345" finds ABCD2345). Fulfilling it
-- again returns it; a cancelled one is RedemptionNotPending (LY018); a code none of the
-- business's programs issued is RedemptionNotFound (LY021). A code names no customer: on a
-- cluster it is looked up on every worker (an index probe each), then the row is the customer's.
CREATE OR REPLACE FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text)
RETURNS SETOF loyalty.redemption_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_code  text := upper(translate(p_code, E' -\t', ''));
    v_found loyalty.redemptions;
BEGIN
    IF p_business_id IS NULL OR p_code IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business_id and code must not be NULL';
    END IF;
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d WHERE d.code = v_code AND d.business_id = p_business_id;
    IF FOUND THEN
        -- Every decision on one redemption is serialised here; a waiter sees the decided row.
        SELECT d.* INTO v_found FROM loyalty.redemptions AS d
         WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id
           FOR UPDATE;
    END IF;
    IF v_found.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('No redemption with code %s in the programs of business %s', quote_literal(v_code),
                             p_business_id);
    ELSIF v_found.status = 'CANCELLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was cancelled; it cannot be fulfilled', v_found.id, v_code);
    ELSIF v_found.status = 'FULFILLED' THEN
        RETURN NEXT loyalty._redemption_details(v_found.customer_id, v_found.id);
        RETURN;
    END IF;
    UPDATE loyalty.redemptions AS d SET status = 'FULFILLED', decided_at = now()
     WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id;
    RETURN NEXT loyalty._redemption_changed(v_found.customer_id, v_found.id, 'redemption.fulfilled', NULL);
END;
$$;
