-- The (customer, program)'s enrollment and card, locked FOR NO KEY UPDATE in that order (the
-- order an approval locks them in, so the two never deadlock), for every call that changes a
-- card: the ledger's writer and the card lifecycle. CardNotFound (LY012) when there is no card;
-- NotAuthorized (LY006) when p_business_id is given and the card is another business's. A card
-- with no enrollment (an imported one) is locked alone, its enrollment fields NULL.
CREATE OR REPLACE FUNCTION loyalty._lock_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint)
RETURNS loyalty._locked_card
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'customer_id and program_id are required, not NULL';
    END IF;
    -- An erased customer's cards change no more (0041: CustomerErased, LY019).
    PERFORM loyalty._refuse_erased(p_customer_id);
    SELECT e.id, e.status::text INTO v_card.enrollment_id, v_card.enrollment_status
      FROM loyalty.program_enrollments AS e
     WHERE e.customer_id = p_customer_id AND e.program_id = p_program_id
       FOR NO KEY UPDATE;
    SELECT k.id, k.business_id, k.card_number, k.status::text, k.points_balance::integer
      INTO v_card.id, v_card.business_id, v_card.card_number, v_card.status, v_card.points_balance
      FROM loyalty.loyalty_cards AS k
     WHERE k.customer_id = p_customer_id AND k.program_id = p_program_id
       FOR NO KEY UPDATE;
    IF v_card.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY012',
            MESSAGE = format('Customer %s has no card in program %s', p_customer_id, p_program_id);
    END IF;
    IF p_business_id IS NOT NULL AND p_business_id <> v_card.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change card %s: its program belongs to another business',
                             p_business_id, v_card.id);
    END IF;
    RETURN v_card;
END;
$$;
