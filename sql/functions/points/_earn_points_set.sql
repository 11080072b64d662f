-- earn_points_batch's set-based path (one statement a table for the whole batch, not one call of
-- _change_points an entry): taken only for a batch in which every entry simply writes, which is
-- the batch a till or an import sends. Anything else (a bad value, a key seen before or twice,
-- a pair without an enrollment or a card, a card, enrollment or program not ACTIVE, another
-- business's card, a balance past an integer) returns NULL after the locks and before any write,
-- and the caller then takes each entry through _change_points, which raises, replays or refuses
-- exactly as a single call. So this path adds no rule of its own; a test compares the two paths'
-- rows. Not on a Citus cluster, which refuses FOR UPDATE over several shards.
CREATE OR REPLACE FUNCTION loyalty._earn_points_set(
    p_customer_ids     bigint[],
    p_program_ids      bigint[],
    p_points           integer[],
    p_idempotency_keys text[],
    p_business_id      bigint
)
RETURNS loyalty.point_result[]
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_pairs     bigint;
    v_customers bigint[];
    v_programs  bigint[];
    v_cards     bigint[];
    v_ready     boolean;
    v_results   loyalty.point_result[];
BEGIN
    -- Every value usable and every key new within the batch (a repeat would be a replay).
    IF EXISTS (SELECT FROM unnest(p_customer_ids, p_program_ids, p_points, p_idempotency_keys) AS f (c, g, n, k)
                WHERE c IS NULL OR g IS NULL OR n IS NULL OR n <= 0 OR k IS NULL OR length(k) NOT BETWEEN 1 AND 200)
       OR (SELECT count(DISTINCT (f.c, f.g, f.k)) FROM unnest(p_customer_ids, p_program_ids, p_idempotency_keys) AS f (c, g, k))
          <> cardinality(p_idempotency_keys) THEN
        RETURN NULL;
    END IF;
    SELECT count(DISTINCT (f.c, f.g)) INTO v_pairs FROM unnest(p_customer_ids, p_program_ids) AS f (c, g);

    -- Each pair's enrollment and card locked, in (customer, program) order: the order a single
    -- change and an approval take them in, so batches and single calls never deadlock.
    WITH locked AS (
        SELECT e.customer_id, e.program_id, k.id AS card_id
          FROM loyalty.program_enrollments AS e
          JOIN loyalty.loyalty_cards AS k ON k.customer_id = e.customer_id AND k.program_id = e.program_id
         WHERE (e.customer_id, e.program_id) IN (SELECT f.c, f.g FROM unnest(p_customer_ids, p_program_ids) AS f (c, g))
         ORDER BY e.customer_id, e.program_id
           FOR NO KEY UPDATE OF e, k
    )
    SELECT array_agg(l.customer_id), array_agg(l.program_id), array_agg(l.card_id)
      INTO v_customers, v_programs, v_cards
      FROM locked AS l;
    IF coalesce(cardinality(v_cards), 0) <> v_pairs THEN
        RETURN NULL;  -- a pair without an enrollment or a card
    END IF;

    -- Under the locks: everything ACTIVE, the business's own cards, no key seen, no overflow.
    SELECT NOT EXISTS (
               SELECT FROM unnest(v_customers, v_programs) AS f (c, g)
                 JOIN loyalty.program_enrollments AS e ON e.customer_id = f.c AND e.program_id = f.g
                 JOIN loyalty.loyalty_cards AS k ON k.customer_id = f.c AND k.program_id = f.g
                 JOIN loyalty.loyalty_programs AS p ON p.id = f.g
                WHERE e.status <> 'ACTIVE' OR k.status <> 'ACTIVE' OR p.status <> 'ACTIVE'
                   OR (p_business_id IS NOT NULL AND k.business_id <> p_business_id)
                   OR k.points_balance::bigint
                      + (SELECT sum(x.n) FROM unnest(p_customer_ids, p_program_ids, p_points) AS x (c, g, n)
                          WHERE x.c = f.c AND x.g = f.g) > 2147483647)
       AND NOT EXISTS (
               SELECT FROM unnest(p_customer_ids, p_program_ids, p_idempotency_keys) AS f (c, g, k)
                 JOIN unnest(v_customers, v_programs, v_cards) AS l (c, g, card_id) ON l.c = f.c AND l.g = f.g
                 JOIN loyalty.point_transactions AS t
                   ON t.customer_id = f.c AND t.card_id = l.card_id AND t.idempotency_key = f.k)
      INTO v_ready;
    IF NOT v_ready THEN
        RETURN NULL;
    END IF;

    -- The ledger rows, in the entries' order, each with the balance after it (the card's balance
    -- plus the pair's entries so far); their results in the same order.
    WITH entries AS (
        SELECT f.position, f.c AS customer_id, f.g AS program_id, f.n AS points, f.k AS idempotency_key,
               k.id AS card_id, k.business_id,
               k.points_balance + sum(f.n) OVER (PARTITION BY f.c, f.g ORDER BY f.position) AS balance_after
          FROM unnest(p_customer_ids, p_program_ids, p_points, p_idempotency_keys) WITH ORDINALITY
               AS f (c, g, n, k, position)
          JOIN loyalty.loyalty_cards AS k ON k.customer_id = f.c AND k.program_id = f.g
    ), ledger AS (
        INSERT INTO loyalty.point_transactions AS t
               (customer_id, card_id, program_id, business_id, points, reason, idempotency_key, balance_after)
        SELECT e.customer_id, e.card_id, e.program_id, e.business_id, e.points, 'EARN', e.idempotency_key,
               e.balance_after
          FROM entries AS e
         ORDER BY e.position
        RETURNING t.id, t.customer_id, t.card_id, t.idempotency_key, t.created_at
    )
    SELECT array_agg(ROW(l.id, e.customer_id, e.program_id, e.card_id, e.points, e.balance_after, 'EARN',
                         l.created_at, false)::loyalty.point_result ORDER BY e.position)
      INTO v_results
      FROM entries AS e
      JOIN ledger AS l ON l.customer_id = e.customer_id AND l.card_id = e.card_id AND l.idempotency_key = e.idempotency_key;

    -- Each card's balance and its enrollment's copy: the last balance_after of its pair.
    UPDATE loyalty.loyalty_cards AS k
       SET points_balance = f.balance, updated_at = now()
      FROM (SELECT r.customer_id, r.card_id, max(r.balance_after) AS balance
              FROM unnest(v_results) AS r GROUP BY r.customer_id, r.card_id) AS f
     WHERE k.customer_id = f.customer_id AND k.id = f.card_id;
    UPDATE loyalty.program_enrollments AS e
       SET current_points = f.balance, updated_at = now()
      FROM (SELECT r.customer_id, r.program_id, max(r.balance_after) AS balance
              FROM unnest(v_results) AS r GROUP BY r.customer_id, r.program_id) AS f
     WHERE e.customer_id = f.customer_id AND e.program_id = f.program_id;

    -- Each customer told by name and each change published, as _change_points does; a program
    -- and its business's stored display name (0044) read once a program, not once an entry (OFFSET 0).
    WITH named AS (
        SELECT r.*, c.name AS customer_name, c.notification_preferences, g.name AS program_name, g.business_id,
               g.business_name, k.card_number
          FROM unnest(v_results) AS r
          JOIN loyalty.customers AS c ON c.id = r.customer_id
          JOIN loyalty.loyalty_cards AS k ON k.customer_id = r.customer_id AND k.id = r.card_id
          JOIN (SELECT p.id, p.name, p.business_id, b.display_name AS business_name
                  FROM loyalty.loyalty_programs AS p JOIN loyalty.businesses AS b ON b.id = p.business_id
                 WHERE p.id = ANY (v_programs) OFFSET 0) AS g ON g.id = r.program_id
    ), told AS (
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data)
        SELECT n.customer_id, n.business_id, 'POINTS_ADDED', loyalty._points_title(n.points, n.program_name),
               loyalty._points_message(n.points, 'EARN', n.program_name, n.business_name, n.balance_after),
               loyalty._points_notification_data(n.customer_name, n.program_name, n.business_name, n.card_id,
                                                 n.transaction_id, n.points, n.balance_after, 'EARN')
          FROM named AS n
         ORDER BY n.transaction_id
    )
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    SELECT n.customer_id, n.business_id, 'points.earned',
           loyalty._points_event_payload(n.customer_name, n.program_name, n.business_name, n.program_id, n.card_id,
                                         n.card_number, n.transaction_id, n.points, n.balance_after, NULL,
                                         n.notification_preferences)
      FROM named AS n
     ORDER BY n.transaction_id;
    RETURN v_results;
END;
$$;
