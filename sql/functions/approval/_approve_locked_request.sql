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
