-- 0044_business_display_names (issue 32): a business's display name (its name, else one made
-- from its email, else "Business <id>") is stored in loyalty.businesses.display_name, a generated
-- column, instead of being derived on every read: an unnamed business's comes from a regular
-- expression, which a batch of approvals ran for each of its programs (4.4% of its instructions
-- where half the businesses have no name), and every approval, earn batch and invitation list
-- once. Names and messages are unchanged.
-- Written by tools/new_migration.py.
-- depends: 0043_batch_names_by_position

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- On a distributed database, Citus creates functions after an ALTER TABLE in one transaction
-- only over one connection per worker (as 0036). (On one server this sets an unused placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- Kept by PostgreSQL whenever the name or the email changes (upsert_user, _refresh_business):
-- no writer computes it. _display_name is IMMUTABLE, as a generated column needs.
ALTER TABLE loyalty.businesses
    ADD COLUMN display_name text NOT NULL GENERATED ALWAYS AS (loyalty._display_name(id, name, email, 'Business')) STORED;
COMMENT ON COLUMN loyalty.businesses.display_name IS
    'The name notifications and events give the business: its name, else one made from its email, else "Business <id>" (0044).';

-- sql/functions/approval/_approve_locked_request.sql
-- As in 0012, except that on one server the program's row lock comes with the program itself
-- (one statement, not two), and the customer comes from _ensure_customer. Since 0020 a new card
-- gets the program's welcome points, and an accepted invitation tells the business. Since 0023
-- its statements are planned with enable_seqscan off, as the bulk path's are: loyalty.businesses
-- is a few pages in most installations, so the planner read it whole (a hash of every business
-- for the program's join, and a scan for the foreign-key check of a new relationship) on every
-- approval, 7.6% of an approval's instructions (docs/benchmarks.md); a key probe is what each needs.
-- Since 0025 it publishes the approval's events (docs/events.md) in the same transaction.
-- Since 0030 it reads the program's status as text: the column is a domain (loyalty.active_status).
-- Since 0032 it keeps the ledger's invariants (contract "Points"): a new card's welcome points
-- are also its enrollment's current_points, and points an enrollment had without a card (an
-- imported one) become the new card's OPENING row. Since 0033 re-joining re-activates a card
-- that its customer left, never one that was blocked (lost, stolen): unblock_card does that.
-- Since 0044 the business's display name is its row's stored column (a generated one).
CREATE OR REPLACE FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
 SET enable_seqscan = off
AS $$
DECLARE
    v_program         loyalty._program_info;
    v_customer        loyalty.customer_result;
    v_enrollment_id   bigint;
    v_card_id         bigint;
    v_card_number     text;
    v_notification_id uuid;
    v_welcome_points  integer := 0;
    v_card_created    boolean := false;
    v_enrolled_points integer;
    v_opening_points  integer;
    v_card_points     integer;
    v_preferences     jsonb;
    v_payload         jsonb;
BEGIN
    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    -- Not on a cluster: there a row lock on reference data locks the whole shard.
    IF loyalty._distributed() THEN
        v_program := loyalty._program_info(p_request.program_id);
    ELSE
        SELECT p.id, p.name, p.status::text, p.business_id, b.display_name,
               p.welcome_points, p.request_ttl
          INTO v_program
          FROM loyalty.loyalty_programs AS p
          JOIN loyalty.businesses AS b ON b.id = p.business_id
         WHERE p.id = p_request.program_id
           FOR SHARE OF p;
    END IF;
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_request.program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;

    -- The customer first: every row below has a foreign key to it.
    v_customer := loyalty._ensure_customer(p_request.customer_id);

    -- The relationship before the (customer, program) rows: it is shared by all of a customer's
    -- programs at one business, so taking it first keeps bulk and single approvals deadlock-free.
    -- The WHERE keeps an already active relationship unwritten (the row is locked all the same).
    INSERT INTO loyalty.customer_business_relationships AS r (customer_id, business_id)
    VALUES (v_customer.id, v_program.business_id)
    ON CONFLICT (customer_id, business_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
     WHERE r.status <> 'ACTIVE';

    -- Create or re-activate; the unique key makes concurrent approvals converge on one row.
    INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id)
    VALUES (v_customer.id, v_program.id)
    ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
    RETURNING e.id, e.current_points INTO v_enrollment_id, v_enrolled_points;

    -- The card that exists (duplicate request, returning customer), re-activated; else a new
    -- one. The enrollment row locked above serialises this check for the pair, so a card
    -- number is made only for a card that is really new.
    UPDATE loyalty.loyalty_cards AS c
       SET status = CASE WHEN c.status = 'BLOCKED' THEN c.status ELSE 'ACTIVE' END, updated_at = now()
     WHERE c.customer_id = v_customer.id AND c.program_id = v_program.id
    RETURNING c.id, c.card_number, c.points_balance::integer INTO v_card_id, v_card_number, v_card_points;
    IF NOT FOUND THEN
        -- A new card starts with the enrollment's own points (an imported enrollment had some, as
        -- an OPENING row) and the program's welcome points: on the card and in the ledger, whose
        -- unique key allows one WELCOME row a card, whatever path made it.
        v_welcome_points := v_program.welcome_points;
        v_opening_points := greatest(v_enrolled_points, 0);
        v_card_points := v_opening_points + v_welcome_points;
        v_card_created := true;
        INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id, card_number, points_balance)
        VALUES (v_customer.id, v_program.id, v_program.business_id, loyalty._card_number(v_customer.id),
                v_card_points)
        RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
        IF v_opening_points > 0 THEN
            INSERT INTO loyalty.point_transactions (customer_id, card_id, program_id, business_id, points, reason,
                                                    request_id, balance_after)
            VALUES (v_customer.id, v_card_id, v_program.id, v_program.business_id, v_opening_points, 'OPENING',
                    p_request.id, v_opening_points);
        END IF;
        IF v_welcome_points > 0 THEN
            INSERT INTO loyalty.point_transactions (customer_id, card_id, program_id, business_id, points, reason,
                                                    request_id, balance_after)
            VALUES (v_customer.id, v_card_id, v_program.id, v_program.business_id, v_welcome_points, 'WELCOME',
                    p_request.id, v_card_points);
        END IF;
    END IF;
    -- The enrollment carries its card's balance (one figure in two places; not written when equal).
    IF v_enrolled_points <> v_card_points THEN
        UPDATE loyalty.program_enrollments AS e
           SET current_points = v_card_points
         WHERE e.customer_id = v_customer.id AND e.id = v_enrollment_id;
    END IF;

    -- One CARD_CREATED notification per card (partial unique index); a reused card keeps its own.
    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, card_id)
    VALUES (v_customer.id, v_program.business_id, 'CARD_CREATED',
            loyalty._card_created_title(v_program.name),
            loyalty._card_created_message(v_program.name, v_program.business_name, v_customer.name, v_welcome_points),
            loyalty._card_created_data(v_customer.name, v_program.name, v_program.business_name, v_card_number,
                                       p_request.id, v_welcome_points),
            v_card_id)
    ON CONFLICT (customer_id, card_id) WHERE type = 'CARD_CREATED' DO NOTHING
    RETURNING n.id INTO v_notification_id;
    IF NOT FOUND THEN
        SELECT n.id INTO STRICT v_notification_id
          FROM loyalty.customer_notifications AS n
         WHERE n.customer_id = v_customer.id AND n.card_id = v_card_id AND n.type = 'CARD_CREATED';
    END IF;

    -- An accepted invitation: the business is told, by name, on the customer's shard (one hop).
    IF p_request.kind = 'INVITATION' THEN
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, audience, type, title, message, data)
        VALUES (v_customer.id, v_program.business_id, 'BUSINESS', 'CUSTOMER_JOINED',
                loyalty._other_side_title(true, v_customer.name, v_program.name),
                loyalty._other_side_message(true, v_customer.name, v_program.name, NULL),
                jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'request_id', p_request.id,
                                   'card_id', v_card_id));
    END IF;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.customer_id = p_request.customer_id AND n.id = p_request.notification_id;
    END IF;

    -- The events, in one statement: a new customer, the decision (an accepted invitation tells
    -- the business, an approval the customer), a new card and its welcome points, each with the
    -- customer's channels.
    SELECT c.notification_preferences INTO v_preferences FROM loyalty.customers AS c WHERE c.id = v_customer.id;
    v_payload := jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                                    'business_name', v_program.business_name, 'request_id', p_request.id,
                                    'program_id', v_program.id, 'card_id', v_card_id, 'card_number', v_card_number);
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    SELECT v_customer.id, CASE WHEN e.ordinal > 0 THEN v_program.business_id END, e.type,
           CASE WHEN e.ordinal = 0
                THEN jsonb_build_object('customer_name', v_customer.name, 'email', v_customer.email)
                ELSE v_payload || jsonb_strip_nulls(jsonb_build_object(
                         'channels', loyalty._event_channels(v_preferences, e.category), 'points', e.points))
           END
      FROM (VALUES (0, 'customer.created', NULL, NULL::integer, v_customer.created),
                   (1, CASE WHEN p_request.kind = 'INVITATION' THEN 'invitation.accepted' ELSE 'enrollment.approved' END,
                    CASE WHEN p_request.kind = 'INVITATION' THEN NULL ELSE 'system' END, NULL, true),
                   (2, 'card.created', 'rewards', v_welcome_points, v_card_created),
                   (3, 'points.credited', 'rewards', v_welcome_points, v_welcome_points > 0))
           AS e (ordinal, type, category, points, wanted)
     WHERE e.wanted
     ORDER BY e.ordinal;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'APPROVED', response_at = now(),
           enrollment_id = v_enrollment_id, card_id = v_card_id,
           customer_created = v_customer.created, result_notification_id = v_notification_id
     WHERE r.customer_id = p_request.customer_id AND r.id = p_request.id;

    RETURN ROW(p_request.id, 'APPROVED', v_customer.id, v_program.id, v_enrollment_id,
               v_card_id, v_card_number, v_customer.created, v_notification_id)::loyalty.enrollment_result;
END;
$$;

-- sql/functions/points/_earn_points_set.sql
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

-- sql/functions/programs/_program_info.sql
-- A program with its business's display name, welcome points and request lifetime (reference data only: local on every worker);
-- all fields NULL when the program does not exist. enable_seqscan off since 0023, as in
-- _approve_locked_request: a key probe of loyalty.businesses, not a read of all of it.
-- Since 0030 the status is read as text: the column is a domain (loyalty.active_status).
-- Since 0044 the business's display name is its row's stored column (a generated one).
CREATE OR REPLACE FUNCTION loyalty._program_info(p_program_id bigint)
RETURNS loyalty._program_info
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_program loyalty._program_info;
BEGIN
    SELECT p.id, p.name, p.status::text, p.business_id, b.display_name,
           p.welcome_points, p.request_ttl
      INTO v_program
      FROM loyalty.loyalty_programs AS p
      JOIN loyalty.businesses AS b ON b.id = p.business_id
     WHERE p.id = p_program_id;
    RETURN v_program;
END;
$$;

-- sql/functions/invitations/pending_invitations.sql
-- A customer's PENDING invitations still in time, oldest first, p_limit (1-1000) at a time, keyset
-- pages like pending_requests (p_after: the last invitation id of the previous page).
CREATE OR REPLACE FUNCTION loyalty.pending_invitations(
    p_customer_id bigint,
    p_limit       integer DEFAULT 50,
    p_after       uuid DEFAULT NULL
)
RETURNS SETOF loyalty.pending_invitation
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_after_at timestamptz := '-infinity'::timestamptz;
    v_after_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
BEGIN
    IF p_customer_id IS NULL OR p_limit IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id and limit must not be NULL';
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_after IS NOT NULL THEN
        SELECT r.requested_at, r.id INTO v_after_at, v_after_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.customer_id = p_customer_id AND r.id = p_after AND r.kind = 'INVITATION';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY001',
                MESSAGE = format('Enrollment request not found: %s (after= names no invitation of customer %s)',
                                 p_after, p_customer_id);
        END IF;
    END IF;

    -- Overdue rows are left out before the sweep marks them.
    RETURN QUERY
    SELECT r.id, r.business_id, b.display_name,
           r.program_id, p.name, r.requested_at, r.expires_at
      FROM loyalty.customer_approval_requests AS r
      JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
      JOIN loyalty.businesses AS b ON b.id = r.business_id
     WHERE r.customer_id = p_customer_id
       AND r.kind = 'INVITATION' AND r.status = 'PENDING'
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (r.requested_at, r.id) > (v_after_at, v_after_id)
     ORDER BY r.requested_at, r.id
     LIMIT p_limit;
END;
$$;

-- sql/functions/approval/process_enrollment_approvals.sql
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL::bigint)
 RETURNS SETOF loyalty.enrollment_result
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $$
DECLARE
    -- The batch's PENDING requests, each once, in the caller's order of first appearance.
    v_ids          uuid[];
    v_customers    bigint[];
    v_programs     bigint[];
    v_businesses   bigint[];
    v_request_note uuid[];
    v_kinds        text[];
    -- Their customers that exist (locked), that are missing, and that this batch created.
    v_existing     bigint[];
    v_missing      bigint[];
    v_created      bigint[];
    -- Users of the missing customers that exist (locked), and the ids no user has.
    v_found        bigint[];
    v_no_user      bigint[];
    -- Per (customer, program) of those requests: enrollment, card and its notification.
    v_pair_customers     bigint[];
    v_pair_programs      bigint[];
    v_pair_enrollments   bigint[];
    v_pair_points        integer[];  -- the enrollment's current_points before this batch
    v_enrollments_stale  boolean;    -- whether a pair's card now holds another balance than that
    v_pair_cards         bigint[];
    v_pair_card_numbers  text[];
    v_pair_new_cards     boolean[];  -- whether the pair's card is one this batch made
    v_pair_notifications uuid[];
    -- The pairs whose card existed already (re-activated, no new number).
    v_reused_customers   bigint[];
    v_reused_programs    bigint[];
    -- The cards this batch made.
    v_new_cards          bigint[];
    -- The pairs that get a new card, in key order, and their numbers.
    v_card_customers     bigint[];
    v_card_programs      bigint[];
    v_card_numbers       text[];
    -- The batch's programs (locked FOR SHARE) and their businesses' display names, each read
    -- once a program (0040; issue 32; stored since 0044): the statements below look a program's up by position
    -- (0043: a lookup, not a join, so their plans stay those of the tables).
    v_program_ids        bigint[];
    v_business_names     text[];
    v_failure      record;
    v_customer     record;
BEGIN
    IF array_ndims(p_request_ids) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'request ids must be a one-dimensional array';
    END IF;
    IF p_request_ids IS NULL OR array_position(p_request_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request ids must not be NULL';
    END IF;

    -- On a cluster one statement cannot lock rows on several workers (FOR UPDATE is refused
    -- there): decide one by one, in the caller's order, each on its customer's shard.
    IF loyalty._distributed() THEN
        PERFORM loyalty._share_lock_timeout();  -- the caller's lock_timeout reaches the workers
        RETURN QUERY SELECT * FROM loyalty._approve_one_by_one(p_request_ids, p_business_id);
        RETURN;
    END IF;

    -- Every request, once, in id order: batches never wait on each other's requests in a circle.
    PERFORM FROM loyalty.customer_approval_requests AS r WHERE r.id = ANY (p_request_ids) ORDER BY r.id FOR UPDATE;

    SELECT array_agg(f.id ORDER BY f.position), array_agg(f.customer_id ORDER BY f.position),
           array_agg(f.program_id ORDER BY f.position), array_agg(f.business_id ORDER BY f.position),
           array_agg(f.notification_id ORDER BY f.position), array_agg(f.kind::text ORDER BY f.position)
      INTO v_ids, v_customers, v_programs, v_businesses, v_request_note, v_kinds
      FROM (SELECT DISTINCT ON (r.id) r.id, r.customer_id, r.program_id, r.business_id, r.notification_id, r.kind,
                   t.position
              FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
              JOIN loyalty.customer_approval_requests AS r ON r.id = t.id
             WHERE r.status = 'PENDING'
             ORDER BY r.id, t.position) AS f;

    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    -- Each program's business display name once (0040), stored by the businesses row since 0044:
    -- one without a name is named from its email by a regular expression, which per output row
    -- had cost a launch-day batch of 100 approvals 500 calls.
    SELECT array_agg(p.id), array_agg(b.display_name)
      INTO v_program_ids, v_business_names
      FROM (SELECT p.id, p.business_id FROM loyalty.loyalty_programs AS p
             WHERE p.id = ANY (v_programs) ORDER BY p.id FOR SHARE) AS p
      JOIN loyalty.businesses AS b ON b.id = p.business_id;

    -- KEY SHARE keeps existing customers until we commit (one deleted meanwhile is skipped here
    -- and created again below), and keeps the users of the missing ones.
    SELECT coalesce(array_agg(c.id), '{}') INTO v_existing
      FROM (SELECT c.id FROM loyalty.customers AS c WHERE c.id = ANY (v_customers) ORDER BY c.id FOR KEY SHARE) AS c;
    -- A set difference in memory (hashed): no probe of the customers table per request.
    v_missing := ARRAY(SELECT unnest(v_customers) EXCEPT SELECT unnest(v_existing));
    SELECT coalesce(array_agg(u.id), '{}') INTO v_found
      FROM (SELECT u.id FROM loyalty.users AS u WHERE u.id = ANY (v_missing) ORDER BY u.id FOR KEY SHARE) AS u;
    v_no_user := ARRAY(SELECT unnest(v_missing) EXCEPT SELECT unnest(v_found));

    -- The first request, in the caller's order, that one-by-one approval would fail on.
    SELECT t.id, r.id IS NULL AS missing, r.status, r.business_id, p.id AS program_id, p.name AS program_name,
           p.status AS program_status, r.program_id AS requested_program, r.customer_id, r.kind, r.expires_at,
           r.status = 'EXPIRED' OR (r.status = 'PENDING' AND r.expires_at <= now()) AS expired,
           x.customer_id IS NOT NULL AS erased
      INTO v_failure
      FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
      LEFT JOIN loyalty.customer_approval_requests AS r ON r.id = t.id
      LEFT JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
      -- An erased customer is approved no more (0041: CustomerErased, LY019).
      LEFT JOIN loyalty.erased_customers AS x ON r.status = 'PENDING' AND x.customer_id = r.customer_id
     WHERE r.id IS NULL
        OR r.business_id <> p_business_id
        OR (p_business_id IS NOT NULL AND r.kind <> 'REQUEST')
        OR r.status IN ('REJECTED', 'EXPIRED')
        OR (r.status = 'PENDING'
            AND (r.expires_at <= now()
                 OR p.status IS DISTINCT FROM 'ACTIVE'
                 OR r.customer_id = ANY (v_no_user)
                 OR x.customer_id IS NOT NULL))
     ORDER BY t.position
     LIMIT 1;
    IF FOUND THEN
        IF v_failure.missing THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_failure.id);
        ELSIF v_failure.business_id <> p_business_id THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY006',
                MESSAGE = format('Business %s may not decide request %s: its program belongs to another business',
                                 p_business_id, v_failure.id);
        ELSIF p_business_id IS NOT NULL AND v_failure.kind <> 'REQUEST' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY006',
                MESSAGE = format('Business %s may not decide %s: it is an invitation, which its customer answers',
                                 p_business_id, v_failure.id);
        ELSIF v_failure.expired THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY009', MESSAGE = format('Enrollment request %s expired at %s', v_failure.id, v_failure.expires_at);
        ELSIF v_failure.status = 'REJECTED' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY002', MESSAGE = format('Enrollment request %s is already REJECTED', v_failure.id);
        ELSIF v_failure.program_id IS NULL THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', v_failure.requested_program);
        ELSIF v_failure.program_status <> 'ACTIVE' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY005',
                MESSAGE = format('Loyalty program "%s" is not active (status %s)',
                                 v_failure.program_name, v_failure.program_status);
        ELSIF v_failure.erased THEN
            PERFORM loyalty._refuse_erased(v_failure.customer_id);  -- raises CustomerErased (LY019)
        ELSE
            RAISE EXCEPTION USING
                ERRCODE = 'LY003',
                MESSAGE = format('User not found for customer_id: %s. Cannot create customer record.',
                                 v_failure.customer_id);
        END IF;
    END IF;

    IF v_ids IS NOT NULL THEN
        -- Customers from their users, in id order. A concurrent creator makes an insert wait
        -- for its commit and then do nothing: that customer was not created by this batch.
        WITH created AS (
            INSERT INTO loyalty.customers AS c (id, user_id, name, email)
            SELECT u.id, u.id, loyalty._display_name(u.id, u.name, u.email), u.email
              FROM loyalty.users AS u
             WHERE u.id = ANY (v_missing)
             ORDER BY u.id
            ON CONFLICT DO NOTHING
            RETURNING c.id, c.name
        )
        SELECT coalesce(array_agg(created.id), '{}') INTO v_created FROM created;
        FOR v_customer IN
            SELECT c.id, c.name FROM loyalty.customers AS c WHERE c.id = ANY (v_created) ORDER BY c.id
        LOOP
            RAISE NOTICE 'created customer % (%) from user %', v_customer.id, v_customer.name, v_customer.id;
        END LOOP;
        -- Missing customers that a concurrent transaction created (committed now, since our
        -- insert waited for it): kept until we commit, like the others.
        IF cardinality(v_created) < cardinality(v_missing) THEN
            PERFORM FROM loyalty.customers AS c WHERE c.id = ANY (v_customers) ORDER BY c.id FOR KEY SHARE;
        END IF;

        -- Relationships, then enrollments, then cards, each in key order (see the lock order).
        -- What each statement makes flows on in arrays, so later statements touch tables only
        -- by key, whatever the planner's statistics say about the rows this batch just added.
        INSERT INTO loyalty.customer_business_relationships AS r (customer_id, business_id)
        SELECT DISTINCT f.customer_id, f.business_id
          FROM unnest(v_customers, v_businesses) AS f (customer_id, business_id)
         ORDER BY f.customer_id, f.business_id
        ON CONFLICT (customer_id, business_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
         WHERE r.status <> 'ACTIVE';

        WITH enrolled AS (
            INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id)
            SELECT DISTINCT f.customer_id, f.program_id
              FROM unnest(v_customers, v_programs) AS f (customer_id, program_id)
             ORDER BY f.customer_id, f.program_id
            ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
            RETURNING e.customer_id, e.program_id, e.id, e.current_points
        )
        SELECT array_agg(enrolled.customer_id), array_agg(enrolled.program_id), array_agg(enrolled.id),
               array_agg(enrolled.current_points)
          INTO v_pair_customers, v_pair_programs, v_pair_enrollments, v_pair_points
          FROM enrolled;

        -- Cards that exist (duplicates, returning customers) re-activated; then new cards, with
        -- numbers made only for them (the enrollment rows locked above serialise each pair).
        WITH reused AS (
            UPDATE loyalty.loyalty_cards AS c
               SET status = CASE WHEN c.status = 'BLOCKED' THEN c.status ELSE 'ACTIVE' END, updated_at = now()
              FROM unnest(v_pair_customers, v_pair_programs) AS f (customer_id, program_id)
             WHERE c.customer_id = f.customer_id AND c.program_id = f.program_id
            RETURNING c.customer_id, c.program_id, c.points_balance
        )
        -- (and whether a reused card's enrollment says another balance: an imported card that
        -- had no enrollment, or none until now)
        SELECT array_agg(reused.customer_id), array_agg(reused.program_id),
               coalesce(bool_or(reused.points_balance <> p.points), false)
          INTO v_reused_customers, v_reused_programs, v_enrollments_stale
          FROM reused
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_points) AS p (customer_id, program_id, points)
            ON p.customer_id = reused.customer_id AND p.program_id = reused.program_id;
        SELECT coalesce(array_agg(f.customer_id ORDER BY f.customer_id, f.program_id), '{}'),
               coalesce(array_agg(f.program_id ORDER BY f.customer_id, f.program_id), '{}')
          INTO v_card_customers, v_card_programs
          FROM (SELECT * FROM unnest(v_pair_customers, v_pair_programs)
                EXCEPT ALL
                SELECT * FROM unnest(v_reused_customers, v_reused_programs)) AS f (customer_id, program_id);
        -- Card numbers for the whole batch at once (_card_number_for, as _card_number): the customers
        -- locked in id order, as _card_number would lock them one by one, then each new card's
        -- ordinal is its customer's card count plus its rank among the customer's new cards.
        PERFORM FROM loyalty.customers AS c WHERE c.id = ANY (v_card_customers) ORDER BY c.id FOR NO KEY UPDATE;
        SELECT array_agg(n.card_number ORDER BY n.position)
          INTO v_card_numbers
          FROM (SELECT f.position,
                       loyalty._card_number_for(f.customer_id, k.cards + f.rank) AS card_number
                  FROM (SELECT f.customer_id, f.position,
                               row_number() OVER (PARTITION BY f.customer_id ORDER BY f.position) AS rank
                          FROM unnest(v_card_customers) WITH ORDINALITY AS f (customer_id, position)) AS f
                 -- (a replaced card used an ordinal for each of its numbers: none is issued again)
                 CROSS JOIN LATERAL (SELECT count(*) + coalesce(sum(k.replacements), 0) AS cards
                                       FROM loyalty.loyalty_cards AS k
                                      WHERE k.customer_id = f.customer_id) AS k) AS n;
        -- Out of the scheme's range, or a number a card has already (imported, or a deleted
        -- card's successor): then number them one by one, as before, which skips taken numbers.
        IF array_position(v_card_numbers, NULL) IS NOT NULL
           OR EXISTS (SELECT FROM loyalty.loyalty_cards AS k WHERE k.card_number = ANY (v_card_numbers)) THEN
            v_card_numbers := NULL;
        END IF;
        -- New cards start with their enrollment's own points (an imported enrollment had some:
        -- an OPENING row) and their program's welcome points, each credited once in the ledger
        -- (its unique key allows one WELCOME row a card) for the card's first request.
        WITH carded AS (
            INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id, card_number, points_balance)
            SELECT f.customer_id, f.program_id, p.business_id, coalesce(f.card_number, loyalty._card_number(f.customer_id)),
                   greatest(e.points, 0) + p.welcome_points
              FROM unnest(v_card_customers, v_card_programs, v_card_numbers) WITH ORDINALITY
                   AS f (customer_id, program_id, card_number, position)
              JOIN loyalty.loyalty_programs AS p ON p.id = f.program_id
              JOIN unnest(v_pair_customers, v_pair_programs, v_pair_points) AS e (customer_id, program_id, points)
                ON e.customer_id = f.customer_id AND e.program_id = f.program_id
             ORDER BY f.position
            RETURNING c.customer_id, c.id, c.program_id, c.business_id, c.points_balance
        ), credited AS (
            INSERT INTO loyalty.point_transactions (customer_id, card_id, program_id, business_id, points, reason,
                                                    request_id, balance_after)
            SELECT k.customer_id, k.id, k.program_id, k.business_id, r.points, r.reason,
                   (SELECT f.id FROM unnest(v_ids, v_customers, v_programs) WITH ORDINALITY AS f (id, customer_id, program_id, n)
                     WHERE f.customer_id = k.customer_id AND f.program_id = k.program_id ORDER BY f.n LIMIT 1),
                   r.balance_after
              FROM carded AS k
              JOIN loyalty.loyalty_programs AS p ON p.id = k.program_id
             CROSS JOIN LATERAL (VALUES (1, 'OPENING', k.points_balance - p.welcome_points, k.points_balance - p.welcome_points),
                                        (2, 'WELCOME', p.welcome_points, k.points_balance))
                   AS r (n, reason, points, balance_after)
             WHERE r.points > 0
             ORDER BY k.customer_id, k.id, r.n
        )
        SELECT coalesce(array_agg(carded.id), '{}'),
               v_enrollments_stale OR coalesce(bool_or(carded.points_balance <> p.points), false)
          INTO v_new_cards, v_enrollments_stale
          FROM carded
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_points) AS p (customer_id, program_id, points)
            ON p.customer_id = carded.customer_id AND p.program_id = carded.program_id;
        -- Each enrollment carries its card's balance (welcome points, an imported card that had
        -- no enrollment): written only where the two differ, and looked for only when one does.
        IF v_enrollments_stale THEN
            UPDATE loyalty.program_enrollments AS e
               SET current_points = k.points_balance
              FROM loyalty.loyalty_cards AS k, unnest(v_pair_customers, v_pair_programs) AS f (customer_id, program_id)
             WHERE k.customer_id = e.customer_id AND k.program_id = e.program_id
               AND e.customer_id = f.customer_id AND e.program_id = f.program_id
               AND e.current_points <> k.points_balance;
        END IF;
        -- LIMIT keeps each lookup a key probe per pair (the planner cannot turn it around).
        SELECT array_agg(k.id ORDER BY f.n), array_agg(k.card_number ORDER BY f.n),
               array_agg(k.id = ANY (v_new_cards) ORDER BY f.n)
          INTO v_pair_cards, v_pair_card_numbers, v_pair_new_cards
          FROM unnest(v_pair_customers, v_pair_programs) WITH ORDINALITY AS f (customer_id, program_id, n)
         CROSS JOIN LATERAL (SELECT k.id, k.card_number FROM loyalty.loyalty_cards AS k
                              WHERE k.customer_id = f.customer_id AND k.program_id = f.program_id LIMIT 1) AS k;

        -- One CARD_CREATED notification per card, naming everyone, for the card's first request.
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data, card_id)
        SELECT f.customer_id, p.business_id, 'CARD_CREATED',
               loyalty._card_created_title(p.name),
               loyalty._card_created_message(p.name, p.business_name, cu.name, w.points),
               loyalty._card_created_data(cu.name, p.name, p.business_name, k.card_number, f.id, w.points),
               k.id
          FROM (SELECT DISTINCT ON (f.customer_id, f.program_id) f.id, f.customer_id, f.program_id
                  FROM unnest(v_ids, v_customers, v_programs) WITH ORDINALITY AS f (id, customer_id, program_id, position)
                 ORDER BY f.customer_id, f.program_id, f.position) AS f
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_cards, v_pair_card_numbers, v_pair_new_cards)
               AS k (customer_id, program_id, id, card_number, new_card)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
          JOIN loyalty.customers AS cu ON cu.id = f.customer_id
          JOIN (SELECT p.id, p.name, p.business_id, p.welcome_points,
                       v_business_names[array_position(v_program_ids, p.id)] AS business_name
                  FROM loyalty.loyalty_programs AS p) AS p ON p.id = f.program_id
          -- The welcome points this batch credited: a new card's, none for a card that existed.
         CROSS JOIN LATERAL (SELECT CASE WHEN k.new_card THEN p.welcome_points ELSE 0 END AS points) AS w
         ORDER BY k.id
        ON CONFLICT (customer_id, card_id) WHERE type = 'CARD_CREATED' DO NOTHING;
        SELECT array_agg(n.id ORDER BY f.n)
          INTO v_pair_notifications
          FROM unnest(v_pair_customers, v_pair_cards) WITH ORDINALITY AS f (customer_id, card_id, n)
         CROSS JOIN LATERAL (SELECT n.id FROM loyalty.customer_notifications AS n
                              WHERE n.customer_id = f.customer_id AND n.card_id = f.card_id
                                AND n.type = 'CARD_CREATED' LIMIT 1) AS n;

        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
          FROM unnest(v_customers, v_request_note) AS f (customer_id, id)
         WHERE n.customer_id = f.customer_id AND n.id = f.id;

        -- Accepted invitations: each business hears CUSTOMER_JOINED, by name, as one by one.
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, audience, type, title, message, data)
        SELECT f.customer_id, f.business_id, 'BUSINESS', 'CUSTOMER_JOINED',
               loyalty._other_side_title(true, cu.name, p.name),
               loyalty._other_side_message(true, cu.name, p.name, NULL),
               jsonb_build_object('customer_name', cu.name, 'program_name', p.name,
                                  'business_name', v_business_names[array_position(v_program_ids, p.id)],
                                  'request_id', f.id, 'card_id', k.id)
          FROM unnest(v_ids, v_customers, v_programs, v_businesses, v_kinds) WITH ORDINALITY
               AS f (id, customer_id, program_id, business_id, kind, position)
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_cards) AS k (customer_id, program_id, id)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
          JOIN loyalty.customers AS cu ON cu.id = f.customer_id
          JOIN loyalty.loyalty_programs AS p ON p.id = f.program_id
         WHERE f.kind = 'INVITATION'
         ORDER BY f.position;

        -- The outcome of each request, kept for replays. A customer created by this batch was
        -- created, one by one, by its first request in the caller's order.
        UPDATE loyalty.customer_approval_requests AS r
           SET status = 'APPROVED', response_at = now(),
               enrollment_id = k.enrollment_id, card_id = k.card_id, result_notification_id = k.notification_id,
               customer_created = f.created AND f.position = f.first_position
          FROM (SELECT f.*, min(f.position) OVER (PARTITION BY f.customer_id) AS first_position,
                       created.id IS NOT NULL AS created
                  FROM unnest(v_ids, v_customers, v_programs) WITH ORDINALITY
                       AS f (id, customer_id, program_id, position)
                  LEFT JOIN unnest(v_created) AS created (id) ON created.id = f.customer_id) AS f
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_enrollments, v_pair_cards, v_pair_notifications)
               AS k (customer_id, program_id, enrollment_id, card_id, notification_id)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
         WHERE r.customer_id = f.customer_id AND r.id = f.id;

        -- The batch's events, as one by one would publish them (docs/events.md): each customer
        -- it created, then for each request its decision and, for a card's first request, the
        -- new card and its welcome points, with the customer's channels.
        INSERT INTO loyalty.events (customer_id, type, payload)
        SELECT c.id, 'customer.created', jsonb_build_object('customer_name', c.name, 'email', c.email)
          FROM loyalty.customers AS c
         WHERE c.id = ANY (v_created)
         ORDER BY c.id;
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        SELECT f.customer_id, f.business_id, e.type,
               jsonb_build_object('customer_name', cu.name, 'program_name', p.name, 'business_name', p.business_name,
                                  'request_id', f.id, 'program_id', f.program_id, 'card_id', k.id,
                                  'card_number', k.card_number)
               || jsonb_strip_nulls(jsonb_build_object('channels', loyalty._event_channels(cu.notification_preferences, e.category),
                                                       'points', e.points))
          FROM (SELECT f.*, min(f.position) OVER (PARTITION BY f.customer_id, f.program_id) AS first_position
                  FROM unnest(v_ids, v_customers, v_programs, v_businesses, v_kinds) WITH ORDINALITY
                       AS f (id, customer_id, program_id, business_id, kind, position)) AS f
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_cards, v_pair_card_numbers, v_pair_new_cards)
               AS k (customer_id, program_id, id, card_number, new_card)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
          JOIN loyalty.customers AS cu ON cu.id = f.customer_id
          JOIN (SELECT p.id, p.name, p.welcome_points,
                       v_business_names[array_position(v_program_ids, p.id)] AS business_name
                  FROM loyalty.loyalty_programs AS p) AS p ON p.id = f.program_id
         CROSS JOIN LATERAL (SELECT f.position = f.first_position AND k.new_card AS new_card) AS n
         CROSS JOIN LATERAL (VALUES (1, CASE WHEN f.kind = 'INVITATION' THEN 'invitation.accepted' ELSE 'enrollment.approved' END,
                                     CASE WHEN f.kind = 'INVITATION' THEN NULL ELSE 'system' END, NULL::integer, true),
                                    (2, 'card.created', 'rewards', CASE WHEN n.new_card THEN p.welcome_points ELSE 0 END, n.new_card),
                                    (3, 'points.credited', 'rewards', p.welcome_points, n.new_card AND p.welcome_points > 0))
               AS e (ordinal, type, category, points, wanted)
         WHERE e.wanted
         ORDER BY f.position, e.ordinal;
    END IF;

    -- Every request of the batch is APPROVED now: its stored outcome is its result.
    -- (The status as text: the column is a domain since 0030, and RETURN QUERY wants the result's types.)
    RETURN QUERY
        SELECT d.*
          FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
         CROSS JOIN LATERAL (SELECT r.id, r.status::text, r.customer_id, r.program_id, r.enrollment_id, r.card_id,
                                    k.card_number, coalesce(r.customer_created, false), r.result_notification_id
                               FROM loyalty.customer_approval_requests AS r
                               LEFT JOIN loyalty.loyalty_cards AS k ON k.customer_id = r.customer_id AND k.id = r.card_id
                              WHERE r.id = t.id
                              LIMIT 1) AS d
         ORDER BY t.position;
END;
$$;
