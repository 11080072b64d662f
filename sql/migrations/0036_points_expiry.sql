-- 0036_points_expiry: points expire (contract "Points expiry"; issue 29). loyalty_programs.
-- points_ttl (NULL: never); a credit of such a program (EARN, WELCOME, REFUND, a positive ADJUST
-- or REVERSAL) expires that long after it was made, OPENING and IMPORT rows never. Every debit
-- takes from the credits that expire soonest (point_transactions.consumed: how much of a credit
-- is used); expire_points (and `loyaltydb expire`) writes off what is left of overdue credits,
-- as EXPIRE rows; verify_points checks that what is left of the credits is the balance.
-- depends: 0035_notification_page_message

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;
-- On a distributed database, Citus creates functions after an ALTER TABLE in one transaction
-- only over one connection per worker (as 0014). (On one server: a placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

ALTER TABLE loyalty.loyalty_programs ADD COLUMN points_ttl interval;
-- How much of a credit (a row of positive points) debits have used; 0 for every other row. A
-- constant default: no table rewrite.
ALTER TABLE loyalty.point_transactions ADD COLUMN consumed integer NOT NULL DEFAULT 0;

-- What is left of the credits before this migration: the balance, held by the newest credits
-- (debits used the oldest first, as from now on), so that the new invariant holds from here.
UPDATE loyalty.point_transactions AS t
   SET consumed = t.points - a.left_over
  FROM (SELECT c.customer_id, c.id,
               greatest(0, least(c.points, k.points_balance - coalesce(sum(c.points) OVER (
                   PARTITION BY c.customer_id, c.card_id ORDER BY c.id DESC
                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS left_over
          FROM loyalty.point_transactions AS c
          JOIN loyalty.loyalty_cards AS k ON k.customer_id = c.customer_id AND k.id = c.card_id
         WHERE c.points > 0) AS a
 WHERE t.customer_id = a.customer_id AND t.id = a.id AND t.points <> a.left_over;

-- The sweep's credits that may expire, oldest first (a credit leaves it once used up, so the
-- sweep never reads past spent ones). A debit finds its card's open credits through the card's
-- history index (point_transactions_card_idx): a second partial index cost every earn 3.8% more
-- instructions (docs/benchmarks.md).
CREATE INDEX point_transactions_open_credits_idx ON loyalty.point_transactions (created_at)
    WHERE points > consumed AND reason::text NOT IN ('OPENING', 'IMPORT');

-- sql/functions/expire_points.sql
-- Expire what is left of overdue credits (contract "Points expiry"): a credit (EARN, WELCOME,
-- REFUND, a positive ADJUST or REVERSAL) of a program with a points_ttl expires that long after
-- it was made; OPENING and IMPORT rows never do. At most p_limit credits, oldest first; for each,
-- under its card's locks (the ledger's own), what is left of it NOW is written off as an EXPIRE
-- row through the ledger's writer, which takes it from the credits that expire soonest: this one
-- (the card's oldest open credit that can expire). So a point spent meanwhile is never expired,
-- and two sweeps at once expire a credit once (the second finds nothing left, or its key).
-- Returns how many credits it expired; call it until it returns less than p_limit.
CREATE OR REPLACE FUNCTION loyalty.expire_points(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_due     record;
    v_left    integer;
    v_expired integer := 0;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    FOR v_due IN
        SELECT t.customer_id, t.program_id, t.id
          FROM loyalty.point_transactions AS t
          JOIN loyalty.loyalty_programs AS g ON g.id = t.program_id
         WHERE t.points > t.consumed AND t.reason::text NOT IN ('OPENING', 'IMPORT')
           AND g.points_ttl IS NOT NULL AND t.created_at <= now() - g.points_ttl
         ORDER BY t.created_at, t.customer_id, t.id
         LIMIT p_limit
    LOOP
        PERFORM loyalty._lock_card(v_due.customer_id, v_due.program_id, NULL);
        SELECT t.points - t.consumed INTO v_left FROM loyalty.point_transactions AS t
         WHERE t.customer_id = v_due.customer_id AND t.id = v_due.id;
        IF v_left > 0 THEN
            PERFORM loyalty._change_points(v_due.customer_id, v_due.program_id, -v_left, 'EXPIRE',
                                           'expire:' || v_due.id, NULL, NULL, NULL);
            v_expired := v_expired + 1;
        END IF;
    END LOOP;
    RETURN v_expired;
END;
$$;

-- sql/functions/_change_points.sql
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
    -- Earning and spending (a deduction is one) need the card, its enrollment and its program
    -- ACTIVE; corrections (adjustments, reversals) do not.
    IF p_reason IN ('EARN', 'SPEND', 'DEDUCTION') AND (v_card.status <> 'ACTIVE' OR v_card.enrollment_status IS DISTINCT FROM 'ACTIVE'
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
    -- (OPENING, IMPORT); each credit's consumed grows by what this debit takes of it.
    IF p_points < 0 THEN
        UPDATE loyalty.point_transactions AS t
           SET consumed = t.consumed + a.take
          FROM (SELECT c.id,
                       least(c.points - c.consumed,
                             greatest(0, -p_points - coalesce(sum(c.points - c.consumed) OVER (
                                 ORDER BY c.reason::text IN ('OPENING', 'IMPORT'), c.id
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

    -- The customer is told by name, and the change published, in this transaction.
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

    RETURN ROW(v_row.id, v_row.customer_id, v_row.program_id, v_row.card_id, v_row.points, v_row.balance_after,
               v_row.reason::text, v_row.created_at, false)::loyalty.point_result;
END;
$$;

-- sql/functions/_points_message.sql
-- The message of a points notification, naming the business and the program and giving the new
-- balance: "Bean There Coffee added 50 points to your Coffee Club card. Your balance is 150
-- points." A correction (an adjustment or a reversal) says so.
-- STABLE, as format() is: an IMMUTABLE function whose body calls a STABLE one is never inlined,
-- and PostgreSQL then plans it again on every call (measured: an earn cost 18% more instructions).
CREATE OR REPLACE FUNCTION loyalty._points_message(
    p_points integer, p_reason text, p_program_name text, p_business_name text, p_balance integer)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format('%s %s %s points %s your %s card%s. Your balance is %s points.',
                  p_business_name, CASE WHEN p_points > 0 THEN 'added' ELSE 'deducted' END, abs(p_points),
                  CASE WHEN p_points > 0 THEN 'to' ELSE 'from' END, p_program_name,
                  CASE p_reason WHEN 'ADJUST' THEN ' (a correction)' WHEN 'REVERSAL' THEN ' (a reversal)'
                                WHEN 'EXPIRE' THEN ' (they expired)' ELSE '' END,
                  p_balance)
$$;

-- sql/functions/verify_points.sql
-- Every card that breaks a ledger invariant, one row each (none on a healthy database): its
-- balance is not the sum of its ledger rows, or its enrollment's current_points is not its
-- balance, or (since 0036) what is left of its credits does not add up to its balance.
-- `loyaltydb status --check` fails when this returns a row.
CREATE OR REPLACE FUNCTION loyalty.verify_points()
RETURNS TABLE (customer_id bigint, program_id bigint, card_id bigint, points_balance integer, ledger_sum bigint,
               enrollment_points integer, problem text)
LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.customer_id, k.program_id, k.id, k.points_balance, coalesce(s.total, 0), e.current_points,
           concat_ws('; ',
                     CASE WHEN k.points_balance <> coalesce(s.total, 0)
                          THEN format('balance %s is not the ledger''s sum %s', k.points_balance, coalesce(s.total, 0)) END,
                     CASE WHEN e.current_points IS DISTINCT FROM k.points_balance AND e.id IS NOT NULL
                          THEN format('the enrollment says %s points', e.current_points) END,
                     CASE WHEN k.points_balance <> coalesce(s.left_over, 0)
                          THEN format('what is left of its credits is %s', coalesce(s.left_over, 0)) END)
      FROM loyalty.loyalty_cards AS k
      LEFT JOIN (SELECT t.customer_id, t.card_id, sum(t.points) AS total,
                        sum(t.points - t.consumed) FILTER (WHERE t.points > 0) AS left_over
                   FROM loyalty.point_transactions AS t GROUP BY t.customer_id, t.card_id) AS s
             ON s.customer_id = k.customer_id AND s.card_id = k.id
      LEFT JOIN loyalty.program_enrollments AS e ON e.customer_id = k.customer_id AND e.program_id = k.program_id
     WHERE k.points_balance <> coalesce(s.total, 0)
        OR (e.id IS NOT NULL AND e.current_points IS DISTINCT FROM k.points_balance)
        OR k.points_balance <> coalesce(s.left_over, 0)
     ORDER BY k.customer_id, k.id
$$;

GRANT EXECUTE ON FUNCTION loyalty.expire_points(integer) TO loyalty_app;
