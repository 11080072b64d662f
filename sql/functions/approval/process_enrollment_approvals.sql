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
