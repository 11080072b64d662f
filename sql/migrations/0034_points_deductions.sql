-- 0034_points_deductions: deduction requests (contract "Rewards, deduction requests, ..."; issue
-- 29): the business asks to deduct points (request_points_deduction), the customer answers
-- (answer_points_deduction); a yes is a DEDUCTION ledger row, in the same transaction. They behave
-- as invitations do: the customer is told by name and must act, they expire after the program's
-- request_ttl, only that customer answers, an answer replays, the business hears the outcome.
-- depends: 0033_card_lifecycle

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;
-- On a distributed database, Citus creates functions after distributing a table in one
-- transaction only over one connection per worker (as 0014). (On one server: a placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- One row a request, with its customer (distributed by the customer on a cluster, as the rest).
CREATE TABLE loyalty.points_deductions (
    customer_id     bigint NOT NULL,
    id              uuid NOT NULL,
    program_id      bigint NOT NULL,
    business_id     bigint NOT NULL,
    card_id         bigint NOT NULL,
    points          integer NOT NULL,
    reason          text NOT NULL,
    status          loyalty.request_status NOT NULL DEFAULT 'PENDING',
    notification_id uuid,
    transaction_id  bigint,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    response_at     timestamptz,
    CONSTRAINT points_deductions_pkey PRIMARY KEY (customer_id, id),
    CONSTRAINT points_deductions_points_check CHECK (points > 0)
);
DO $$
BEGIN
    -- Already distributed: the table joins the customer's shards now (distribute does it later
    -- for a database distributed after this migration).
    IF loyalty._distributed() THEN
        PERFORM create_distributed_table('loyalty.points_deductions', 'customer_id', colocate_with => 'loyalty.users');
    END IF;
END
$$;
ALTER TABLE loyalty.points_deductions
    ADD CONSTRAINT points_deductions_card_fkey FOREIGN KEY (customer_id, card_id)
    REFERENCES loyalty.loyalty_cards (customer_id, id);

-- sql/functions/answer_points_deduction.sql
-- The customer's answer to a deduction request. Yes deducts the points as a DEDUCTION ledger row
-- (through the ledger's writer: never below zero, InsufficientPoints, LY011, and the request
-- stays PENDING) and returns it; no returns NULL. Either way the request's notification is
-- marked actioned and the business is told by name. Only that customer answers (LY006; the id
-- carries the customer); an unknown id is LY001; an answer after the request's expires_at, or to
-- one marked EXPIRED, is RequestExpired (LY009); the same answer again replays (the stored row,
-- replayed, or NULL), and the other answer is RequestAlreadyDecided (LY002).
CREATE OR REPLACE FUNCTION loyalty.answer_points_deduction(
    p_request_id  uuid,
    p_customer_id bigint,
    p_approved    boolean
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_request  loyalty.points_deductions;
    v_result   loyalty.point_result;
    v_customer text;
    v_program  loyalty._program_info;
BEGIN
    IF p_request_id IS NULL OR p_customer_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id, customer id and the answer must not be NULL';
    END IF;
    -- An id that carries another customer is that customer's: refused without a lookup.
    IF loyalty._request_customer(p_request_id) <> p_customer_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Customer %s may not answer %s: it is another customer''s', p_customer_id, p_request_id);
    END IF;
    -- Every answer to one request is serialised here; a waiter then sees the decided row.
    SELECT d.* INTO v_request FROM loyalty.points_deductions AS d
     WHERE d.customer_id = p_customer_id AND d.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Points deduction request not found: %s', p_request_id);
    END IF;
    IF v_request.status = 'APPROVED' AND p_approved THEN
        SELECT t.id, t.customer_id, t.program_id, t.card_id, t.points, t.balance_after, t.reason::text, t.created_at, true
          INTO v_result
          FROM loyalty.point_transactions AS t
         WHERE t.customer_id = p_customer_id AND t.id = v_request.transaction_id;
        RETURN v_result;
    ELSIF v_request.status = 'REJECTED' AND NOT p_approved THEN
        RETURN NULL;
    ELSIF v_request.status = 'EXPIRED' OR (v_request.status = 'PENDING' AND v_request.expires_at <= now()) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY009',
            MESSAGE = format('Points deduction request %s expired at %s', p_request_id, v_request.expires_at);
    ELSIF v_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY002',
            MESSAGE = format('Points deduction request %s was %s already', p_request_id, lower(v_request.status::text));
    END IF;

    IF p_approved THEN
        -- The ledger's writer, keyed by the request: a failure (too few points) raises and leaves
        -- the request PENDING, as everything here rolls back with it.
        v_result := loyalty._change_points(p_customer_id, v_request.program_id, -v_request.points, 'DEDUCTION',
                                           'deduction:' || p_request_id, NULL, NULL, v_request.reason);
    END IF;
    UPDATE loyalty.points_deductions AS d
       SET status = CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END, response_at = now(),
           transaction_id = v_result.transaction_id
     WHERE d.customer_id = p_customer_id AND d.id = p_request_id;
    UPDATE loyalty.customer_notifications AS n
       SET action_taken = true, actioned_at = now()
     WHERE n.customer_id = p_customer_id AND n.id = v_request.notification_id;

    -- The business hears the answer by name, on the customer's shard (one hop).
    SELECT c.name INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    v_program := loyalty._program_info(v_request.program_id);
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data, card_id)
    VALUES (p_customer_id, v_request.business_id, 'BUSINESS',
            CASE WHEN p_approved THEN 'POINTS_DEDUCTION_APPROVED' ELSE 'POINTS_DEDUCTION_DECLINED' END,
            format('%s %s the deduction of %s points', v_customer,
                   CASE WHEN p_approved THEN 'agreed to' ELSE 'declined' END, v_request.points),
            format('%s %s the deduction of %s points from their %s card: %s', v_customer,
                   CASE WHEN p_approved THEN 'agreed to' ELSE 'declined' END, v_request.points, v_program.name,
                   v_request.reason),
            jsonb_build_object('customer_name', v_customer, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', p_request_id,
                               'points', v_request.points, 'transaction_id', v_result.transaction_id,
                               'card_id', v_request.card_id),
            v_request.card_id);
    IF NOT p_approved THEN  -- a yes is published by the ledger's writer (points.deducted)
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (p_customer_id, v_request.business_id, 'points.deduction_declined',
                jsonb_build_object('customer_name', v_customer, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'request_id', p_request_id,
                                   'program_id', v_request.program_id, 'card_id', v_request.card_id,
                                   'points', v_request.points));
    END IF;
    RETURN v_result;
END;
$$;

-- sql/functions/request_points_deduction.sql
-- A business asks to deduct p_points from the customer's card in its program (the replaced
-- system's POINTS_DEDUCTION, which never deducted anything): the customer is told by name, with
-- a notification that requires action, and answers with answer_points_deduction before the
-- program's request_ttl runs out. Nothing is deducted yet. The id carries the customer (as a
-- request's does), so the answer is one hop on a cluster. Errors: 22023 (points, reason), LY004,
-- LY005, LY006 (another business's program), LY008 (a reason over 1,000 characters), LY012.
CREATE OR REPLACE FUNCTION loyalty.request_points_deduction(
    p_business_id bigint,
    p_customer_id bigint,
    p_program_id  bigint,
    p_points      integer,
    p_reason      text
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_program     loyalty._program_info;
    v_card_id     bigint;
    v_customer    record;
    v_id          uuid := loyalty._request_id(p_customer_id);
    v_notified    uuid;
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', false);
    IF p_reason IS NULL OR loyalty._trim_space(p_reason) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a deduction needs a reason the customer reads, not none';
    ELSIF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY008',
            MESSAGE = format('A reason is at most 1000 characters, not %s', length(p_reason));
    END IF;
    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF p_business_id IS DISTINCT FROM v_program.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not ask for points of program %s: it is another business''s',
                             p_business_id, p_program_id);
    ELSIF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;
    SELECT k.id INTO v_card_id FROM loyalty.loyalty_cards AS k
     WHERE k.customer_id = p_customer_id AND k.program_id = p_program_id;
    IF v_card_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY012',
            MESSAGE = format('Customer %s has no card in program %s', p_customer_id, p_program_id);
    END IF;
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;

    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, requires_action, card_id)
    VALUES (p_customer_id, p_business_id, 'POINTS_DEDUCTION_REQUEST',
            format('%s asks to deduct %s points', v_program.business_name, p_points),
            format('%s would like to deduct %s points from your %s card: %s. Do you agree?',
                   v_program.business_name, p_points, v_program.name, p_reason),
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', v_id, 'points', p_points,
                               'reason', p_reason, 'card_id', v_card_id),
            true, v_card_id)
    RETURNING n.id INTO v_notified;
    INSERT INTO loyalty.points_deductions (customer_id, id, program_id, business_id, card_id, points, reason,
                                           notification_id, expires_at)
    VALUES (p_customer_id, v_id, p_program_id, p_business_id, v_card_id, p_points, p_reason, v_notified,
            now() + v_program.request_ttl);
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, p_business_id, 'points.deduction_requested',
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', v_id,
                               'program_id', p_program_id, 'card_id', v_card_id, 'points', p_points,
                               'reason', p_reason,
                               'channels', loyalty._event_channels(v_customer.notification_preferences, 'system')));
    RETURN v_id;
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
                            WHEN 'DEDUCTION' THEN 'points.deducted'
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

-- sql/functions/expire_requests.sql
-- Mark at most p_limit overdue PENDING requests, invitations and (since 0034, in what is left of
-- p_limit) deduction requests EXPIRED; returns how many. Call it
-- until it returns less than p_limit (`loyaltydb expire` does, one transaction a batch). A row
-- being decided is skipped on one server (SKIP LOCKED) and waited for on a cluster, where a
-- statement cannot lock rows on several workers; the status test is made again after any wait,
-- so a decision that commits first wins and two sweeps never mark a row twice. Since 0025 each
-- expiry is published as a request.expired event, one row at a time (a statement a row, routed to
-- the customer's shard on a cluster; a sweep is a cron job of at most p_limit rows).
CREATE OR REPLACE FUNCTION loyalty.expire_requests(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_expired     loyalty.customer_approval_requests[];
    v_request     loyalty.customer_approval_requests;
    v_program     loyalty._program_info;
    v_name        text;
    v_preferences jsonb;
    v_deductions  jsonb[];
    v_deduction   jsonb;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    IF loyalty._distributed() THEN
        PERFORM loyalty._share_lock_timeout();  -- the caller's lock_timeout reaches the workers
        WITH expired AS (
            UPDATE loyalty.customer_approval_requests AS r
               SET status = 'EXPIRED', response_at = now()
             WHERE (r.customer_id, r.id) IN (SELECT d.customer_id, d.id
                                               FROM loyalty.customer_approval_requests AS d
                                              WHERE d.status = 'PENDING' AND d.expires_at <= now()
                                              LIMIT p_limit)
               AND r.status = 'PENDING' AND r.expires_at <= now()
            RETURNING r
        )
        SELECT coalesce(array_agg(expired.r), '{}') INTO v_expired FROM expired;
    ELSE
        WITH due AS (
            SELECT d.customer_id, d.id
              FROM loyalty.customer_approval_requests AS d
             WHERE d.status = 'PENDING' AND d.expires_at <= now()
             ORDER BY d.expires_at
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED
        ), expired AS (
            UPDATE loyalty.customer_approval_requests AS r
               SET status = 'EXPIRED', response_at = now()
              FROM due
             WHERE r.customer_id = due.customer_id AND r.id = due.id
            RETURNING r
        )
        SELECT coalesce(array_agg(expired.r), '{}') INTO v_expired FROM expired;
    END IF;
    FOREACH v_request IN ARRAY v_expired LOOP
        v_program := loyalty._program_info(v_request.program_id);
        SELECT c.name, c.notification_preferences INTO v_name, v_preferences
          FROM loyalty.customers AS c WHERE c.id = v_request.customer_id;
        IF NOT FOUND THEN  -- invited, never a customer: named from the user, default channels
            SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_name
              FROM loyalty.users AS u WHERE u.id = v_request.customer_id;
        END IF;
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (v_request.customer_id, v_request.business_id, 'request.expired',
                jsonb_build_object('customer_name', v_name, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'request_id', v_request.id,
                                   'program_id', v_request.program_id, 'kind', v_request.kind,
                                   'channels', loyalty._event_channels(v_preferences, 'system')));
    END LOOP;
    -- Then overdue deduction requests (0034), in what is left of p_limit: EXPIRED, published as
    -- request.expired with kind DEDUCTION.
    IF cardinality(v_expired) < p_limit THEN
        WITH expired AS (
            UPDATE loyalty.points_deductions AS d
               SET status = 'EXPIRED', response_at = now()
             WHERE (d.customer_id, d.id) IN (SELECT o.customer_id, o.id FROM loyalty.points_deductions AS o
                                              WHERE o.status = 'PENDING' AND o.expires_at <= now()
                                              LIMIT p_limit - cardinality(v_expired))
               AND d.status = 'PENDING' AND d.expires_at <= now()
            RETURNING d.customer_id, d.id, d.program_id, d.business_id, d.card_id, d.points
        )
        SELECT coalesce(array_agg(row_to_json(expired)::jsonb), '{}') INTO v_deductions FROM expired;
        FOREACH v_deduction IN ARRAY v_deductions LOOP
            v_program := loyalty._program_info((v_deduction ->> 'program_id')::bigint);
            SELECT c.name, c.notification_preferences INTO v_name, v_preferences
              FROM loyalty.customers AS c WHERE c.id = (v_deduction ->> 'customer_id')::bigint;
            INSERT INTO loyalty.events (customer_id, business_id, type, payload)
            VALUES ((v_deduction ->> 'customer_id')::bigint, (v_deduction ->> 'business_id')::bigint, 'request.expired',
                    jsonb_build_object('customer_name', v_name, 'program_name', v_program.name,
                                       'business_name', v_program.business_name, 'request_id', v_deduction ->> 'id',
                                       'program_id', (v_deduction ->> 'program_id')::bigint, 'kind', 'DEDUCTION',
                                       'points', (v_deduction ->> 'points')::integer,
                                       'channels', loyalty._event_channels(v_preferences, 'system')));
        END LOOP;
    END IF;
    RETURN cardinality(v_expired) + coalesce(cardinality(v_deductions), 0);
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.answer_points_deduction(uuid,bigint,boolean) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.request_points_deduction(bigint,bigint,bigint,integer,text) TO loyalty_app;
