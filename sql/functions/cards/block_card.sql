-- Block the customer's card in the program (lost, stolen, misused): it earns and spends nothing
-- (CardNotActive) until unblock_card; re-joining the program does not unblock it. p_reason (at
-- most 1,000 characters) is kept on the card and told to the customer. A blocked card blocked
-- again changes nothing and returns the card. With p_business_id, only that business's cards.
CREATE OR REPLACE FUNCTION loyalty.block_card(
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
    IF v_card.status <> 'BLOCKED' THEN
        UPDATE loyalty.loyalty_cards AS k
           SET status = 'BLOCKED', blocked_reason = p_reason, updated_at = now()
         WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
        RETURN NEXT loyalty._card_changed(
            p_customer_id, v_card.id, 'card.blocked', 'CUSTOMER', 'CARD_BLOCKED', 'Your %2$s card is blocked',
            '%3$s blocked your %2$s card%4$s. It earns and spends no points until it is unblocked.',
            coalesce(': ' || p_reason, ''), jsonb_strip_nulls(jsonb_build_object('reason', p_reason)));
        RETURN;
    END IF;
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
END;
$$;
