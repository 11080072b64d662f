-- Replace a lost or worn card: the same card (its id, balance and ledger) under a new number;
-- the old number finds nothing from then on (find_card) and is never issued again (the card
-- counts one more ordinal: _card_number). A blocked card is unblocked by its replacement (the
-- block was for the old plastic). Each call makes a new number. With p_business_id, only that
-- business's cards.
CREATE OR REPLACE FUNCTION loyalty.replace_card(
    p_customer_id bigint,
    p_program_id  bigint,
    p_business_id bigint DEFAULT NULL
)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card   loyalty._locked_card;
    v_number text;
BEGIN
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);
    -- The card's old number counts as one of the customer's ordinals from now on.
    UPDATE loyalty.loyalty_cards AS k
       SET replacements = k.replacements + 1
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
    v_number := loyalty._card_number(p_customer_id);
    UPDATE loyalty.loyalty_cards AS k
       SET card_number = v_number, updated_at = now(), blocked_reason = NULL,
           status = CASE WHEN k.status = 'BLOCKED' THEN coalesce(v_card.enrollment_status, 'INACTIVE') ELSE k.status END
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
    RETURN NEXT loyalty._card_changed(
        p_customer_id, v_card.id, 'card.replaced', 'CUSTOMER', 'CARD_REPLACED', 'Your new %2$s card',
        '%3$s replaced your %2$s card: the new number is %4$s. Your points are on it; the old card no longer works.',
        v_number, jsonb_build_object('previous_card_number', v_card.card_number));
END;
$$;
