-- 0033_card_lifecycle: a card can be blocked and unblocked, replaced under a new number (the
-- same card, balance and ledger; the old number finds nothing and is never issued again), and
-- its customer can leave the program and come back to the same card (contract "Card lifecycle";
-- issue 29): block_card, unblock_card, replace_card, leave_program, each with its event and
-- notification by name. Re-joining a program re-activates a card its customer left, never a
-- blocked one. The ledger's writer and the lifecycle lock a card in one place (_lock_card).
-- depends: 0032_points_ledger

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;
-- On a distributed database, Citus creates a type after an ALTER TABLE in one transaction only
-- over one connection per worker (as 0014). (On one server this sets an unused placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- Why a card is blocked, and how many numbers it had before its current one (each took an
-- ordinal of its customer's, so that no number is issued twice). Both NULL-safe for INSERTs
-- that name only the contract's columns.
ALTER TABLE loyalty.loyalty_cards
    ADD COLUMN blocked_reason text,
    ADD COLUMN replacements integer NOT NULL DEFAULT 0;

-- A card and its enrollment as _lock_card returns them, locked.
CREATE TYPE loyalty._locked_card AS (
    enrollment_id     bigint,
    enrollment_status text,
    id                bigint,
    business_id       bigint,
    card_number       text,
    status            text,
    points_balance    integer
);

-- sql/functions/_card_changed.sql
-- What every card lifecycle change does besides its own update (contract "Card lifecycle"): the
-- customer's notification (or, for p_audience 'BUSINESS', the business's), by name, and the
-- event, in the caller's transaction; returns the card as card_details. p_title and p_message are
-- format() strings of the customer's name (%1$s), the program's (%2$s), the business's (%3$s) and
-- p_detail (%4$s: a reason, a number), so no name or reason is read as a format. p_extra adds
-- to the notification's data and the event's payload.
CREATE OR REPLACE FUNCTION loyalty._card_changed(
    p_customer_id bigint,
    p_card_id     bigint,
    p_event       text,
    p_audience    text,
    p_type        text,
    p_title       text,
    p_message     text,
    p_detail      text,
    p_extra       jsonb
)
RETURNS loyalty.card_details
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_card     loyalty.card_details;
    v_customer record;
BEGIN
    SELECT d.* INTO v_card FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = p_card_id;
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data, card_id)
    VALUES (p_customer_id, v_card.business_id, p_audience, p_type,
            format(p_title, v_customer.name, v_card.program_name, v_card.business_name, p_detail),
            format(p_message, v_customer.name, v_card.program_name, v_card.business_name, p_detail),
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_card.program_name,
                               'business_name', v_card.business_name, 'card_id', v_card.id) || p_extra,
            v_card.id);
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_card.business_id, p_event,
            jsonb_strip_nulls(jsonb_build_object(
                'customer_name', v_customer.name, 'program_name', v_card.program_name,
                'business_name', v_card.business_name, 'program_id', v_card.program_id, 'card_id', v_card.id,
                'card_number', v_card.card_number,
                'channels', CASE WHEN p_audience = 'CUSTOMER'
                                 THEN loyalty._event_channels(v_customer.notification_preferences, 'system') END)
                || p_extra));
    RETURN v_card;
END;
$$;

-- sql/functions/_lock_card.sql
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

-- sql/functions/block_card.sql
-- Block the customer's card in the program (lost, stolen, misused): it earns and spends nothing
-- (CardNotActive) until unblock_card; re-joining the program does not unblock it. p_reason (at
-- most 1,000 characters) is kept on the card and told to the customer. A blocked card blocked
-- again changes nothing and returns the card. With p_business_id, only that business's cards.
CREATE OR REPLACE FUNCTION loyalty.block_card(
    p_customer_id bigint,
    p_program_id  bigint,
    p_reason      text,
    p_business_id bigint DEFAULT NULL
)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY008',
            MESSAGE = format('A reason is at most 1000 characters, not %s', length(p_reason));
    END IF;
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);
    IF v_card.status <> 'BLOCKED' THEN
        UPDATE loyalty.loyalty_cards AS k
           SET status = 'BLOCKED', blocked_reason = p_reason, updated_at = now()
         WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
        RETURN NEXT loyalty._card_changed(
            p_customer_id, v_card.id, 'card.blocked', 'CUSTOMER', 'CARD_BLOCKED', 'Your %2$s card is blocked',
            '%3$s blocked your %2$s card%4$s. It earns and spends no points until it is unblocked.',
            coalesce(': ' || p_reason, ''), jsonb_strip_nulls(jsonb_build_object('reason', p_reason)));
        RETURN;
    END IF;
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
END;
$$;

-- sql/functions/leave_program.sql
-- The customer leaves the program: the enrollment and the card become INACTIVE (a blocked card
-- stays blocked), and the relationship with the business too when the customer has no other
-- ACTIVE program of that business. The business is told by name. Joining again (an approval or
-- an acceptance) re-activates the same card with its balance. Leaving twice changes nothing and
-- returns the card.
CREATE OR REPLACE FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    v_card := loyalty._lock_card(p_customer_id, p_program_id, NULL);
    IF v_card.enrollment_status IS DISTINCT FROM 'ACTIVE' AND v_card.status <> 'ACTIVE' THEN
        RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
        RETURN;
    END IF;
    UPDATE loyalty.program_enrollments AS e
       SET status = 'INACTIVE', updated_at = now()
     WHERE e.customer_id = p_customer_id AND e.id = v_card.enrollment_id;
    UPDATE loyalty.loyalty_cards AS k
       SET status = 'INACTIVE', updated_at = now()
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id AND k.status = 'ACTIVE';
    -- The relationship ends with the customer's last ACTIVE program of that business.
    UPDATE loyalty.customer_business_relationships AS r
       SET status = 'INACTIVE', updated_at = now()
     WHERE r.customer_id = p_customer_id AND r.business_id = v_card.business_id AND r.status = 'ACTIVE'
       AND NOT EXISTS (SELECT FROM loyalty.program_enrollments AS e
                         JOIN loyalty.loyalty_programs AS p ON p.id = e.program_id
                        WHERE e.customer_id = p_customer_id AND e.status = 'ACTIVE'
                          AND p.business_id = v_card.business_id);
    RETURN NEXT loyalty._card_changed(
        p_customer_id, v_card.id, 'enrollment.left', 'BUSINESS', 'CUSTOMER_LEFT', '%1$s left %2$s',
        '%1$s has left your %2$s loyalty program', NULL, '{}'::jsonb);
END;
$$;

-- sql/functions/replace_card.sql
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

-- sql/functions/unblock_card.sql
-- Unblock a blocked card: it is ACTIVE again when its enrollment is (INACTIVE when its customer
-- has left the program). A card that is not blocked changes nothing and is returned.
CREATE OR REPLACE FUNCTION loyalty.unblock_card(
    p_customer_id bigint,
    p_program_id  bigint,
    p_reason      text,
    p_business_id bigint DEFAULT NULL
)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY008',
            MESSAGE = format('A reason is at most 1000 characters, not %s', length(p_reason));
    END IF;
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);
    IF v_card.status = 'BLOCKED' THEN
        UPDATE loyalty.loyalty_cards AS k
           SET status = coalesce(v_card.enrollment_status, 'INACTIVE'), blocked_reason = NULL, updated_at = now()
         WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
        RETURN NEXT loyalty._card_changed(
            p_customer_id, v_card.id, 'card.unblocked', 'CUSTOMER', 'CARD_UNBLOCKED', 'Your %2$s card works again',
            '%3$s unblocked your %2$s card%4$s.', coalesce(': ' || p_reason, ''),
            jsonb_strip_nulls(jsonb_build_object('reason', p_reason)));
        RETURN;
    END IF;
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
END;
$$;

-- sql/functions/_approve_locked_request.sql
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
        SELECT p.id, p.name, p.status::text, p.business_id, loyalty._display_name(b.id, b.name, b.email, 'Business'),
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

-- sql/functions/_card_number.sql
-- A new card number, unique across workers by construction: '9', the customer id in 10 digits,
-- the customer's card ordinal in 4 digits, then the Luhn digit. The ordinal is one more than the
-- customer's cards, counted under a lock on the customer row (two of its programs approved at
-- once take turns). The old sequence's numbers start with 1, far below 9*10^14. Customer ids
-- outside 0..9,999,999,999 (or a 10,000th card) take the sequence on one server; on a cluster,
-- where the sequence is the coordinator's alone, they raise LY007.
CREATE OR REPLACE FUNCTION loyalty._card_number(p_customer_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_ordinal integer;
    v_number  text;
BEGIN
    IF p_customer_id BETWEEN 0 AND 9999999999 THEN
        PERFORM FROM loyalty.customers AS c WHERE c.id = p_customer_id FOR NO KEY UPDATE;
        -- A replaced card used an ordinal for each number it had (0033): none is issued again.
        SELECT (count(*) + coalesce(sum(k.replacements), 0) + 1)::integer INTO v_ordinal
          FROM loyalty.loyalty_cards AS k WHERE k.customer_id = p_customer_id;
    END IF;
    LOOP
        IF v_ordinal IS NULL OR v_ordinal > 9999 THEN
            IF loyalty._distributed() THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'LY007',
                    MESSAGE = format('No card number for customer %s: on a cluster card numbers need customer ids '
                                     'from 0 to 9999999999 and at most 9999 cards a customer', p_customer_id);
            END IF;
            RETURN loyalty._next_card_number();
        END IF;
        v_number := loyalty._card_number_for(p_customer_id, v_ordinal);
        -- A number a card has already (imported, or a deleted card's successor) is skipped: on
        -- one server every card is checked; on a cluster, where no index spans the workers, the
        -- customer's own cards.
        EXIT WHEN NOT EXISTS (SELECT FROM loyalty.loyalty_cards AS k
                               WHERE k.card_number = v_number
                                 AND (NOT loyalty._distributed() OR k.customer_id = p_customer_id));
        v_ordinal := v_ordinal + 1;
    END LOOP;
    RETURN v_number;
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
    -- Earning and spending need the card, its enrollment and its program ACTIVE; corrections
    -- (adjustments, reversals) do not.
    IF p_reason IN ('EARN', 'SPEND') AND (v_card.status <> 'ACTIVE' OR v_card.enrollment_status IS DISTINCT FROM 'ACTIVE'
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

-- sql/functions/process_enrollment_approvals.sql
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
    PERFORM FROM loyalty.loyalty_programs AS p WHERE p.id = ANY (v_programs) ORDER BY p.id FOR SHARE;

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
           r.status = 'EXPIRED' OR (r.status = 'PENDING' AND r.expires_at <= now()) AS expired
      INTO v_failure
      FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
      LEFT JOIN loyalty.customer_approval_requests AS r ON r.id = t.id
      LEFT JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
     WHERE r.id IS NULL
        OR r.business_id <> p_business_id
        OR (p_business_id IS NOT NULL AND r.kind <> 'REQUEST')
        OR r.status IN ('REJECTED', 'EXPIRED')
        OR (r.status = 'PENDING'
            AND (r.expires_at <= now()
                 OR p.status IS DISTINCT FROM 'ACTIVE'
                 OR r.customer_id = ANY (v_no_user)))
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
            RETURNING c.customer_id, c.program_id
        )
        SELECT array_agg(reused.customer_id), array_agg(reused.program_id)
          INTO v_reused_customers, v_reused_programs
          FROM reused;
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
        SELECT coalesce(array_agg(carded.id), '{}') INTO v_new_cards FROM carded;
        -- Each enrollment carries its card's balance (welcome points, an imported card that had
        -- no enrollment): written only where the two differ.
        UPDATE loyalty.program_enrollments AS e
           SET current_points = k.points_balance
          FROM loyalty.loyalty_cards AS k, unnest(v_pair_customers, v_pair_programs) AS f (customer_id, program_id)
         WHERE k.customer_id = e.customer_id AND k.program_id = e.program_id
           AND e.customer_id = f.customer_id AND e.program_id = f.program_id
           AND e.current_points <> k.points_balance;
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
          -- Each program's name and business's name once, not once per card.
          JOIN (SELECT p.id, p.name, p.business_id, p.welcome_points,
                       loyalty._display_name(b.id, b.name, b.email, 'Business') AS business_name
                  FROM loyalty.loyalty_programs AS p
                  JOIN loyalty.businesses AS b ON b.id = p.business_id) AS p ON p.id = f.program_id
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
                                  'business_name', loyalty._display_name(b.id, b.name, b.email, 'Business'),
                                  'request_id', f.id, 'card_id', k.id)
          FROM unnest(v_ids, v_customers, v_programs, v_businesses, v_kinds) WITH ORDINALITY
               AS f (id, customer_id, program_id, business_id, kind, position)
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_cards) AS k (customer_id, program_id, id)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
          JOIN loyalty.customers AS cu ON cu.id = f.customer_id
          JOIN loyalty.loyalty_programs AS p ON p.id = f.program_id
          JOIN loyalty.businesses AS b ON b.id = f.business_id
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
          JOIN (SELECT p.id, p.name, p.welcome_points, loyalty._display_name(b.id, b.name, b.email, 'Business') AS business_name
                  FROM loyalty.loyalty_programs AS p
                  JOIN loyalty.businesses AS b ON b.id = p.business_id) AS p ON p.id = f.program_id
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

GRANT EXECUTE ON FUNCTION loyalty.block_card(bigint,bigint,text,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.leave_program(bigint,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.replace_card(bigint,bigint,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.unblock_card(bigint,bigint,text,bigint) TO loyalty_app;
