-- The ledger of the customer's card in the program, newest first, p_limit rows (1 to 1,000)
-- after transaction p_before in that order (keyset pages; an id that is not the card's gives an
-- empty page). CardNotFound (LY012) when the pair has no card.
CREATE OR REPLACE FUNCTION loyalty.card_transactions(
    p_customer_id bigint,
    p_program_id  bigint,
    p_limit       integer DEFAULT 50,
    p_before      bigint DEFAULT NULL
)
RETURNS TABLE (transaction_id bigint, points integer, balance_after integer, reason text, reference text,
               note text, reverses_id bigint, created_at timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card_id   bigint;
    v_before_at timestamptz;
BEGIN
    PERFORM loyalty._check_page_limit(p_limit);
    SELECT k.id INTO v_card_id FROM loyalty.loyalty_cards AS k
     WHERE k.customer_id = p_customer_id AND k.program_id = p_program_id;
    IF v_card_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY012',
            MESSAGE = format('Customer %s has no card in program %s', p_customer_id, p_program_id);
    END IF;
    -- Newest first by time, then id: on a Citus cluster ids are not in time order (a row written
    -- through the coordinator, by a batch, takes a smaller id than one written on the worker).
    SELECT t.created_at INTO v_before_at FROM loyalty.point_transactions AS t
     WHERE t.customer_id = p_customer_id AND t.card_id = v_card_id AND t.id = p_before;
    RETURN QUERY
        SELECT t.id, t.points, t.balance_after, t.reason::text, t.reference, t.note, t.reverses_id, t.created_at
          FROM loyalty.point_transactions AS t
         WHERE t.customer_id = p_customer_id AND t.card_id = v_card_id
           AND (p_before IS NULL OR (t.created_at, t.id) < (v_before_at, p_before))
         ORDER BY t.created_at DESC, t.id DESC
         LIMIT p_limit;
END;
$$;
