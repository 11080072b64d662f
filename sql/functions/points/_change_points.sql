-- The one writer of the points ledger (contract "Points"): earn, spend, adjust and reverse all
-- come here. In ONE transaction, under the row locks of the (customer, program)'s enrollment and
-- card (_lock_card: in that order, as an approval takes them, so the two never deadlock), it writes the
-- ledger row, the card's balance and the enrollment's copy of it, the customer's notification
-- and the event; or it writes nothing and raises. A key the card has seen replays the stored row
-- (same operation and arguments) or raises IdempotencyKeyReused (LY014): the lock makes a second
-- session with the same key wait, then find the first one's row. p_points is signed.
CREATE OR REPLACE FUNCTION loyalty._change_points(
    p_customer_id     bigint,
    p_program_id      bigint,
    p_points          integer,
    p_reason          text,
    p_idempotency_key text,
    p_business_id     bigint,
    p_reference       text,
    p_note            text,
    p_reverses_id     bigint DEFAULT NULL
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_card       loyalty._locked_card;
    v_stored     loyalty.point_transactions;
    v_program    loyalty._program_info;
    v_customer   record;
    v_balance    bigint;
    v_row        loyalty.point_transactions;
    v_type       text;
    v_credit     boolean := p_points > 0;
    v_reversal   bigint;
BEGIN
    IF p_idempotency_key IS NULL OR length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('idempotency_key must be 1 to 200 characters, not %s',
                             coalesce(length(p_idempotency_key)::text || ' characters', 'NULL'));
    END IF;
    IF length(p_reference) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('reference must be at most 200 characters, not %s', length(p_reference));
    END IF;
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);

    -- A key the card has seen: the stored row when the call is the same one, else LY014.
    SELECT t.* INTO v_stored
      FROM loyalty.point_transactions AS t
     WHERE t.customer_id = p_customer_id AND t.card_id = v_card.id AND t.idempotency_key = p_idempotency_key;
    IF v_stored.id IS NOT NULL THEN
        IF (v_stored.reason::text, v_stored.points, v_stored.reference, v_stored.note, v_stored.reverses_id)
           IS NOT DISTINCT FROM (p_reason, p_points, p_reference, p_note, p_reverses_id) THEN
            RETURN ROW(v_stored.id, v_stored.customer_id, v_stored.program_id, v_stored.card_id, v_stored.points,
                       v_stored.balance_after, v_stored.reason::text, v_stored.created_at, true)::loyalty.point_result;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'LY014',
            MESSAGE = format('Idempotency key %s was used on card %s for %s %s points; this call is another',
                             quote_literal(p_idempotency_key), v_card.id, v_stored.reason, v_stored.points);
    END IF;

    -- One reversal a transaction: any writer of this card holds its lock, so this check is safe.
    IF p_reverses_id IS NOT NULL THEN
        SELECT t.id INTO v_reversal FROM loyalty.point_transactions AS t
         WHERE t.customer_id = p_customer_id AND t.reverses_id = p_reverses_id;
        IF v_reversal IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'LY016',
                MESSAGE = format('Transaction %s was reversed already (by transaction %s)', p_reverses_id, v_reversal);
        END IF;
    END IF;

    v_program := loyalty._program_info(p_program_id);
    -- Earning and spending (a deduction and a redemption are spends) need the card, its
    -- enrollment and its program ACTIVE; corrections (adjustments, reversals, refunds) do not.
    IF p_reason IN ('EARN', 'SPEND', 'DEDUCTION', 'REDEEM') AND (v_card.status <> 'ACTIVE' OR v_card.enrollment_status IS DISTINCT FROM 'ACTIVE'
                                           OR v_program.status <> 'ACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = 'LY013',
            MESSAGE = format('Card %s is not active (card %s, enrollment %s, program %s)', v_card.id, v_card.status,
                             coalesce(v_card.enrollment_status, 'missing'), v_program.status);
    END IF;

    v_balance := v_card.points_balance::bigint + p_points;
    IF v_balance > 2147483647 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY015',
            MESSAGE = format('Card %s would hold %s points, more than a card holds (2147483647)', v_card.id, v_balance);
    ELSIF v_balance < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY011',
            MESSAGE = format('Insufficient points: card %s has %s points, %s needs %s', v_card.id,
                             v_card.points_balance, lower(p_reason), -p_points);
    END IF;

    INSERT INTO loyalty.point_transactions AS t
           (customer_id, card_id, program_id, business_id, points, reason, idempotency_key, reference, note,
            balance_after, reverses_id)
    VALUES (p_customer_id, v_card.id, p_program_id, v_card.business_id, p_points, p_reason, p_idempotency_key,
            p_reference, p_note, v_balance, p_reverses_id)
    RETURNING t.* INTO v_row;
    -- A debit uses the card's credits that expire soonest first (0036): those that can expire
    -- oldest first (a card's credits share its program's points_ttl), then the ones that never do
    -- (OPENING, IMPORT); each credit's consumed grows by what this debit takes of it. Oldest by
    -- created_at, the order the sweep expires them in (0039; by id before: a transaction that
    -- started first but took the card's lock second has the later id and the earlier time).
    IF p_points < 0 THEN
        UPDATE loyalty.point_transactions AS t
           SET consumed = t.consumed + a.take
          FROM (SELECT c.id,
                       least(c.points - c.consumed,
                             greatest(0, -p_points - coalesce(sum(c.points - c.consumed) OVER (
                                 ORDER BY c.reason::text IN ('OPENING', 'IMPORT'), c.created_at, c.id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS take
                  FROM loyalty.point_transactions AS c
                 WHERE c.customer_id = p_customer_id AND c.card_id = v_card.id AND c.points > c.consumed) AS a
         WHERE t.customer_id = p_customer_id AND t.id = a.id AND a.take > 0;
    END IF;
    UPDATE loyalty.loyalty_cards AS k
       SET points_balance = v_balance, updated_at = now()
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
    IF v_card.enrollment_id IS NOT NULL THEN
        UPDATE loyalty.program_enrollments AS e
           SET current_points = v_balance, updated_at = now()
         WHERE e.customer_id = p_customer_id AND e.id = v_card.enrollment_id;
    END IF;

    -- The customer is told by name, and the change published, in this transaction; a redemption's
    -- spend and refund are told and published by redeem_reward and cancel_redemption, with the reward.
    IF p_reason NOT IN ('REDEEM', 'REFUND') THEN
        SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data)
        VALUES (p_customer_id, v_card.business_id, CASE WHEN v_credit THEN 'POINTS_ADDED' ELSE 'POINTS_DEDUCTED' END,
                loyalty._points_title(p_points, v_program.name),
                loyalty._points_message(p_points, p_reason, v_program.name, v_program.business_name, v_balance::integer),
                loyalty._points_notification_data(v_customer.name, v_program.name, v_program.business_name, v_card.id,
                                                  v_row.id, p_points, v_balance, p_reason));
        v_type := CASE p_reason WHEN 'EARN' THEN 'points.earned' WHEN 'SPEND' THEN 'points.spent'
                                WHEN 'ADJUST' THEN 'points.adjusted' WHEN 'REVERSAL' THEN 'points.reversed'
                                WHEN 'DEDUCTION' THEN 'points.deducted' WHEN 'EXPIRE' THEN 'points.expired'
                                ELSE 'points.' || lower(p_reason) END;
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (p_customer_id, v_card.business_id, v_type,
                loyalty._points_event_payload(v_customer.name, v_program.name, v_program.business_name, p_program_id,
                                              v_card.id, v_card.card_number, v_row.id, p_points, v_balance,
                                              p_reverses_id, v_customer.notification_preferences));
    END IF;

    RETURN ROW(v_row.id, v_row.customer_id, v_row.program_id, v_row.card_id, v_row.points, v_row.balance_after,
               v_row.reason::text, v_row.created_at, false)::loyalty.point_result;
END;
$$;
