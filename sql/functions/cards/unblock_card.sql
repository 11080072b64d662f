-- Unblock a blocked card: it is ACTIVE again when its enrollment is (INACTIVE when its customer
-- has left the program). A card that is not blocked changes nothing and is returned.
CREATE OR REPLACE FUNCTION loyalty.unblock_card(
    p_customer_id bigint,
    p_program_id  bigint,
    p_reason      text,
    p_business_id bigint DEFAULT NULL
)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY008',
            MESSAGE = format('A reason is at most 1000 characters, not %s', length(p_reason));
    END IF;
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);
    IF v_card.status = 'BLOCKED' THEN
        UPDATE loyalty.loyalty_cards AS k
           SET status = coalesce(v_card.enrollment_status, 'INACTIVE'), blocked_reason = NULL, updated_at = now()
         WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
        RETURN NEXT loyalty._card_changed(
            p_customer_id, v_card.id, 'card.unblocked', 'CUSTOMER', 'CARD_UNBLOCKED', 'Your %2$s card works again',
            '%3$s unblocked your %2$s card%4$s.', coalesce(': ' || p_reason, ''),
            jsonb_strip_nulls(jsonb_build_object('reason', p_reason)));
        RETURN;
    END IF;
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
END;
$$;
