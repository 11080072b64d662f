-- The current loyalty schema: every table, index, type and function as migrations 0001 to the
-- newest leave them, with owners and grants. Generated (`make schema`; a test keeps it equal to
-- the migrations): read functions with their comments in sql/functions/<area>/, change them there.
--
-- PostgreSQL database dump
--



SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: loyalty; Type: SCHEMA; Schema: -; Owner: loyalty_owner
--

CREATE SCHEMA loyalty;


ALTER SCHEMA loyalty OWNER TO loyalty_owner;

--
-- Name: SCHEMA loyalty; Type: COMMENT; Schema: -; Owner: loyalty_owner
--

COMMENT ON SCHEMA loyalty IS 'loyaltydb: customer loyalty programs (tables, enrollment functions).';


--
-- Name: _locked_card; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty._locked_card AS (
	enrollment_id bigint,
	enrollment_status text,
	id bigint,
	business_id bigint,
	card_number text,
	status text,
	points_balance integer
);


ALTER TYPE loyalty._locked_card OWNER TO loyalty_owner;

--
-- Name: _notice; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty._notice AS (
	type text,
	title text,
	message text
);


ALTER TYPE loyalty._notice OWNER TO loyalty_owner;

--
-- Name: _program_info; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty._program_info AS (
	id bigint,
	name text,
	status text,
	business_id bigint,
	business_name text,
	welcome_points integer,
	request_ttl interval
);


ALTER TYPE loyalty._program_info OWNER TO loyalty_owner;

--
-- Name: active_status; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.active_status AS text
	CONSTRAINT active_status_check CHECK ((VALUE = ANY (ARRAY['ACTIVE'::text, 'INACTIVE'::text])));


ALTER DOMAIN loyalty.active_status OWNER TO loyalty_owner;

--
-- Name: card_status; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.card_status AS text
	CONSTRAINT card_status_check CHECK ((VALUE = ANY (ARRAY['ACTIVE'::text, 'INACTIVE'::text, 'BLOCKED'::text])));


ALTER DOMAIN loyalty.card_status OWNER TO loyalty_owner;

--
-- Name: customer_result; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.customer_result AS (
	id bigint,
	user_id bigint,
	name text,
	email text,
	created boolean
);


ALTER TYPE loyalty.customer_result OWNER TO loyalty_owner;

--
-- Name: enrollment_result; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.enrollment_result AS (
	request_id uuid,
	status text,
	customer_id bigint,
	program_id bigint,
	enrollment_id bigint,
	card_id bigint,
	card_number text,
	customer_created boolean,
	notification_id uuid
);


ALTER TYPE loyalty.enrollment_result OWNER TO loyalty_owner;

--
-- Name: event; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.event AS (
	id bigint,
	type text,
	customer_id bigint,
	business_id bigint,
	occurred_at timestamp with time zone,
	payload jsonb
);


ALTER TYPE loyalty.event OWNER TO loyalty_owner;

--
-- Name: notification; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.notification AS (
	id uuid,
	type text,
	title text,
	message text,
	data jsonb,
	requires_action boolean,
	action_taken boolean,
	is_read boolean,
	created_at timestamp with time zone
);


ALTER TYPE loyalty.notification OWNER TO loyalty_owner;

--
-- Name: notification_audience; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.notification_audience AS text
	CONSTRAINT notification_audience_check CHECK ((VALUE = ANY (ARRAY['CUSTOMER'::text, 'BUSINESS'::text])));


ALTER DOMAIN loyalty.notification_audience OWNER TO loyalty_owner;

--
-- Name: pending_invitation; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.pending_invitation AS (
	request_id uuid,
	business_id bigint,
	business_name text,
	program_id bigint,
	program_name text,
	requested_at timestamp with time zone,
	expires_at timestamp with time zone
);


ALTER TYPE loyalty.pending_invitation OWNER TO loyalty_owner;

--
-- Name: pending_request; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.pending_request AS (
	request_id uuid,
	customer_id bigint,
	customer_name text,
	program_id bigint,
	program_name text,
	requested_at timestamp with time zone
);


ALTER TYPE loyalty.pending_request OWNER TO loyalty_owner;

--
-- Name: point_balance; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.point_balance AS integer
	CONSTRAINT point_balance_check CHECK ((VALUE >= 0));


ALTER DOMAIN loyalty.point_balance OWNER TO loyalty_owner;

--
-- Name: point_reason; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.point_reason AS text
	CONSTRAINT point_reason_check CHECK ((VALUE = ANY (ARRAY['WELCOME'::text, 'OPENING'::text, 'IMPORT'::text, 'EARN'::text, 'SPEND'::text, 'ADJUST'::text, 'REVERSAL'::text, 'REDEEM'::text, 'REFUND'::text, 'DEDUCTION'::text, 'EXPIRE'::text])));


ALTER DOMAIN loyalty.point_reason OWNER TO loyalty_owner;

--
-- Name: point_result; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.point_result AS (
	transaction_id bigint,
	customer_id bigint,
	program_id bigint,
	card_id bigint,
	points integer,
	balance_after integer,
	reason text,
	created_at timestamp with time zone,
	replayed boolean
);


ALTER TYPE loyalty.point_result OWNER TO loyalty_owner;

--
-- Name: redemption_details; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.redemption_details AS (
	redemption_id uuid,
	customer_id bigint,
	reward_id bigint,
	reward_name text,
	program_id bigint,
	card_id bigint,
	points integer,
	code text,
	status text,
	created_at timestamp with time zone,
	decided_at timestamp with time zone
);


ALTER TYPE loyalty.redemption_details OWNER TO loyalty_owner;

--
-- Name: redemption_result; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.redemption_result AS (
	redemption_id uuid,
	code text,
	status text,
	reward_id bigint,
	points integer,
	balance_after integer,
	replayed boolean
);


ALTER TYPE loyalty.redemption_result OWNER TO loyalty_owner;

--
-- Name: request_kind; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.request_kind AS text
	CONSTRAINT request_kind_check CHECK ((VALUE = ANY (ARRAY['REQUEST'::text, 'INVITATION'::text])));


ALTER DOMAIN loyalty.request_kind OWNER TO loyalty_owner;

--
-- Name: request_status; Type: DOMAIN; Schema: loyalty; Owner: loyalty_owner
--

CREATE DOMAIN loyalty.request_status AS text
	CONSTRAINT request_status_check CHECK ((VALUE = ANY (ARRAY['PENDING'::text, 'APPROVED'::text, 'REJECTED'::text, 'EXPIRED'::text])));


ALTER DOMAIN loyalty.request_status OWNER TO loyalty_owner;

--
-- Name: reward_details; Type: TYPE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TYPE loyalty.reward_details AS (
	reward_id bigint,
	program_id bigint,
	name text,
	points_cost integer,
	status text,
	stock integer
);


ALTER TYPE loyalty.reward_details OWNER TO loyalty_owner;

--
-- Name: _active_program(bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._active_program(p_program_id bigint, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty._program_info
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    v_program loyalty._program_info := loyalty._program_info(p_program_id);
BEGIN
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    IF v_program.business_id <> p_business_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not invite to program %s: it belongs to another business',
                             p_business_id, p_program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;
    RETURN v_program;
END;
$$;


ALTER FUNCTION loyalty._active_program(p_program_id bigint, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _answer_invitation(uuid, bigint, boolean, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._answer_invitation(p_request_id uuid, p_customer_id bigint, p_accepted boolean, p_reason text) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_request loyalty.customer_approval_requests;
BEGIN
    IF p_request_id IS NULL OR p_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and customer id must not be NULL';
    END IF;
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY008',
            MESSAGE = format('A decline reason may be at most 1000 characters; this one has %s', length(p_reason));
    END IF;
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    -- An id that carries another customer is that customer's: refused without a lookup.
    IF loyalty._request_customer(p_request_id) <> p_customer_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Customer %s may not answer %s: it is another customer''s', p_customer_id, p_request_id);
    END IF;

    -- Every decision on one row is serialised here, as for a business's decision.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.customer_id = p_customer_id AND r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;
    IF v_request.kind <> 'INVITATION' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Customer %s may not answer %s: it is a request, which the business decides',
                             p_customer_id, p_request_id);
    END IF;
    RETURN loyalty._decide_locked_request(v_request, p_accepted, p_reason, NULL);
END;
$$;


ALTER FUNCTION loyalty._answer_invitation(p_request_id uuid, p_customer_id bigint, p_accepted boolean, p_reason text) OWNER TO loyalty_owner;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: customer_approval_requests; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.customer_approval_requests (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    customer_id bigint NOT NULL,
    program_id bigint NOT NULL,
    business_id bigint NOT NULL,
    status loyalty.request_status DEFAULT 'PENDING'::text NOT NULL,
    notification_id uuid,
    message text,
    rejection_reason text,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    response_at timestamp with time zone,
    enrollment_id bigint,
    card_id bigint,
    customer_created boolean,
    result_notification_id uuid,
    kind loyalty.request_kind DEFAULT 'REQUEST'::text NOT NULL,
    expires_at timestamp with time zone
)
WITH (fillfactor='85');


ALTER TABLE loyalty.customer_approval_requests OWNER TO loyalty_owner;

--
-- Name: _approve_locked_request(loyalty.customer_approval_requests); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests) OWNER TO loyalty_owner;

--
-- Name: _approve_one_by_one(uuid[], bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint) RETURNS SETOF loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_item      record;
    v_customer  bigint;
    v_request   loyalty.customer_approval_requests;
    -- Each distinct request in id order, its row's customer, business and program (NULL customer:
    -- not found), and its result or the error deciding it raised.
    v_ids       uuid[] := ARRAY[]::uuid[];
    v_customers bigint[] := ARRAY[]::bigint[];
    v_businesses bigint[] := ARRAY[]::bigint[];
    v_programs  bigint[] := ARRAY[]::bigint[];
    v_results   loyalty.enrollment_result[] := ARRAY[]::loyalty.enrollment_result[];
    v_states    text[] := ARRAY[]::text[];
    v_messages  text[] := ARRAY[]::text[];
BEGIN
    -- 1. Lock every request once, in id order.
    FOR v_item IN SELECT DISTINCT t.id FROM unnest(p_request_ids) AS t (id) ORDER BY t.id
    LOOP
        v_customer := coalesce(loyalty._request_customer(v_item.id),
                               (SELECT r.customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = v_item.id));
        v_request := NULL;
        IF v_customer IS NOT NULL THEN
            SELECT r.* INTO v_request
              FROM loyalty.customer_approval_requests AS r
             WHERE r.customer_id = v_customer AND r.id = v_item.id
               FOR UPDATE;
        END IF;
        v_ids := v_ids || v_item.id;
        v_customers := v_customers || v_request.customer_id;
        v_businesses := v_businesses || v_request.business_id;
        v_programs := v_programs || v_request.program_id;
        v_results := v_results || NULL::loyalty.enrollment_result;
        v_states := v_states || CASE WHEN v_request.id IS NULL THEN 'LY001' END;
        v_messages := v_messages || CASE WHEN v_request.id IS NULL
                                         THEN format('Enrollment request not found: %s', v_item.id) END;
    END LOOP;

    -- 2. Decide in (customer, business, program) order; a request that cannot be approved keeps
    -- its error, and its subtransaction leaves nothing.
    FOR v_item IN
        SELECT f.slot, f.id, f.customer_id
          FROM unnest(v_ids, v_customers, v_businesses, v_programs) WITH ORDINALITY
               AS f (id, customer_id, business_id, program_id, slot)
         WHERE f.customer_id IS NOT NULL
         ORDER BY f.customer_id, f.business_id, f.program_id, f.id
    LOOP
        BEGIN
            v_results[v_item.slot] := loyalty._decide_request(v_item.customer_id, v_item.id, true, NULL, p_business_id);
        EXCEPTION WHEN OTHERS THEN
            IF SQLSTATE NOT LIKE 'LY%' THEN
                RAISE;  -- a lost race, a timeout: the caller's to handle, as for one approval
            END IF;
            v_states[v_item.slot] := SQLSTATE;
            v_messages[v_item.slot] := SQLERRM;
        END;
    END LOOP;

    -- The error of the first request, in the caller's order, that cannot be approved.
    SELECT v_states[f.slot] AS state, v_messages[f.slot] AS message INTO v_item
      FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
      JOIN unnest(v_ids) WITH ORDINALITY AS f (id, slot) ON f.id = t.id
     WHERE v_states[f.slot] IS NOT NULL
     ORDER BY t.position
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = v_item.state, MESSAGE = v_item.message;
    END IF;

    -- A customer this batch created: reported created by its first request in the caller's order.
    FOR v_item IN
        SELECT DISTINCT ON (c.customer_id) c.customer_id, c.slot AS creator,
               (SELECT f.slot FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
                  JOIN unnest(v_ids, v_customers) WITH ORDINALITY AS f (id, customer_id, slot) ON f.id = t.id
                 WHERE f.customer_id = c.customer_id
                 ORDER BY t.position LIMIT 1) AS first
          FROM unnest(v_customers) WITH ORDINALITY AS c (customer_id, slot)
         WHERE (v_results[c.slot]).customer_created
    LOOP
        CONTINUE WHEN v_item.creator = v_item.first;
        UPDATE loyalty.customer_approval_requests AS r
           SET customer_created = (r.id = v_ids[v_item.first])
         WHERE r.customer_id = v_item.customer_id AND r.id IN (v_ids[v_item.creator], v_ids[v_item.first]);
        v_results[v_item.creator].customer_created := false;
        v_results[v_item.first].customer_created := true;
    END LOOP;

    -- The results in the caller's order; a repeated id returns its result again.
    FOR v_item IN
        SELECT f.slot
          FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
          JOIN unnest(v_ids) WITH ORDINALITY AS f (id, slot) ON f.id = t.id
         ORDER BY t.position
    LOOP
        RETURN NEXT v_results[v_item.slot];
    END LOOP;
END;
$$;


ALTER FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _card_number_is_valid(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_number_is_valid(p_card_number text) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $_$
BEGIN
    RETURN p_card_number ~ '^[0-9]{2,}$'
       AND loyalty._luhn_check_digit(left(p_card_number, -1)) = right(p_card_number, 1)::integer;
END;
$_$;


ALTER FUNCTION loyalty._card_number_is_valid(p_card_number text) OWNER TO loyalty_owner;

--
-- Name: _display_name(bigint, text, text, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._display_name(p_id bigint, p_name text, p_email text, p_fallback text DEFAULT 'Customer'::text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(
        nullif(loyalty._trim_space(p_name), ''),
        -- Greedy '.*' keeps everything before the last '@': the RFC 5322 local part.
        nullif(loyalty._trim_space(loyalty._initcap_unicode(replace(substring(p_email FROM '^(.*)@'), '.', ' '))), ''),
        p_fallback || ' ' || p_id::text
    )
$$;


ALTER FUNCTION loyalty._display_name(p_id bigint, p_name text, p_email text, p_fallback text) OWNER TO loyalty_owner;

--
-- Name: _next_card_number(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._next_card_number() RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_payload text;
    v_number  text;
BEGIN
    LOOP
        v_payload := nextval('loyalty.card_number_seq')::text;
        v_number := v_payload || loyalty._luhn_check_digit(v_payload);
        EXIT WHEN NOT EXISTS (SELECT FROM loyalty.loyalty_cards AS c WHERE c.card_number = v_number);
    END LOOP;
    RETURN v_number;
END;
$$;


ALTER FUNCTION loyalty._next_card_number() OWNER TO loyalty_owner;

--
-- Name: businesses; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.businesses (
    id bigint NOT NULL,
    name text,
    email text,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    display_name text GENERATED ALWAYS AS (loyalty._display_name(id, name, email, 'Business'::text)) STORED NOT NULL
);


ALTER TABLE loyalty.businesses OWNER TO loyalty_owner;

--
-- Name: TABLE businesses; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON TABLE loyalty.businesses IS 'Businesses (users that run programs) as reference data: kept in step with users by triggers on one server, by loyalty.register_business on a cluster.';


--
-- Name: COLUMN businesses.display_name; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON COLUMN loyalty.businesses.display_name IS 'The name notifications and events give the business: its name, else one made from its email, else "Business <id>" (0044).';


--
-- Name: loyalty_cards; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.loyalty_cards (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    program_id bigint NOT NULL,
    business_id bigint NOT NULL,
    card_number text DEFAULT loyalty._next_card_number() NOT NULL,
    status loyalty.card_status DEFAULT 'ACTIVE'::text NOT NULL,
    points_balance loyalty.point_balance DEFAULT 0 NOT NULL,
    issued_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    blocked_reason text,
    replacements integer DEFAULT 0 NOT NULL,
    CONSTRAINT loyalty_cards_card_number_check CHECK (loyalty._card_number_is_valid(card_number))
);


ALTER TABLE loyalty.loyalty_cards OWNER TO loyalty_owner;

--
-- Name: loyalty_programs; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.loyalty_programs (
    id bigint NOT NULL,
    business_id bigint NOT NULL,
    name text NOT NULL,
    description text,
    status loyalty.active_status DEFAULT 'ACTIVE'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    request_ttl interval DEFAULT '7 days'::interval,
    welcome_points integer DEFAULT 0 NOT NULL,
    points_ttl interval,
    CONSTRAINT loyalty_programs_request_ttl_check CHECK ((request_ttl > '00:00:00'::interval)),
    CONSTRAINT loyalty_programs_welcome_points_check CHECK ((welcome_points >= 0))
);


ALTER TABLE loyalty.loyalty_programs OWNER TO loyalty_owner;

--
-- Name: card_details; Type: VIEW; Schema: loyalty; Owner: loyalty_owner
--

CREATE VIEW loyalty.card_details AS
 SELECT c.id,
    c.customer_id,
    c.program_id,
    p.name AS program_name,
    c.business_id,
    loyalty._display_name(b.id, b.name, b.email, 'Business'::text) AS business_name,
    c.card_number,
    (c.status)::text AS status,
    (c.points_balance)::integer AS points_balance,
    c.issued_at
   FROM ((loyalty.loyalty_cards c
     JOIN loyalty.loyalty_programs p ON ((p.id = c.program_id)))
     JOIN loyalty.businesses b ON ((b.id = c.business_id)));


ALTER TABLE loyalty.card_details OWNER TO loyalty_owner;

--
-- Name: _card_changed(bigint, bigint, text, text, text, text, text, text, jsonb); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_changed(p_customer_id bigint, p_card_id bigint, p_event text, p_audience text, p_type text, p_title text, p_message text, p_detail text, p_extra jsonb) RETURNS loyalty.card_details
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._card_changed(p_customer_id bigint, p_card_id bigint, p_event text, p_audience text, p_type text, p_title text, p_message text, p_detail text, p_extra jsonb) OWNER TO loyalty_owner;

--
-- Name: _card_created_data(text, text, text, text, uuid, integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_created_data(p_customer_name text, p_program_name text, p_business_name text, p_card_number text, p_request_id uuid, p_welcome_points integer) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT jsonb_build_object('customer_name', p_customer_name,
                              'program_name', p_program_name,
                              'business_name', p_business_name,
                              'card_number', p_card_number,
                              'request_id', p_request_id,
                              'welcome_points', p_welcome_points)
$$;


ALTER FUNCTION loyalty._card_created_data(p_customer_name text, p_program_name text, p_business_name text, p_card_number text, p_request_id uuid, p_welcome_points integer) OWNER TO loyalty_owner;

--
-- Name: _card_created_message(text, text, text, integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_created_message(p_program_name text, p_business_name text, p_customer_name text, p_welcome_points integer) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT format('Welcome to %s at %s, %s! Your loyalty card is ready to use.',
                  p_program_name, p_business_name, p_customer_name)
           || CASE WHEN p_welcome_points > 0
                   THEN format(' It starts with %s welcome points.', p_welcome_points::text)
                   ELSE '' END
$$;


ALTER FUNCTION loyalty._card_created_message(p_program_name text, p_business_name text, p_customer_name text, p_welcome_points integer) OWNER TO loyalty_owner;

--
-- Name: _card_created_title(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_created_title(p_program_name text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT format('Your %s card is ready', p_program_name)
$$;


ALTER FUNCTION loyalty._card_created_title(p_program_name text) OWNER TO loyalty_owner;

--
-- Name: _card_number(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_number(p_customer_id bigint) RETURNS text
    LANGUAGE plpgsql
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


ALTER FUNCTION loyalty._card_number(p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: _card_number_for(bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._card_number_for(p_customer_id bigint, p_ordinal bigint) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_customer_id BETWEEN 0 AND 9999999999 AND p_ordinal BETWEEN 1 AND 9999
                THEN '9' || lpad(p_customer_id::text, 10, '0') || lpad(p_ordinal::text, 4, '0')
                     || loyalty._luhn_check_digit('9' || lpad(p_customer_id::text, 10, '0') || lpad(p_ordinal::text, 4, '0'))::text
           END
$$;


ALTER FUNCTION loyalty._card_number_for(p_customer_id bigint, p_ordinal bigint) OWNER TO loyalty_owner;

--
-- Name: _change_points(bigint, bigint, integer, text, text, bigint, text, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._change_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text, p_idempotency_key text, p_business_id bigint, p_reference text, p_note text, p_reverses_id bigint DEFAULT NULL::bigint) RETURNS loyalty.point_result
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._change_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text, p_idempotency_key text, p_business_id bigint, p_reference text, p_note text, p_reverses_id bigint) OWNER TO loyalty_owner;

--
-- Name: _check_business(loyalty.customer_approval_requests, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._check_business(p_request loyalty.customer_approval_requests, p_business_id bigint) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF p_business_id IS NOT NULL AND p_business_id <> p_request.business_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not decide request %s: its program belongs to another business',
                             p_business_id, p_request.id);
    ELSIF p_business_id IS NOT NULL AND p_request.kind <> 'REQUEST' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not decide %s: it is an invitation, which its customer answers',
                             p_business_id, p_request.id);
    END IF;
END;
$$;


ALTER FUNCTION loyalty._check_business(p_request loyalty.customer_approval_requests, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _check_page_limit(integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._check_page_limit(p_limit integer) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 1000, not %s', p_limit);
    END IF;
END;
$$;


ALTER FUNCTION loyalty._check_page_limit(p_limit integer) OWNER TO loyalty_owner;

--
-- Name: _check_points(integer, text, boolean); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._check_points(p_points integer, p_name text, p_signed boolean) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF p_points IS NULL OR p_points = 0 OR (p_points < 0 AND NOT p_signed) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('%s must be %s integer, not %s', p_name,
                             CASE WHEN p_signed THEN 'a non-zero' ELSE 'a positive' END, coalesce(p_points::text, 'NULL'));
    END IF;
END;
$$;


ALTER FUNCTION loyalty._check_points(p_points integer, p_name text, p_signed boolean) OWNER TO loyalty_owner;

--
-- Name: _check_reward(text, integer, integer, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text) RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    IF p_name IS NOT NULL AND length(loyalty._trim_space(p_name)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('name must be 1 to 200 characters, not %s', length(loyalty._trim_space(p_name)));
    END IF;
    IF p_points_cost IS NOT NULL THEN
        PERFORM loyalty._check_points(p_points_cost, 'points_cost', false);
    END IF;
    IF p_stock < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('stock must be zero or more (or NULL: unlimited), not %s', p_stock);
    END IF;
    IF p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('status must be ACTIVE or INACTIVE, not %s', quote_literal(p_status));
    END IF;
END;
$$;


ALTER FUNCTION loyalty._check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text) OWNER TO loyalty_owner;

--
-- Name: _current_group(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._current_group() RETURNS integer
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT 0
$$;


ALTER FUNCTION loyalty._current_group() OWNER TO loyalty_owner;

--
-- Name: _decide_by_id(uuid, boolean, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._decide_by_id(p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_customer_id bigint;
BEGIN
    IF p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and approved must not be NULL';
    END IF;
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    -- A simple expression (planned once, the decoding inlined); the row only for an id made otherwise.
    v_customer_id := loyalty._request_customer(p_request_id);
    IF v_customer_id IS NULL THEN
        SELECT r.customer_id INTO v_customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = p_request_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
        END IF;
    END IF;
    RETURN loyalty._decide_request(v_customer_id, p_request_id, p_approved, p_reason, p_business_id);
END;
$$;


ALTER FUNCTION loyalty._decide_by_id(p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _decide_locked_request(loyalty.customer_approval_requests, boolean, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
BEGIN
    -- Checked before anything else, replays included: another business learns nothing. Only
    -- when a business decides (the customer's call and the contract's call name none): a plpgsql
    -- call costs about 1% of an approval (docs/benchmarks.md).
    IF p_business_id IS NOT NULL THEN
        PERFORM loyalty._check_business(p_request, p_business_id);
    END IF;

    -- Overdue (swept or not): nothing is decided. A decision made in time replays below.
    IF p_request.status = 'EXPIRED' OR (p_request.status = 'PENDING' AND p_request.expires_at <= now()) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY009',
            MESSAGE = format('Enrollment request %s expired at %s', p_request.id, p_request.expires_at);
    END IF;

    IF p_request.status = (CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END) THEN
        -- Idempotent: the same decision again changes nothing and returns the same result. Said
        -- in a NOTICE (0042), so that a caller (loyaltydb approve) can tell a replay from a decision.
        RAISE NOTICE 'request % was % already: its stored result, nothing written', p_request.id,
            lower(p_request.status::text);
        RETURN loyalty._stored_result(p_request);
    ELSIF p_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY002',
            MESSAGE = format('Enrollment request %s is already %s', p_request.id, p_request.status);
    ELSIF p_approved THEN
        RETURN loyalty._approve_locked_request(p_request);
    ELSE
        RETURN loyalty._reject_locked_request(p_request, p_reason);
    END IF;
END;
$$;


ALTER FUNCTION loyalty._decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _decide_request(bigint, uuid, boolean, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._decide_request(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_request loyalty.customer_approval_requests;
BEGIN
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    -- Checked before any lock: the reason is stored and sent to the customer.
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY008',
            MESSAGE = format('A rejection reason may be at most 1000 characters; this one has %s', length(p_reason));
    END IF;

    -- A rejection first waits for every decision on the same customer and program (their
    -- requests, locked in id order like a batch's), so it sees an approval that beat it.
    IF NOT p_approved THEN
        PERFORM FROM loyalty.customer_approval_requests AS s
         WHERE s.customer_id = p_customer_id
           AND s.program_id = (SELECT r.program_id FROM loyalty.customer_approval_requests AS r
                                WHERE r.customer_id = p_customer_id AND r.id = p_request_id)
         ORDER BY s.id
           FOR UPDATE;
    END IF;

    -- Every decision on one request is serialised here; the waiter then sees the decided row.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.customer_id = p_customer_id AND r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;

    RETURN loyalty._decide_locked_request(v_request, p_approved, p_reason, p_business_id);
END;
$$;


ALTER FUNCTION loyalty._decide_request(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _distributed(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._distributed() RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT false
$$;


ALTER FUNCTION loyalty._distributed() OWNER TO loyalty_owner;

--
-- Name: _earn_points_set(bigint[], bigint[], integer[], text[], bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._earn_points_set(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) RETURNS loyalty.point_result[]
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._earn_points_set(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _ensure_customer(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._ensure_customer(p_user_id bigint) RETURNS loyalty.customer_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_user   loyalty.users;
    v_result loyalty.customer_result;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'user id must not be NULL';
    END IF;
    -- An erased customer is never created or used again (0041: CustomerErased, LY019).
    PERFORM loyalty._refuse_erased(p_user_id);

    -- Fast path: the customer usually exists. KEY SHARE keeps it until we commit, so the rows
    -- we write next can refer to it; one deleted meanwhile is not found, and created again.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id
       FOR KEY SHARE;
    IF FOUND THEN
        RETURN v_result;
    END IF;

    -- KEY SHARE: a concurrent DELETE of the user waits for us, or we see it gone.
    SELECT u.* INTO v_user FROM loyalty.users AS u WHERE u.id = p_user_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot create customer record.', p_user_id);
    END IF;

    -- A concurrent creator makes us wait for its commit, and then this insert does nothing.
    INSERT INTO loyalty.customers AS c (id, user_id, name, email)
    VALUES (v_user.id, v_user.id, loyalty._display_name(v_user.id, v_user.name, v_user.email), v_user.email)
    ON CONFLICT DO NOTHING
    RETURNING c.id, c.user_id, c.name, c.email, true
    INTO v_result;
    IF FOUND THEN
        RAISE NOTICE 'created customer % (%) from user %', v_result.id, v_result.name, p_user_id;
        RETURN v_result;
    END IF;

    -- DO NOTHING returns no row: lock and read the one the concurrent creator committed.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO STRICT v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id
       FOR KEY SHARE;
    RETURN v_result;
END;
$$;


ALTER FUNCTION loyalty._ensure_customer(p_user_id bigint) OWNER TO loyalty_owner;

--
-- Name: _erased_json(jsonb); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._erased_json(p_data jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}'::jsonb)
      FROM jsonb_each(p_data) AS e
     WHERE jsonb_typeof(e.value) IN ('number', 'boolean', 'null')
        OR e.key IN ('program_name', 'business_name', 'reward_name', 'request_id', 'redemption_id', 'code',
                     'channels', 'status', 'cancelled_by', 'kind')
$$;


ALTER FUNCTION loyalty._erased_json(p_data jsonb) OWNER TO loyalty_owner;

--
-- Name: _event_channels(jsonb, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._event_channels(p_preferences jsonb, p_category text) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_category IS NULL THEN NULL
                WHEN NOT coalesce((p_preferences ->> p_category)::boolean, true) THEN '[]'::jsonb
                ELSE to_jsonb(array_remove(ARRAY[
                         CASE WHEN coalesce((p_preferences ->> 'email')::boolean, true) THEN 'email' END,
                         CASE WHEN coalesce((p_preferences ->> 'push')::boolean, true) THEN 'push' END,
                         CASE WHEN coalesce((p_preferences ->> 'sms')::boolean, false) THEN 'sms' END], NULL))
           END
$$;


ALTER FUNCTION loyalty._event_channels(p_preferences jsonb, p_category text) OWNER TO loyalty_owner;

--
-- Name: _event_new_here(xid8, jsonb, jsonb); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._event_new_here(p_xid xid8, p_from jsonb, p_to jsonb) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT p_xid >= pg_snapshot_xmin(coalesce((p_from ->> loyalty._current_group()::text)::pg_snapshot, '1:1:'))
       AND NOT pg_visible_in_snapshot(p_xid, coalesce((p_from ->> loyalty._current_group()::text)::pg_snapshot, '1:1:'))
       AND pg_visible_in_snapshot(p_xid, (p_to ->> loyalty._current_group()::text)::pg_snapshot)
$$;


ALTER FUNCTION loyalty._event_new_here(p_xid xid8, p_from jsonb, p_to jsonb) OWNER TO loyalty_owner;

--
-- Name: _event_passed_here(xid8, jsonb); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._event_passed_here(p_xid xid8, p_positions jsonb) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT NOT EXISTS (
        SELECT FROM jsonb_array_elements(p_positions) AS p (position)
         WHERE NOT coalesce(pg_visible_in_snapshot(p_xid, (p.position ->> loyalty._current_group()::text)::pg_snapshot), false))
$$;


ALTER FUNCTION loyalty._event_passed_here(p_xid xid8, p_positions jsonb) OWNER TO loyalty_owner;

--
-- Name: _event_xid(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._event_xid() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    RETURN NEW;
END;
$$;


ALTER FUNCTION loyalty._event_xid() OWNER TO loyalty_owner;

--
-- Name: events; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.events (
    customer_id bigint NOT NULL,
    id bigint NOT NULL,
    type text NOT NULL,
    business_id bigint,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL
);


ALTER TABLE loyalty.events OWNER TO loyalty_owner;

--
-- Name: TABLE events; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON TABLE loyalty.events IS 'Every change, written by its own transaction (docs/events.md); read through loyalty.fetch_events.';


--
-- Name: _events_between(pg_snapshot, pg_snapshot); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._events_between(p_from pg_snapshot, p_to pg_snapshot) RETURNS SETOF loyalty.events
    LANGUAGE sql STABLE
    AS $$
    SELECT e.*
      FROM loyalty.events AS e
     WHERE e.xid >= pg_snapshot_xmin(p_from)
       AND NOT pg_visible_in_snapshot(e.xid, p_from)
       AND pg_visible_in_snapshot(e.xid, p_to)
$$;


ALTER FUNCTION loyalty._events_between(p_from pg_snapshot, p_to pg_snapshot) OWNER TO loyalty_owner;

--
-- Name: _events_wake_key(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._events_wake_key() RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT 7263380221487542601::bigint  -- 'loyalty.events wake-up', unique to loyaltydb
$$;


ALTER FUNCTION loyalty._events_wake_key() OWNER TO loyalty_owner;

--
-- Name: _id_carries_customer(uuid, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._id_carries_customer(p_request_id uuid, p_customer_id bigint) RETURNS boolean
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
BEGIN
    RETURN coalesce(loyalty._request_customer(p_request_id) = p_customer_id, true);
END;
$$;


ALTER FUNCTION loyalty._id_carries_customer(p_request_id uuid, p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: _initcap_unicode(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._initcap_unicode(p_text text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
DECLARE
    v_result text;
BEGIN
    SELECT string_agg(CASE WHEN m.part[1] IS NULL THEN m.part[2]
                           ELSE upper(left(m.part[1], 1) COLLATE "und-x-icu")
                                || lower(substr(m.part[1], 2) COLLATE "und-x-icu")
                      END, '' ORDER BY m.n)
      INTO v_result
      FROM regexp_matches(p_text COLLATE "und-x-icu", '([[:alnum:]]+)|([^[:alnum:]]+)', 'g')
           WITH ORDINALITY AS m (part, n);
    RETURN coalesce(v_result, '');
END;
$$;


ALTER FUNCTION loyalty._initcap_unicode(p_text text) OWNER TO loyalty_owner;

--
-- Name: _lock_card(bigint, bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._lock_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) RETURNS loyalty._locked_card
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._lock_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: _luhn_check_digit(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._luhn_check_digit(p_payload text) RETURNS integer
    LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
    AS $_$
DECLARE
    v_sum    integer := 0;
    v_rest   text := p_payload;
    v_digits bigint;
BEGIN
    IF p_payload !~ '^[0-9]+$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('not a string of digits: %s', p_payload);
    END IF;
    WHILE v_rest <> '' LOOP
        v_digits := right(v_rest, 18)::bigint;
        v_sum := v_sum + loyalty._luhn_pair(v_digits) + loyalty._luhn_pair(v_digits / 100)
                       + loyalty._luhn_pair(v_digits / 10000) + loyalty._luhn_pair(v_digits / 1000000)
                       + loyalty._luhn_pair(v_digits / 100000000) + loyalty._luhn_pair(v_digits / 10000000000)
                       + loyalty._luhn_pair(v_digits / 1000000000000) + loyalty._luhn_pair(v_digits / 100000000000000)
                       + loyalty._luhn_pair(v_digits / 10000000000000000);
        v_rest := left(v_rest, -18);
    END LOOP;
    RETURN (10 - v_sum % 10) % 10;
END;
$_$;


ALTER FUNCTION loyalty._luhn_check_digit(p_payload text) OWNER TO loyalty_owner;

--
-- Name: _luhn_pair(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._luhn_pair(p_digits bigint) RETURNS integer
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT ((2 * (p_digits % 10)) % 10 + (2 * (p_digits % 10)) / 10 + p_digits / 10 % 10)::integer
$$;


ALTER FUNCTION loyalty._luhn_pair(p_digits bigint) OWNER TO loyalty_owner;

--
-- Name: _node_snapshots(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._node_snapshots() RETURNS jsonb
    LANGUAGE plpgsql
    AS $_$
-- VOLATILE, not STABLE as plpgsql_check guesses: each call asks the nodes anew.
-- @plpgsql_check_options: performance_warnings = false
DECLARE
    v_snapshots jsonb;
    v_failed    text;
BEGIN
    IF NOT loyalty._distributed() THEN
        RETURN jsonb_build_object('0', pg_current_snapshot()::text);
    END IF;
    -- Dynamic: Citus's catalog and functions exist only where Citus is installed.
    EXECUTE format($q$
        SELECT jsonb_object_agg(n.groupid::text, r.result) FILTER (WHERE r.success),
               string_agg(format('%%s:%%s (%%s)', n.nodename, n.nodeport, r.result), ', ') FILTER (WHERE NOT r.success)
          FROM pg_catalog.run_command_on_all_nodes(%L) AS r
          JOIN pg_catalog.pg_dist_node AS n ON n.nodeid = r.nodeid
    $q$, 'SELECT pg_catalog.pg_current_snapshot()') INTO v_snapshots, v_failed;
    IF v_failed IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '08006',
            MESSAGE = format('could not read the transaction snapshot of every node: %s', v_failed);
    END IF;
    RETURN v_snapshots;
END;
$_$;


ALTER FUNCTION loyalty._node_snapshots() OWNER TO loyalty_owner;

--
-- Name: _notification_page(text, bigint, boolean, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._notification_page(p_audience text, p_reader_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) RETURNS SETOF loyalty.notification
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    -- After every notification: the first page.
    v_before_at timestamptz := 'infinity'::timestamptz;
    v_before_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid;
BEGIN
    IF p_reader_id IS NULL OR p_limit IS NULL OR p_unread_only IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004',
            MESSAGE = format('%s id, unread_only and limit must not be NULL', lower(p_audience));
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_before IS NOT NULL THEN
        -- Two statements, each a key probe: (customer_id, id), or the business rows' (business_id, id).
        IF p_audience = 'CUSTOMER' THEN
            SELECT n.created_at, n.id INTO v_before_at, v_before_id
              FROM loyalty.customer_notifications AS n
             WHERE n.customer_id = p_reader_id AND n.id = p_before AND n.audience = 'CUSTOMER';
        ELSE
            SELECT n.created_at, n.id INTO v_before_at, v_before_id
              FROM loyalty.customer_notifications AS n
             WHERE n.business_id = p_reader_id AND n.id = p_before AND n.audience = 'BUSINESS';
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = '22023',
                -- Named by what it is, not by one caller's argument (Python's before=, the CLI's --before).
                MESSAGE = format('the page starts before notification %s, which is no notification of %s %s',
                                 p_before, lower(p_audience), p_reader_id);
        END IF;
    END IF;

    IF p_audience = 'CUSTOMER' THEN
        RETURN QUERY
        SELECT n.id, n.type, n.title, n.message, n.data, n.requires_action, n.action_taken, n.is_read, n.created_at
          FROM loyalty.customer_notifications AS n
         WHERE n.customer_id = p_reader_id AND n.audience = 'CUSTOMER'
           AND (NOT p_unread_only OR NOT n.is_read)
           AND (n.created_at, n.id) < (v_before_at, v_before_id)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT p_limit;
    ELSE
        RETURN QUERY
        SELECT n.id, n.type, n.title, n.message, n.data, n.requires_action, n.action_taken, n.is_read, n.created_at
          FROM loyalty.customer_notifications AS n
         WHERE n.business_id = p_reader_id AND n.audience = 'BUSINESS'
           AND (NOT p_unread_only OR NOT n.is_read)
           AND (n.created_at, n.id) < (v_before_at, v_before_id)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT p_limit;
    END IF;
END;
$$;


ALTER FUNCTION loyalty._notification_page(p_audience text, p_reader_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) OWNER TO loyalty_owner;

--
-- Name: _notify_events(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._notify_events() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(loyalty._events_wake_key()) THEN
        PERFORM pg_notify('loyalty_events', '');
    END IF;
    RETURN NULL;
END;
$$;


ALTER FUNCTION loyalty._notify_events() OWNER TO loyalty_owner;

--
-- Name: _other_side_message(boolean, text, text, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._other_side_message(p_joined boolean, p_customer_name text, p_program_name text, p_reason text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_joined
                THEN format('%s has joined your %s loyalty program', p_customer_name, p_program_name)
                ELSE format('%s has declined to join your %s loyalty program', p_customer_name, p_program_name)
                     || coalesce('. Reason: ' || p_reason, '')
           END
$$;


ALTER FUNCTION loyalty._other_side_message(p_joined boolean, p_customer_name text, p_program_name text, p_reason text) OWNER TO loyalty_owner;

--
-- Name: _other_side_title(boolean, text, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._other_side_title(p_joined boolean, p_customer_name text, p_program_name text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT format(CASE WHEN p_joined THEN '%s joined %s' ELSE '%s declined to join %s' END,
                  p_customer_name, p_program_name)
$$;


ALTER FUNCTION loyalty._other_side_title(p_joined boolean, p_customer_name text, p_program_name text) OWNER TO loyalty_owner;

--
-- Name: _points_event_payload(text, text, text, bigint, bigint, text, bigint, integer, bigint, bigint, jsonb); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._points_event_payload(p_customer_name text, p_program_name text, p_business_name text, p_program_id bigint, p_card_id bigint, p_card_number text, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reverses_id bigint, p_preferences jsonb) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'customer_name', p_customer_name, 'program_name', p_program_name, 'business_name', p_business_name,
               'program_id', p_program_id, 'card_id', p_card_id, 'card_number', p_card_number,
               'transaction_id', p_transaction_id, 'points', p_points, 'balance_after', p_balance_after,
               'reverses_id', p_reverses_id, 'channels', loyalty._event_channels(p_preferences, 'rewards')))
$$;


ALTER FUNCTION loyalty._points_event_payload(p_customer_name text, p_program_name text, p_business_name text, p_program_id bigint, p_card_id bigint, p_card_number text, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reverses_id bigint, p_preferences jsonb) OWNER TO loyalty_owner;

--
-- Name: _points_message(integer, text, text, text, integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._points_message(p_points integer, p_reason text, p_program_name text, p_business_name text, p_balance integer) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT format('%s %s %s points %s your %s card%s. Your balance is %s points.',
                  p_business_name, CASE WHEN p_points > 0 THEN 'added' ELSE 'deducted' END, abs(p_points),
                  CASE WHEN p_points > 0 THEN 'to' ELSE 'from' END, p_program_name,
                  CASE p_reason WHEN 'ADJUST' THEN ' (a correction)' WHEN 'REVERSAL' THEN ' (a reversal)'
                                WHEN 'EXPIRE' THEN ' (they expired)' ELSE '' END,
                  p_balance)
$$;


ALTER FUNCTION loyalty._points_message(p_points integer, p_reason text, p_program_name text, p_business_name text, p_balance integer) OWNER TO loyalty_owner;

--
-- Name: _points_notification_data(text, text, text, bigint, bigint, integer, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._points_notification_data(p_customer_name text, p_program_name text, p_business_name text, p_card_id bigint, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reason text) RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT jsonb_build_object('customer_name', p_customer_name, 'program_name', p_program_name,
                              'business_name', p_business_name, 'card_id', p_card_id,
                              'transaction_id', p_transaction_id, 'points', p_points, 'balance_after', p_balance_after,
                              'reason', p_reason)
$$;


ALTER FUNCTION loyalty._points_notification_data(p_customer_name text, p_program_name text, p_business_name text, p_card_id bigint, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reason text) OWNER TO loyalty_owner;

--
-- Name: _points_title(integer, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._points_title(p_points integer, p_program_name text) RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN p_points > 0 THEN format('You earned %s points at %s', p_points, p_program_name)
                ELSE format('%s points were deducted at %s', -p_points, p_program_name) END
$$;


ALTER FUNCTION loyalty._points_title(p_points integer, p_program_name text) OWNER TO loyalty_owner;

--
-- Name: _position_now(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._position_now() RETURNS pg_snapshot
    LANGUAGE sql
    AS $$
    SELECT CASE WHEN c.me IS NULL OR c.me >= pg_snapshot_xmax(c.now) THEN c.now
                ELSE format('%s:%s:%s', least(pg_snapshot_xmin(c.now), c.me), pg_snapshot_xmax(c.now),
                            (SELECT string_agg(x.xid::text, ',' ORDER BY x.xid)
                               FROM (SELECT pg_snapshot_xip(c.now) UNION SELECT c.me) AS x(xid)))::pg_snapshot
           END
      FROM (SELECT pg_current_snapshot() AS now, pg_current_xact_id_if_assigned() AS me) AS c
$$;


ALTER FUNCTION loyalty._position_now() OWNER TO loyalty_owner;

--
-- Name: _program_info(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._program_info(p_program_id bigint) RETURNS loyalty._program_info
    LANGUAGE plpgsql STABLE
    SET enable_seqscan TO 'off'
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


ALTER FUNCTION loyalty._program_info(p_program_id bigint) OWNER TO loyalty_owner;

--
-- Name: _queue_events_on_nodes(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._queue_events_on_nodes(p_consumer text) RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_from jsonb;
    v_to   jsonb;
BEGIN
    -- A snapshot older than the position (REPEATABLE READ, taken at the transaction's start)
    -- could hide a transaction the new position shows as committed: its events would be skipped.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING ERRCODE = '0A000',
            MESSAGE = format('fetch_events on a Citus cluster runs in READ COMMITTED, not %s (call it in a transaction of its own)',
                             upper(current_setting('transaction_isolation')));
    END IF;
    INSERT INTO loyalty.event_consumers AS c (name, position, node_positions)
    VALUES (p_consumer, loyalty._position_now(), loyalty._node_snapshots())
    ON CONFLICT (name) DO NOTHING;
    SELECT c.node_positions INTO STRICT v_from FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
    v_to := loyalty._node_snapshots();
    -- Each shard's rows against its own node's two snapshots (_event_new_here runs there).
    INSERT INTO loyalty.event_deliveries (consumer, customer_id, event_id)
    SELECT p_consumer, e.customer_id, e.id
      FROM loyalty.events AS e
     WHERE loyalty._event_new_here(e.xid, v_from, v_to)
    ON CONFLICT DO NOTHING;
    UPDATE loyalty.event_consumers AS c
       SET position = loyalty._position_now(), node_positions = v_to, updated_at = now()
     WHERE c.name = p_consumer;
END;
$$;


ALTER FUNCTION loyalty._queue_events_on_nodes(p_consumer text) OWNER TO loyalty_owner;

--
-- Name: _redemption_changed(bigint, uuid, text, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._redemption_changed(p_customer_id bigint, p_redemption_id uuid, p_event text, p_balance_after bigint, p_by text DEFAULT NULL::text) RETURNS loyalty.redemption_details
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_done     loyalty.redemption_details := loyalty._redemption_details(p_customer_id, p_redemption_id);
    v_program  loyalty._program_info := loyalty._program_info(v_done.program_id);
    v_customer record;
    v_data     jsonb;
    v_told     loyalty._notice;
    v_business loyalty._notice;
BEGIN
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    v_data := jsonb_strip_nulls(jsonb_build_object(
        'customer_name', v_customer.name, 'program_name', v_program.name, 'business_name', v_program.business_name,
        'reward_name', v_done.reward_name, 'redemption_id', v_done.redemption_id, 'reward_id', v_done.reward_id,
        'program_id', v_done.program_id, 'card_id', v_done.card_id, 'code', v_done.code, 'points', v_done.points,
        'balance_after', p_balance_after, 'cancelled_by', p_by));

    IF p_event = 'reward.redeemed' THEN
        v_told := ROW('REWARD_REDEEMED', format('You redeemed %s at %s', v_done.reward_name, v_program.name),
                      format('Show code %s at %s to get %s. %s points were deducted from your %s card; your balance '
                             'is %s points.', v_done.code, v_program.business_name, v_done.reward_name, v_done.points,
                             v_program.name, p_balance_after));
        v_business := ROW('REWARD_REDEEMED', format('%s redeemed %s', v_customer.name, v_done.reward_name),
                          format('%s redeemed %s for %s points of %s; code %s.', v_customer.name, v_done.reward_name,
                                 v_done.points, v_program.name, v_done.code));
    ELSIF p_event = 'redemption.fulfilled' THEN
        v_told := ROW('REDEMPTION_FULFILLED', format('Enjoy your %s', v_done.reward_name),
                      format('%s handed over %s (code %s).', v_program.business_name, v_done.reward_name,
                             v_done.code));
    ELSE
        v_told := ROW('REDEMPTION_CANCELLED', format('Your %s redemption was cancelled', v_done.reward_name),
                      format('%s%s points were refunded to your %s card; your balance is %s points.',
                             CASE WHEN p_by = 'BUSINESS' THEN v_program.business_name || ' cancelled it. ' END,
                             v_done.points, v_program.name, p_balance_after));
        IF p_by = 'CUSTOMER' THEN
            v_business := ROW('REDEMPTION_CANCELLED',
                              format('%s cancelled their %s redemption', v_customer.name, v_done.reward_name),
                              format('%s cancelled the redemption of %s (code %s); its %s points were refunded.',
                                     v_customer.name, v_done.reward_name, v_done.code, v_done.points));
        END IF;
    END IF;
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data, card_id)
    VALUES (p_customer_id, v_program.business_id, v_told.type, v_told.title, v_told.message, v_data, v_done.card_id);
    -- The business hears of what the customer did, on the customer's shard (one hop).
    IF v_business.type IS NOT NULL THEN
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data,
                                                    card_id)
        VALUES (p_customer_id, v_program.business_id, 'BUSINESS', v_business.type, v_business.title,
                v_business.message, v_data, v_done.card_id);
    END IF;

    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_program.business_id, p_event,
            v_data || jsonb_build_object('channels',
                                         loyalty._event_channels(v_customer.notification_preferences, 'rewards')));
    RETURN v_done;
END;
$$;


ALTER FUNCTION loyalty._redemption_changed(p_customer_id bigint, p_redemption_id uuid, p_event text, p_balance_after bigint, p_by text) OWNER TO loyalty_owner;

--
-- Name: _redemption_code(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._redemption_code(p_number bigint) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    AS $$
DECLARE
    c_alphabet constant text := 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
    c_mask     constant bigint := 549755813887;  -- 2^39 - 1
    v_group    bigint := p_number >> 48;
    v_count    bigint := p_number & 281474976710655;  -- 2^48 - 1
    v_x        bigint;
    v_code     text := '';
BEGIN
    IF p_number IS NULL OR p_number < 1 OR v_group > 127 OR v_count >= 4294967296 THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('No redemption code for number %s: codes need node groups up to 127 and at most '
                             '4294967295 redemptions a node', p_number);
    END IF;
    v_x := (v_group << 32) | v_count;
    -- Each step is a bijection of 39-bit numbers; products stay below 2^63.
    v_x := (v_x * 11400713) & c_mask;
    v_x := v_x # (v_x >> 20);
    v_x := (v_x * 7046029) & c_mask;
    v_x := v_x # (v_x >> 18);
    FOR i IN 1..8 LOOP
        v_code := substr(c_alphabet, (v_x % 31)::integer + 1, 1) || v_code;
        v_x := v_x / 31;
    END LOOP;
    RETURN v_code;
END;
$$;


ALTER FUNCTION loyalty._redemption_code(p_number bigint) OWNER TO loyalty_owner;

--
-- Name: _redemption_details(bigint, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._redemption_details(p_customer_id bigint, p_redemption_id uuid) RETURNS loyalty.redemption_details
    LANGUAGE plpgsql STABLE
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_done loyalty.redemption_details;
BEGIN
    SELECT d.id, d.customer_id, d.reward_id, r.name, d.program_id, d.card_id, d.points, d.code, d.status::text,
           d.created_at, d.decided_at
      INTO v_done
      FROM loyalty.redemptions AS d
      JOIN loyalty.rewards AS r ON r.id = d.reward_id
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN v_done;
END;
$$;


ALTER FUNCTION loyalty._redemption_details(p_customer_id bigint, p_redemption_id uuid) OWNER TO loyalty_owner;

--
-- Name: _refresh_business(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._refresh_business() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    UPDATE loyalty.businesses AS b SET name = NEW.name, email = NEW.email, updated_at = now() WHERE b.id = NEW.id;
    RETURN NULL;
END;
$$;


ALTER FUNCTION loyalty._refresh_business() OWNER TO loyalty_owner;

--
-- Name: _refuse_erased(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._refuse_erased(p_customer_id bigint) RETURNS void
    LANGUAGE plpgsql STABLE
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_erased_at timestamptz;
BEGIN
    SELECT x.erased_at INTO v_erased_at FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY019',
            MESSAGE = format('Customer %s was erased at %s: nothing is written for them again', p_customer_id,
                             to_char(v_erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
    END IF;
END;
$$;


ALTER FUNCTION loyalty._refuse_erased(p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: _register_program_business(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._register_program_business() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    -- A business that is no user stays missing: the program's foreign key then names it.
    INSERT INTO loyalty.businesses (id, name, email)
    SELECT u.id, u.name, u.email FROM loyalty.users AS u WHERE u.id = NEW.business_id
    ON CONFLICT (id) DO NOTHING;
    RETURN NEW;
END;
$$;


ALTER FUNCTION loyalty._register_program_business() OWNER TO loyalty_owner;

--
-- Name: _reject_locked_request(loyalty.customer_approval_requests, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_program         loyalty._program_info;
    v_customer_name   text;
    v_is_member       boolean;
    v_notification_id uuid;
    v_preferences     jsonb;
BEGIN
    v_program := loyalty._program_info(p_request.program_id);

    -- The person may not be a customer, nor even a user any more: name them as best we can.
    SELECT coalesce(
               (SELECT c.name FROM loyalty.customers AS c WHERE c.id = p_request.customer_id),
               (SELECT loyalty._display_name(u.id, u.name, u.email)
                  FROM loyalty.users AS u WHERE u.id = p_request.customer_id),
               loyalty._display_name(p_request.customer_id, NULL, NULL))
      INTO v_customer_name;

    -- Committed approvals of sibling requests are visible: the caller waited for their locks.
    v_is_member := EXISTS (SELECT FROM loyalty.program_enrollments AS e
                            WHERE e.customer_id = p_request.customer_id
                              AND e.program_id = p_request.program_id
                              AND e.status = 'ACTIVE');

    IF p_request.kind = 'INVITATION' THEN
        -- The customer declined: the business is told, by name (the customer knows already).
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, audience, type, title, message, data)
        VALUES (p_request.customer_id, p_request.business_id, 'BUSINESS', 'INVITATION_DECLINED',
                loyalty._other_side_title(false, v_customer_name, v_program.name),
                loyalty._other_side_message(false, v_customer_name, v_program.name, p_reason),
                jsonb_build_object('customer_name', v_customer_name, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'reason', p_reason,
                                   'request_id', p_request.id))
        RETURNING n.id INTO v_notification_id;
    ELSE
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data)
        VALUES (p_request.customer_id, p_request.business_id,
                CASE WHEN v_is_member THEN 'ENROLLMENT_REQUEST_CLOSED' ELSE 'ENROLLMENT_REJECTED' END,
                format('Your request to join %s', v_program.name),
                CASE WHEN v_is_member
                     THEN format('%s, you are already a member of %s at %s, so your new request to join was closed.',
                                 v_customer_name, v_program.name, v_program.business_name)
                     ELSE format('Sorry %s, %s did not approve your request to join %s.%s',
                                 v_customer_name, v_program.business_name, v_program.name,
                                 coalesce(' Reason: ' || p_reason, ''))
                END,
                jsonb_build_object('customer_name', v_customer_name,
                                   'program_name', v_program.name,
                                   'business_name', v_program.business_name,
                                   'reason', p_reason,
                                   'request_id', p_request.id))
        RETURNING n.id INTO v_notification_id;
    END IF;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.customer_id = p_request.customer_id AND n.id = p_request.notification_id;
    END IF;

    -- The event: a declined invitation tells the business; a rejection the customer, on the
    -- channels their preferences allow (defaults for a person who is no customer).
    SELECT c.notification_preferences INTO v_preferences FROM loyalty.customers AS c WHERE c.id = p_request.customer_id;
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_request.customer_id, p_request.business_id,
            CASE WHEN p_request.kind = 'INVITATION' THEN 'invitation.declined' ELSE 'enrollment.rejected' END,
            jsonb_strip_nulls(jsonb_build_object(
                'customer_name', v_customer_name, 'program_name', v_program.name,
                'business_name', v_program.business_name, 'request_id', p_request.id,
                'program_id', p_request.program_id, 'reason', p_reason,
                'channels', loyalty._event_channels(
                    v_preferences, CASE WHEN p_request.kind = 'INVITATION' THEN NULL ELSE 'system' END))));
    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'REJECTED', response_at = now(), rejection_reason = p_reason,
           customer_created = false, result_notification_id = v_notification_id
     WHERE r.customer_id = p_request.customer_id AND r.id = p_request.id;

    RETURN ROW(p_request.id, 'REJECTED', p_request.customer_id, p_request.program_id, NULL,
               NULL, NULL, false, v_notification_id)::loyalty.enrollment_result;
END;
$$;


ALTER FUNCTION loyalty._reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text) OWNER TO loyalty_owner;

--
-- Name: _request_customer(uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._request_customer(p_request_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN substr(encode(uuid_send(p_request_id), 'hex'), 13, 1) = '8'
                 AND substr(encode(uuid_send(p_request_id), 'hex'), 17, 1) IN ('8', '9', 'a', 'b')
                 AND substr(encode(uuid_send(p_request_id), 'hex'), 19, 1) = 'c'
                THEN ('x' || substr(encode(uuid_send(p_request_id), 'hex'), 1, 12)
                          || substr(encode(uuid_send(p_request_id), 'hex'), 14, 3)
                          || substr(encode(uuid_send(p_request_id), 'hex'), 18, 1))::bit(64)::bigint
           END
$$;


ALTER FUNCTION loyalty._request_customer(p_request_id uuid) OWNER TO loyalty_owner;

--
-- Name: _request_id(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._request_id(p_customer_id bigint) RETURNS uuid
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_customer text := lpad(to_hex(p_customer_id), 16, '0');
    v_random   text := replace(gen_random_uuid()::text, '-', '');
BEGIN
    RETURN (substr(v_customer, 1, 12) || '8' || substr(v_customer, 13, 3)
            || substr('89ab', 1 + ascii(substr(v_random, 1, 1)) % 4, 1)
            || substr(v_customer, 16, 1) || 'c' || substr(v_random, 2, 13))::uuid;
END;
$$;


ALTER FUNCTION loyalty._request_id(p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: _share_lock_timeout(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._share_lock_timeout() RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF current_setting('lock_timeout') <> '0' THEN
        PERFORM set_config('citus.propagate_set_commands', 'local', true);
        -- A utility statement, not set_config(): Citus propagates what passes its utility hook.
        EXECUTE format('SET LOCAL lock_timeout = %L', current_setting('lock_timeout'));
    END IF;
END;
$$;


ALTER FUNCTION loyalty._share_lock_timeout() OWNER TO loyalty_owner;

--
-- Name: _stored_result(loyalty.customer_approval_requests); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._stored_result(p_request loyalty.customer_approval_requests) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN ROW(p_request.id, p_request.status, p_request.customer_id, p_request.program_id, p_request.enrollment_id,
               p_request.card_id,
               (SELECT k.card_number FROM loyalty.loyalty_cards AS k
                 WHERE k.customer_id = p_request.customer_id AND k.id = p_request.card_id),
               coalesce(p_request.customer_created, false), p_request.result_notification_id)::loyalty.enrollment_result;
END;
$$;


ALTER FUNCTION loyalty._stored_result(p_request loyalty.customer_approval_requests) OWNER TO loyalty_owner;

--
-- Name: _trim_space(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty._trim_space(p_text text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$
    SELECT btrim(p_text, E' \t\n\r\x0B\f')
$$;


ALTER FUNCTION loyalty._trim_space(p_text text) OWNER TO loyalty_owner;

--
-- Name: accept_invitation(uuid, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.accept_invitation(p_request_id uuid, p_customer_id bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN loyalty._answer_invitation(p_request_id, p_customer_id, true, NULL);
END;
$$;


ALTER FUNCTION loyalty.accept_invitation(p_request_id uuid, p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: ack_events(text, bigint[]); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_acked integer;
BEGIN
    DELETE FROM loyalty.event_deliveries AS d
     WHERE d.consumer = p_consumer AND d.event_id = ANY (p_event_ids);
    GET DIAGNOSTICS v_acked = ROW_COUNT;
    RETURN v_acked;
END;
$$;


ALTER FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[]) OWNER TO loyalty_owner;

--
-- Name: adjust_points(bigint, bigint, integer, text, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.adjust_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_note text, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', true);
    IF length(p_note) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('note must be at most 1000 characters, not %s', length(p_note));
    END IF;
    RETURN loyalty._change_points(p_customer_id, p_program_id, p_points, 'ADJUST', p_idempotency_key,
                                  p_business_id, NULL, p_note);
END;
$$;


ALTER FUNCTION loyalty.adjust_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_note text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: answer_points_deduction(uuid, bigint, boolean); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.answer_points_deduction(p_request_id uuid, p_customer_id bigint, p_approved boolean) RETURNS loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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


ALTER FUNCTION loyalty.answer_points_deduction(p_request_id uuid, p_customer_id bigint, p_approved boolean) OWNER TO loyalty_owner;

--
-- Name: approve_enrollment(uuid, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.approve_enrollment(p_request_id uuid, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, true, NULL, p_business_id);
END;
$$;


ALTER FUNCTION loyalty.approve_enrollment(p_request_id uuid, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: begin_events_wait(double precision); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.begin_events_wait(p_timeout double precision DEFAULT 30) RETURNS double precision
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_seen text := nullif(current_setting('loyalty.events_seen', true), '');
BEGIN
    IF p_timeout IS NULL OR p_timeout NOT BETWEEN 0 AND 86400 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('timeout must be from 0 to 86400 seconds, not %s', p_timeout);
    END IF;
    IF loyalty._distributed() THEN
        RETURN nullif(least(p_timeout, 0.5::double precision), 0);
    END IF;
    -- The wake-up lock, held by this session until end_events_wait (once, however often called).
    -- Taking it waits for every transaction that wrote events without notifying.
    IF current_setting('loyalty.events_waiting', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('lock_timeout', greatest(1, ceil(p_timeout * 1000))::bigint || 'ms', true);
        BEGIN
            PERFORM pg_advisory_lock(loyalty._events_wake_key());
        EXCEPTION WHEN lock_not_available THEN
            RETURN NULL;
        END;
        PERFORM set_config('loyalty.events_waiting', 'on', false);
    END IF;
    -- Anything committed since the last end_events_wait: those transactions did not all notify.
    BEGIN
        IF v_seen IS NULL
           OR EXISTS (SELECT 1 FROM loyalty._events_between(v_seen::pg_snapshot, pg_current_snapshot())) THEN
            PERFORM loyalty.end_events_wait();
            RETURN 0::double precision;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Never leave the lock held by a failed call (every write would notify until the end).
        PERFORM loyalty.end_events_wait();
        RAISE;
    END;
    IF p_timeout = 0 THEN
        PERFORM loyalty.end_events_wait();
        RETURN NULL;
    END IF;
    RETURN p_timeout;
END;
$$;


ALTER FUNCTION loyalty.begin_events_wait(p_timeout double precision) OWNER TO loyalty_owner;

--
-- Name: block_card(bigint, bigint, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.block_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;


ALTER FUNCTION loyalty.block_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: business_notifications(bigint, boolean, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.business_notifications(p_business_id bigint, p_unread_only boolean DEFAULT false, p_limit integer DEFAULT 50, p_before uuid DEFAULT NULL::uuid) RETURNS SETOF loyalty.notification
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN QUERY SELECT * FROM loyalty._notification_page('BUSINESS', p_business_id, p_unread_only, p_limit, p_before);
END;
$$;


ALTER FUNCTION loyalty.business_notifications(p_business_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) OWNER TO loyalty_owner;

--
-- Name: cancel_redemption(bigint, uuid, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.cancel_redemption(p_customer_id bigint, p_redemption_id uuid, p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.redemption_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_found  loyalty.redemptions;
    v_refund loyalty.point_result;
BEGIN
    IF p_customer_id IS NULL OR p_redemption_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and redemption_id must not be NULL';
    END IF;
    -- Every decision on one redemption is serialised here; a waiter sees the decided row.
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('Redemption %s is not one of customer %s''s', p_redemption_id, p_customer_id);
    ELSIF p_business_id IS NOT NULL AND p_business_id <> v_found.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not cancel redemption %s: it is another business''s', p_business_id,
                             p_redemption_id);
    ELSIF v_found.status = 'FULFILLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was fulfilled; it cannot be cancelled', p_redemption_id,
                             v_found.code);
    ELSIF v_found.status = 'CANCELLED' THEN
        RETURN NEXT loyalty._redemption_details(p_customer_id, p_redemption_id);
        RETURN;
    END IF;
    v_refund := loyalty._change_points(p_customer_id, v_found.program_id, v_found.points, 'REFUND',
                                       'refund:' || p_redemption_id, NULL, 'redemption:' || p_redemption_id, NULL);
    -- A limited stock gets its item back (on a cluster a write of every node; none for unlimited).
    IF (SELECT r.stock FROM loyalty.rewards AS r WHERE r.id = v_found.reward_id) IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock + 1, updated_at = now() WHERE r.id = v_found.reward_id;
    END IF;
    UPDATE loyalty.redemptions AS d
       SET status = 'CANCELLED', decided_at = now(), refund_id = v_refund.transaction_id,
           cancelled_by = CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN NEXT loyalty._redemption_changed(p_customer_id, p_redemption_id, 'redemption.cancelled',
                                            v_refund.balance_after,
                                            CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END);
END;
$$;


ALTER FUNCTION loyalty.cancel_redemption(p_customer_id bigint, p_redemption_id uuid, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: card_transactions(bigint, bigint, integer, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.card_transactions(p_customer_id bigint, p_program_id bigint, p_limit integer DEFAULT 50, p_before bigint DEFAULT NULL::bigint) RETURNS TABLE(transaction_id bigint, points integer, balance_after integer, reason text, reference text, note text, reverses_id bigint, created_at timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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


ALTER FUNCTION loyalty.card_transactions(p_customer_id bigint, p_program_id bigint, p_limit integer, p_before bigint) OWNER TO loyalty_owner;

--
-- Name: create_program(bigint, text, integer, interval, interval); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.create_program(p_business_id bigint, p_name text, p_welcome_points integer DEFAULT 0, p_request_ttl interval DEFAULT '7 days'::interval, p_points_ttl interval DEFAULT NULL::interval) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_id bigint;
BEGIN
    IF p_name IS NULL OR loyalty._trim_space(p_name) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a program needs a name, not none';
    ELSIF p_welcome_points IS NULL OR p_welcome_points < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('welcome_points must be 0 or more, not %s', coalesce(p_welcome_points::text, 'NULL'));
    ELSIF p_request_ttl <= interval '0' OR p_points_ttl <= interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a TTL is positive or NULL (never), not %s', coalesce(p_request_ttl::text, '') || ' '
                             || coalesce(p_points_ttl::text, ''));
    END IF;
    PERFORM loyalty.register_business(p_business_id);
    INSERT INTO loyalty.loyalty_programs AS g (business_id, name, welcome_points, request_ttl, points_ttl)
    VALUES (p_business_id, p_name, p_welcome_points, p_request_ttl, p_points_ttl)
    RETURNING g.id INTO v_id;
    RETURN v_id;
END;
$$;


ALTER FUNCTION loyalty.create_program(p_business_id bigint, p_name text, p_welcome_points integer, p_request_ttl interval, p_points_ttl interval) OWNER TO loyalty_owner;

--
-- Name: create_reward(bigint, bigint, text, integer, integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.create_reward(p_business_id bigint, p_program_id bigint, p_name text, p_points_cost integer, p_stock integer DEFAULT NULL::integer) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_program loyalty._program_info;
    v_id      bigint;
BEGIN
    IF p_name IS NULL OR p_points_cost IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a reward needs a name and a points_cost, not NULL';
    END IF;
    PERFORM loyalty._check_reward(p_name, p_points_cost, p_stock, NULL);
    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF p_business_id IS DISTINCT FROM v_program.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not add rewards to program %s: it is another business''s',
                             p_business_id, p_program_id);
    END IF;
    INSERT INTO loyalty.rewards AS r (program_id, business_id, name, points_cost, stock)
    VALUES (p_program_id, p_business_id, loyalty._trim_space(p_name), p_points_cost, p_stock)
    RETURNING r.id INTO v_id;
    RETURN v_id;
END;
$$;


ALTER FUNCTION loyalty.create_reward(p_business_id bigint, p_program_id bigint, p_name text, p_points_cost integer, p_stock integer) OWNER TO loyalty_owner;

--
-- Name: customer_cards(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.customer_cards(p_customer_id bigint) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id ORDER BY d.id;
END;
$$;


ALTER FUNCTION loyalty.customer_cards(p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: customer_notifications(bigint, boolean, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.customer_notifications(p_customer_id bigint, p_unread_only boolean DEFAULT false, p_limit integer DEFAULT 50, p_before uuid DEFAULT NULL::uuid) RETURNS SETOF loyalty.notification
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN QUERY SELECT * FROM loyalty._notification_page('CUSTOMER', p_customer_id, p_unread_only, p_limit, p_before);
END;
$$;


ALTER FUNCTION loyalty.customer_notifications(p_customer_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) OWNER TO loyalty_owner;

--
-- Name: decide_enrollment(bigint, uuid, boolean, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.decide_enrollment(p_customer_id bigint, p_request_id uuid, p_approved boolean DEFAULT true, p_reason text DEFAULT NULL::text, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF p_customer_id IS NULL OR p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id, request id and approved must not be NULL';
    END IF;
    RETURN loyalty._decide_request(p_customer_id, p_request_id, p_approved, p_reason, p_business_id);
END;
$$;


ALTER FUNCTION loyalty.decide_enrollment(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: decline_invitation(uuid, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text DEFAULT NULL::text) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN loyalty._answer_invitation(p_request_id, p_customer_id, false, p_reason);
END;
$$;


ALTER FUNCTION loyalty.decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text) OWNER TO loyalty_owner;

--
-- Name: drop_event_consumer(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.drop_event_consumer(p_consumer text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF p_consumer IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a consumer name is required, not NULL';
    END IF;
    PERFORM FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM loyalty.event_deliveries AS d WHERE d.consumer = p_consumer;
    DELETE FROM loyalty.event_consumers AS c WHERE c.name = p_consumer;
    RETURN true;
END;
$$;


ALTER FUNCTION loyalty.drop_event_consumer(p_consumer text) OWNER TO loyalty_owner;

--
-- Name: earn_points(bigint, bigint, integer, text, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.earn_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint DEFAULT NULL::bigint, p_reference text DEFAULT NULL::text) RETURNS loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', false);
    RETURN loyalty._change_points(p_customer_id, p_program_id, p_points, 'EARN', p_idempotency_key,
                                  p_business_id, p_reference, NULL);
END;
$$;


ALTER FUNCTION loyalty.earn_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) OWNER TO loyalty_owner;

--
-- Name: earn_points_batch(bigint[], bigint[], integer[], text[], bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.earn_points_batch(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_count   integer := coalesce(cardinality(p_customer_ids), 0);
    v_entry   record;
    v_results loyalty.point_result[];
BEGIN
    IF v_count IS DISTINCT FROM cardinality(p_program_ids) OR v_count IS DISTINCT FROM cardinality(p_points)
       OR v_count IS DISTINCT FROM cardinality(p_idempotency_keys) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('the four arrays must have one element an entry: %s customers, %s programs, %s points, %s keys',
                             cardinality(p_customer_ids), cardinality(p_program_ids), cardinality(p_points),
                             cardinality(p_idempotency_keys));
    END IF;
    IF v_count > 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('a batch holds at most 10000 entries, not %s', v_count);
    END IF;
    -- The set-based path when every entry simply writes (one server); else one entry at a time.
    IF v_count > 0 AND NOT loyalty._distributed() THEN
        v_results := loyalty._earn_points_set(p_customer_ids, p_program_ids, p_points, p_idempotency_keys,
                                              p_business_id);
        IF v_results IS NOT NULL THEN
            RETURN QUERY SELECT * FROM unnest(v_results);
            RETURN;
        END IF;
    END IF;
    v_results := array_fill(NULL::loyalty.point_result, ARRAY[v_count]);
    -- One block around the loop (not one an entry: a subtransaction each would cost every
    -- entry), so an error names the entry it happened in (v_entry keeps it).
    BEGIN
        FOR v_entry IN
            SELECT f.*
              FROM unnest(p_customer_ids, p_program_ids, p_points, p_idempotency_keys) WITH ORDINALITY
                   AS f (customer_id, program_id, points, idempotency_key, position)
             ORDER BY f.customer_id, f.program_id, f.position
        LOOP
            PERFORM loyalty._check_points(v_entry.points, 'points', false);
            v_results[v_entry.position] := loyalty._change_points(v_entry.customer_id, v_entry.program_id,
                                                                  v_entry.points, 'EARN', v_entry.idempotency_key,
                                                                  p_business_id, NULL, NULL);
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = SQLSTATE,
            MESSAGE = format('entry %s (customer %s, program %s): %s', v_entry.position, v_entry.customer_id,
                             v_entry.program_id, SQLERRM);
    END;
    RETURN QUERY SELECT * FROM unnest(v_results);
END;
$$;


ALTER FUNCTION loyalty.earn_points_batch(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: end_events_wait(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.end_events_wait() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM set_config('loyalty.events_seen', pg_current_snapshot()::text, false);
    IF current_setting('loyalty.events_waiting', true) = 'on' THEN
        PERFORM pg_advisory_unlock(loyalty._events_wake_key());
        PERFORM set_config('loyalty.events_waiting', 'off', false);
    END IF;
END;
$$;


ALTER FUNCTION loyalty.end_events_wait() OWNER TO loyalty_owner;

--
-- Name: ensure_customer(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.ensure_customer(p_user_id bigint) RETURNS loyalty.customer_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_customer loyalty.customer_result;
BEGIN
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    v_customer := loyalty._ensure_customer(p_user_id);
    -- A customer made here is published (an approval publishes its own with its other events).
    IF v_customer.created THEN
        INSERT INTO loyalty.events (customer_id, type, payload)
        VALUES (v_customer.id, 'customer.created',
                jsonb_build_object('customer_name', v_customer.name, 'email', v_customer.email));
    END IF;
    RETURN v_customer;
END;
$$;


ALTER FUNCTION loyalty.ensure_customer(p_user_id bigint) OWNER TO loyalty_owner;

--
-- Name: ensure_customer_exists(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.ensure_customer_exists(p_user_id bigint) RETURNS bigint
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
    SELECT (loyalty.ensure_customer(p_user_id)).id
$$;


ALTER FUNCTION loyalty.ensure_customer_exists(p_user_id bigint) OWNER TO loyalty_owner;

--
-- Name: erase_customer(bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.erase_customer(p_customer_id bigint, p_requested_by text) RETURNS TABLE(table_name text, rows_changed integer)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    c_tables constant text[] := ARRAY['users', 'customers', 'program_enrollments', 'loyalty_cards', 'card_aliases',
                                      'customer_business_relationships', 'point_transactions',
                                      'customer_approval_requests', 'points_deductions', 'customer_notifications',
                                      'events', 'erased_customers'];
    v_counts integer[] := array_fill(0, ARRAY[12]);
    v_user   boolean;
    v_n      integer;
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id must not be NULL';
    ELSIF p_requested_by IS NULL OR length(loyalty._trim_space(p_requested_by)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'requested_by must say who asked for the erasure (1 to 200 characters)';
    END IF;
    -- The user's row lock serialises erasures of one customer with each other and with the
    -- creation of their customer row (which takes it KEY SHARE).
    PERFORM FROM loyalty.users AS u WHERE u.id = p_customer_id FOR UPDATE;
    v_user := FOUND;
    IF EXISTS (SELECT FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id) THEN
        RETURN QUERY SELECT t.name, 0 FROM unnest(c_tables) AS t (name);
        RETURN;
    END IF;
    IF NOT v_user AND NOT EXISTS (SELECT FROM loyalty.customers AS c WHERE c.id = p_customer_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY003',
            MESSAGE = format('No user or customer %s: nothing to erase', p_customer_id);
    END IF;

    UPDATE loyalty.users AS u SET name = NULL, email = NULL WHERE u.id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[1] := v_n;
    UPDATE loyalty.customers AS c
       SET name = 'Erased customer', email = NULL, phone = NULL, notification_preferences = DEFAULT,
           regional_settings = DEFAULT, updated_at = now()
     WHERE c.id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[2] := v_n;
    UPDATE loyalty.program_enrollments AS e SET status = 'INACTIVE', updated_at = now()
     WHERE e.customer_id = p_customer_id AND e.status <> 'INACTIVE';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[3] := v_n;
    -- A number from a range nothing issues (loyaltydb's start with 1, 8 or 9), unique as the id.
    UPDATE loyalty.loyalty_cards AS k
       SET status = 'INACTIVE', blocked_reason = NULL, updated_at = now(),
           card_number = '7' || lpad(k.id::text, 18, '0') || loyalty._luhn_check_digit('7' || lpad(k.id::text, 18, '0'))
     WHERE k.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[4] := v_n;
    DELETE FROM loyalty.card_aliases AS a WHERE a.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[5] := v_n;
    UPDATE loyalty.customer_business_relationships AS r SET status = 'INACTIVE', updated_at = now()
     WHERE r.customer_id = p_customer_id AND r.status <> 'INACTIVE';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[6] := v_n;
    UPDATE loyalty.point_transactions AS t SET reference = NULL, note = NULL
     WHERE t.customer_id = p_customer_id AND (t.reference IS NOT NULL OR t.note IS NOT NULL);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[7] := v_n;
    UPDATE loyalty.customer_approval_requests AS r SET message = NULL, rejection_reason = NULL
     WHERE r.customer_id = p_customer_id AND (r.message IS NOT NULL OR r.rejection_reason IS NOT NULL);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[8] := v_n;
    UPDATE loyalty.points_deductions AS d SET reason = ''
     WHERE d.customer_id = p_customer_id AND d.reason <> '';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[9] := v_n;
    UPDATE loyalty.customer_notifications AS n
       SET title = 'Erased', message = 'This notification concerned a customer whose data was erased.',
           data = loyalty._erased_json(n.data)
     WHERE n.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[10] := v_n;
    UPDATE loyalty.events AS v SET payload = loyalty._erased_json(v.payload) WHERE v.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[11] := v_n;
    INSERT INTO loyalty.erased_customers (customer_id, requested_by) VALUES (p_customer_id, p_requested_by);
    v_counts[12] := 1;
    INSERT INTO loyalty.events (customer_id, type, payload)
    VALUES (p_customer_id, 'customer.erased', jsonb_build_object('customer_id', p_customer_id));
    RETURN QUERY SELECT t.name, v_counts[t.n::integer] FROM unnest(c_tables) WITH ORDINALITY AS t (name, n);
END;
$$;


ALTER FUNCTION loyalty.erase_customer(p_customer_id bigint, p_requested_by text) OWNER TO loyalty_owner;

--
-- Name: event_consumer_status(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.event_consumer_status() RETURNS TABLE(consumer text, registered_at timestamp with time zone, last_fetch_at timestamp with time zone, unacked bigint, oldest_unacked_at timestamp with time zone, holds_back_since timestamp with time zone)
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_consumer record;
    v_oldest   record;
BEGIN
    FOR v_consumer IN
        SELECT c.name, c.registered_at, c.updated_at,
               (SELECT count(*) FROM loyalty.event_deliveries AS d WHERE d.consumer = c.name) AS unacked
          FROM loyalty.event_consumers AS c
         ORDER BY c.name
    LOOP
        -- The oldest queued event by its id, then its time by (customer, id): one shard on a cluster.
        SELECT e.occurred_at INTO v_oldest
          FROM (SELECT d.customer_id, d.event_id FROM loyalty.event_deliveries AS d
                 WHERE d.consumer = v_consumer.name ORDER BY d.event_id LIMIT 1) AS q
          JOIN loyalty.events AS e ON e.customer_id = q.customer_id AND e.id = q.event_id;
        consumer := v_consumer.name;
        registered_at := v_consumer.registered_at;
        last_fetch_at := v_consumer.updated_at;
        unacked := v_consumer.unacked;
        oldest_unacked_at := v_oldest.occurred_at;
        holds_back_since := least(v_consumer.updated_at, v_oldest.occurred_at);
        RETURN NEXT;
    END LOOP;
END;
$$;


ALTER FUNCTION loyalty.event_consumer_status() OWNER TO loyalty_owner;

--
-- Name: expire_points(integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.expire_points(p_limit integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
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
           -- An erased customer's points change no more (0041): never picked, so never in the way.
           AND NOT EXISTS (SELECT FROM loyalty.erased_customers AS x WHERE x.customer_id = t.customer_id)
         ORDER BY t.created_at, t.customer_id, t.id
         LIMIT p_limit
    LOOP
        PERFORM loyalty._lock_card(v_due.customer_id, v_due.program_id, NULL);
        SELECT t.points - t.consumed INTO v_left FROM loyalty.point_transactions AS t
         WHERE t.customer_id = v_due.customer_id AND t.id = v_due.id;
        IF v_left > 0 THEN
            -- (A replay wrote nothing: not counted, so a caller looping until less than p_limit
            -- comes back can never loop on it.)
            IF NOT (loyalty._change_points(v_due.customer_id, v_due.program_id, -v_left, 'EXPIRE',
                                           'expire:' || v_due.id, NULL, NULL, NULL)).replayed THEN
                v_expired := v_expired + 1;
            END IF;
        END IF;
    END LOOP;
    RETURN v_expired;
END;
$$;


ALTER FUNCTION loyalty.expire_points(p_limit integer) OWNER TO loyalty_owner;

--
-- Name: expire_requests(integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.expire_requests(p_limit integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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


ALTER FUNCTION loyalty.expire_requests(p_limit integer) OWNER TO loyalty_owner;

--
-- Name: export_customer(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.export_customer(p_customer_id bigint) RETURNS jsonb
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_document jsonb;
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id must not be NULL';
    END IF;
    SELECT jsonb_build_object(
               'customer_id', p_customer_id,
               'exported_at', now(),
               'user', (SELECT to_jsonb(u) FROM loyalty.users AS u WHERE u.id = p_customer_id),
               'customer', (SELECT to_jsonb(c) FROM loyalty.customers AS c WHERE c.id = p_customer_id),
               'erased', (SELECT to_jsonb(x) FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id),
               'enrollments', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.id), '[]')
                                 FROM loyalty.program_enrollments AS e WHERE e.customer_id = p_customer_id),
               'cards', (SELECT coalesce(jsonb_agg(to_jsonb(k) ORDER BY k.id), '[]')
                           FROM loyalty.loyalty_cards AS k WHERE k.customer_id = p_customer_id),
               'card_aliases', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.card_number), '[]')
                                  FROM loyalty.card_aliases AS a WHERE a.customer_id = p_customer_id),
               'relationships', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]')
                                   FROM loyalty.customer_business_relationships AS r WHERE r.customer_id = p_customer_id),
               'ledger', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]')
                            FROM loyalty.point_transactions AS t WHERE t.customer_id = p_customer_id),
               'redemptions', (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.created_at, d.id), '[]')
                                 FROM loyalty.redemptions AS d WHERE d.customer_id = p_customer_id),
               'requests', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.requested_at, r.id), '[]')
                              FROM loyalty.customer_approval_requests AS r WHERE r.customer_id = p_customer_id),
               'deduction_requests', (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.requested_at, d.id), '[]')
                                        FROM loyalty.points_deductions AS d WHERE d.customer_id = p_customer_id),
               'notifications', (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.created_at, n.id), '[]')
                                   FROM loyalty.customer_notifications AS n WHERE n.customer_id = p_customer_id),
               'events', (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.id), '[]')
                            FROM loyalty.events AS v WHERE v.customer_id = p_customer_id))
      INTO v_document;
    IF v_document -> 'user' = 'null'::jsonb AND v_document -> 'customer' = 'null'::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'LY003',
            MESSAGE = format('No user or customer %s: nothing is held about that id', p_customer_id);
    END IF;
    RETURN v_document;
END;
$$;


ALTER FUNCTION loyalty.export_customer(p_customer_id bigint) OWNER TO loyalty_owner;

--
-- Name: fetch_events(text, integer, double precision); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.fetch_events(p_consumer text, p_limit integer DEFAULT 100, p_visibility_timeout double precision DEFAULT 30) RETURNS SETOF loyalty.event
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    v_position pg_snapshot;
BEGIN
    IF p_consumer IS NULL OR p_consumer !~ '^[A-Za-z0-9_.:-]{1,100}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a consumer name is 1 to 100 letters, digits or _ . : -, not %s', coalesce(quote_literal(p_consumer), 'NULL'));
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 10000, not %s', p_limit);
    END IF;
    IF p_visibility_timeout IS NULL OR p_visibility_timeout NOT BETWEEN 0 AND 86400 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('visibility_timeout must be from 0 to 86400 seconds, not %s', p_visibility_timeout);
    END IF;
    IF loyalty._distributed() THEN
        PERFORM loyalty._queue_events_on_nodes(p_consumer);
    ELSE
        -- The first fetch registers the consumer at the current snapshot.
        INSERT INTO loyalty.event_consumers AS c (name, position)
        VALUES (p_consumer, loyalty._position_now())
        ON CONFLICT (name) DO NOTHING;
        -- One worker at a time moves the position (a statement of its own, so the snapshot below
        -- is taken after the lock: it is never older than the position another worker just stored).
        SELECT c.position INTO STRICT v_position FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
        WITH moved AS (
            UPDATE loyalty.event_consumers AS c
               SET position = loyalty._position_now(), updated_at = now()
             WHERE c.name = p_consumer
            RETURNING c.position
        )
        INSERT INTO loyalty.event_deliveries (consumer, customer_id, event_id)
        SELECT p_consumer, e.customer_id, e.id
          FROM moved, loyalty._events_between(v_position, moved.position) AS e
        ON CONFLICT DO NOTHING;
    END IF;
    -- Claim: the oldest queued events no worker holds, held until the timeout.
    RETURN QUERY
        WITH claimed AS (
            UPDATE loyalty.event_deliveries AS d
               SET visible_at = clock_timestamp() + make_interval(secs => p_visibility_timeout),
                   deliveries = d.deliveries + 1
              FROM (SELECT q.consumer, q.event_id
                      FROM loyalty.event_deliveries AS q
                     WHERE q.consumer = p_consumer AND q.visible_at <= clock_timestamp()
                     ORDER BY q.event_id
                     LIMIT p_limit
                       FOR UPDATE SKIP LOCKED) AS q
             WHERE d.consumer = q.consumer AND d.event_id = q.event_id
            RETURNING d.customer_id, d.event_id
        )
        SELECT e.id, e.type, e.customer_id, e.business_id, e.occurred_at, e.payload
          FROM claimed
          JOIN loyalty.events AS e ON e.customer_id = claimed.customer_id AND e.id = claimed.event_id
         ORDER BY e.id;
END;
$_$;


ALTER FUNCTION loyalty.fetch_events(p_consumer text, p_limit integer, p_visibility_timeout double precision) OWNER TO loyalty_owner;

--
-- Name: find_card(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.find_card(p_card_number text) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.card_number = p_card_number;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT d.*
              FROM loyalty.card_aliases AS a
              JOIN loyalty.card_details AS d ON d.customer_id = a.customer_id AND d.id = a.card_id
             WHERE a.card_number = p_card_number;
    END IF;
END;
$$;


ALTER FUNCTION loyalty.find_card(p_card_number text) OWNER TO loyalty_owner;

--
-- Name: fulfil_redemption(bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text) RETURNS SETOF loyalty.redemption_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_code  text := upper(translate(p_code, E' -\t', ''));
    v_found loyalty.redemptions;
BEGIN
    IF p_business_id IS NULL OR p_code IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business_id and code must not be NULL';
    END IF;
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d WHERE d.code = v_code AND d.business_id = p_business_id;
    IF FOUND THEN
        -- Every decision on one redemption is serialised here; a waiter sees the decided row.
        SELECT d.* INTO v_found FROM loyalty.redemptions AS d
         WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id
           FOR UPDATE;
    END IF;
    IF v_found.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('No redemption with code %s in the programs of business %s', quote_literal(v_code),
                             p_business_id);
    ELSIF v_found.status = 'CANCELLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was cancelled; it cannot be fulfilled', v_found.id, v_code);
    ELSIF v_found.status = 'FULFILLED' THEN
        RETURN NEXT loyalty._redemption_details(v_found.customer_id, v_found.id);
        RETURN;
    END IF;
    UPDATE loyalty.redemptions AS d SET status = 'FULFILLED', decided_at = now()
     WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id;
    RETURN NEXT loyalty._redemption_changed(v_found.customer_id, v_found.id, 'redemption.fulfilled', NULL);
END;
$$;


ALTER FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text) OWNER TO loyalty_owner;

--
-- Name: invite_customer(bigint, bigint, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.invite_customer(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_message text DEFAULT NULL::text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_program         loyalty._program_info;
    v_customer_name   text;
    v_request_id      uuid;
    v_notification_id uuid;
    v_preferences     jsonb;
BEGIN
    IF p_business_id IS NULL OR p_customer_id IS NULL OR p_program_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business id, customer id and program id must not be NULL';
    END IF;
    -- Capped like a request's message: it is stored and shown to the customer.
    IF length(p_message) > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY010',
            MESSAGE = format('An invitation message may be at most 1000 characters; this one has %s', length(p_message));
    END IF;
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;

    v_program := loyalty._active_program(p_program_id, p_business_id);
    PERFORM loyalty._refuse_erased(p_customer_id);  -- 0041: an erased customer is invited no more

    SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_customer_name
      FROM loyalty.users AS u
     WHERE u.id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot invite.', p_customer_id);
    END IF;

    -- The person's channels (Citus plans no subquery inside an INSERT: read them first).
    SELECT c.notification_preferences INTO v_preferences FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    -- An overdue invitation still PENDING (not swept yet) makes way for the new one, expired.
    WITH expired AS (
        UPDATE loyalty.customer_approval_requests AS r
           SET status = 'EXPIRED', response_at = now()
         WHERE r.customer_id = p_customer_id AND r.program_id = p_program_id
           AND r.kind = 'INVITATION' AND r.status = 'PENDING' AND r.expires_at <= now()
        RETURNING r.id
    )
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    SELECT p_customer_id, p_business_id, 'request.expired',
           jsonb_build_object('customer_name', v_customer_name, 'program_name', v_program.name,
                              'business_name', v_program.business_name, 'request_id', expired.id,
                              'program_id', p_program_id, 'kind', 'INVITATION',
                              'channels', loyalty._event_channels(v_preferences, 'system'))
      FROM expired;

    -- The row first, so that a concurrent invitation waits here and then returns this one.
    INSERT INTO loyalty.customer_approval_requests AS r
           (id, customer_id, program_id, business_id, kind, message, expires_at)
    VALUES (loyalty._request_id(p_customer_id), p_customer_id, p_program_id, p_business_id, 'INVITATION',
            p_message, now() + v_program.request_ttl)
    ON CONFLICT (customer_id, program_id) WHERE kind = 'INVITATION' AND status = 'PENDING' DO NOTHING
    RETURNING r.id INTO v_request_id;
    IF NOT FOUND THEN
        SELECT r.id INTO STRICT v_request_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.customer_id = p_customer_id AND r.program_id = p_program_id
           AND r.kind = 'INVITATION' AND r.status = 'PENDING';
        RETURN v_request_id;
    END IF;

    -- The customer's to answer: it names the business and the program.
    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, requires_action)
    VALUES (p_customer_id, p_business_id, 'ENROLLMENT_INVITATION',
            format('%s invites you to %s', v_program.business_name, v_program.name),
            format('%s would like to enroll you in %s. Would you like to join?',
                   v_program.business_name, v_program.name),
            jsonb_build_object('request_id', v_request_id,
                               'customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'message', p_message),
            true)
    RETURNING n.id INTO v_notification_id;
    UPDATE loyalty.customer_approval_requests AS r
       SET notification_id = v_notification_id
     WHERE r.customer_id = p_customer_id AND r.id = v_request_id;

    -- The event: the customer is invited, on the channels their preferences allow for promotions.
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, p_business_id, 'invitation.sent',
            jsonb_strip_nulls(jsonb_build_object(
                'customer_name', v_customer_name, 'program_name', v_program.name,
                'business_name', v_program.business_name, 'request_id', v_request_id,
                'program_id', p_program_id, 'message', p_message,
                'channels', loyalty._event_channels(v_preferences, 'promotions'))));
    RETURN v_request_id;
END;
$$;


ALTER FUNCTION loyalty.invite_customer(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_message text) OWNER TO loyalty_owner;

--
-- Name: leave_program(bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;


ALTER FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint) OWNER TO loyalty_owner;

--
-- Name: mark_notifications_read(uuid[], bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.mark_notifications_read(p_notification_ids uuid[], p_customer_id bigint DEFAULT NULL::bigint, p_business_id bigint DEFAULT NULL::bigint) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_marked integer;
BEGIN
    IF p_notification_ids IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'notification ids must not be NULL';
    END IF;
    IF array_ndims(p_notification_ids) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'notification ids must be a one-dimensional array';
    END IF;
    IF cardinality(p_notification_ids) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('at most 1000 notification ids at once, not %s', cardinality(p_notification_ids));
    END IF;
    IF (p_customer_id IS NULL) = (p_business_id IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of customer id and business id';
    END IF;

    IF p_customer_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET is_read = true
         WHERE n.customer_id = p_customer_id AND n.id = ANY (p_notification_ids)
           AND n.audience = 'CUSTOMER' AND NOT n.is_read;
    ELSE
        UPDATE loyalty.customer_notifications AS n
           SET is_read = true
         WHERE n.business_id = p_business_id AND n.id = ANY (p_notification_ids)
           AND n.audience = 'BUSINESS' AND NOT n.is_read;
    END IF;
    GET DIAGNOSTICS v_marked = ROW_COUNT;
    RETURN v_marked;
END;
$$;


ALTER FUNCTION loyalty.mark_notifications_read(p_notification_ids uuid[], p_customer_id bigint, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: pending_invitations(bigint, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.pending_invitations(p_customer_id bigint, p_limit integer DEFAULT 50, p_after uuid DEFAULT NULL::uuid) RETURNS SETOF loyalty.pending_invitation
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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


ALTER FUNCTION loyalty.pending_invitations(p_customer_id bigint, p_limit integer, p_after uuid) OWNER TO loyalty_owner;

--
-- Name: pending_requests(bigint, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.pending_requests(p_business_id bigint, p_limit integer DEFAULT 50, p_after uuid DEFAULT NULL::uuid) RETURNS SETOF loyalty.pending_request
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    -- Before every request: the first page.
    v_after_at timestamptz := '-infinity'::timestamptz;
    v_after_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
    v_customer bigint := loyalty._request_customer(p_after);
BEGIN
    IF p_business_id IS NULL OR p_limit IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business id and limit must not be NULL';
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_after IS NOT NULL THEN
        -- The cursor request may be decided by now; its place in the order stays the same.
        SELECT r.requested_at, r.id INTO v_after_at, v_after_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.id = p_after AND r.business_id = p_business_id
           AND r.customer_id = coalesce(v_customer, r.customer_id);
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY001',
                MESSAGE = format('Enrollment request not found: %s (after= names no request of business %s)',
                                 p_after, p_business_id);
        END IF;
    END IF;

    -- A requester may not be a customer yet: then the name comes from the users row. Subqueries,
    -- not joins: each is one key probe per row of the page (a join may scan the users).
    RETURN QUERY
    SELECT r.id, r.customer_id,
           coalesce((SELECT c.name FROM loyalty.customers AS c WHERE c.id = r.customer_id),
                    (SELECT loyalty._display_name(u.id, u.name, u.email) FROM loyalty.users AS u WHERE u.id = r.customer_id),
                    loyalty._display_name(r.customer_id, NULL, NULL)),
           r.program_id, p.name, r.requested_at
      FROM loyalty.customer_approval_requests AS r
      JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
     WHERE r.business_id = p_business_id
       AND r.status = 'PENDING'
       -- Requests only (invitations are the customers' to answer), and none overdue, swept or not.
       AND r.kind = 'REQUEST'
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (r.requested_at, r.id) > (v_after_at, v_after_id)
     ORDER BY r.requested_at, r.id
     LIMIT p_limit;
END;
$$;


ALTER FUNCTION loyalty.pending_requests(p_business_id bigint, p_limit integer, p_after uuid) OWNER TO loyalty_owner;

--
-- Name: process_enrollment_approval(uuid, boolean); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.process_enrollment_approval(p_request_id uuid, p_approved boolean DEFAULT true) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, p_approved, NULL, NULL);
END;
$$;


ALTER FUNCTION loyalty.process_enrollment_approval(p_request_id uuid, p_approved boolean) OWNER TO loyalty_owner;

--
-- Name: process_enrollment_approval(integer, integer, uuid); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.process_enrollment_approval(p_customer_id integer, p_program_id integer, p_request_id uuid) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_result loyalty.enrollment_result;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL OR p_request_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id, program id and request id must not be NULL';
    END IF;
    -- A request's customer and program never change, so this needs no lock.
    IF NOT EXISTS (SELECT FROM loyalty.customer_approval_requests AS r
                    WHERE r.customer_id = p_customer_id AND r.id = p_request_id AND r.program_id = p_program_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY001',
            MESSAGE = format('Enrollment request not found: %s for customer %s and program %s',
                             p_request_id, p_customer_id, p_program_id);
    END IF;
    v_result := loyalty._decide_request(p_customer_id, p_request_id, true, NULL, NULL);
    RETURN v_result.card_id;
END;
$$;


ALTER FUNCTION loyalty.process_enrollment_approval(p_customer_id integer, p_program_id integer, p_request_id uuid) OWNER TO loyalty_owner;

--
-- Name: process_enrollment_approvals(uuid[], bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
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


ALTER FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: program_rewards(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.program_rewards(p_program_id bigint) RETURNS SETOF loyalty.reward_details
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM loyalty.loyalty_programs AS p WHERE p.id = p_program_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    RETURN QUERY
    SELECT r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock
      FROM loyalty.rewards AS r
     WHERE r.program_id = p_program_id AND r.status = 'ACTIVE' AND (r.stock IS NULL OR r.stock > 0)
     ORDER BY r.points_cost, r.id;
END;
$$;


ALTER FUNCTION loyalty.program_rewards(p_program_id bigint) OWNER TO loyalty_owner;

--
-- Name: prune_events(interval); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.prune_events(p_older_than interval DEFAULT '7 days'::interval) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_pruned    integer;
    v_positions jsonb;
    v_held      bigint[];
    v_customers bigint[];
    v_ids       bigint[];
    v_deleted   integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('older_than must be 0 or more, not %s', p_older_than);
    END IF;
    IF loyalty._distributed() THEN
        -- On a cluster the consumers are the coordinator's and the events the workers': each
        -- shard is given every position and the ids still queued, and compares on its node.
        SELECT jsonb_agg(c.node_positions), (SELECT array_agg(DISTINCT d.event_id) FROM loyalty.event_deliveries AS d)
          INTO v_positions, v_held
          FROM loyalty.event_consumers AS c;
        v_pruned := 0;
        -- Citus runs a function of a row's columns in a SELECT, not in a DELETE: find, then
        -- delete by id, 10,000 at a time. (A position that has passed an event never queues it
        -- again, so what was found stays prunable.)
        WHILE v_positions IS NOT NULL LOOP
            SELECT array_agg(f.customer_id), array_agg(f.id) INTO v_customers, v_ids
              FROM (SELECT e.customer_id, e.id
                      FROM loyalty.events AS e
                     WHERE e.occurred_at < now() - p_older_than
                       AND loyalty._event_passed_here(e.xid, v_positions)
                       AND e.id <> ALL (coalesce(v_held, '{}'))
                     LIMIT 10000) AS f;
            EXIT WHEN v_ids IS NULL;
            DELETE FROM loyalty.events AS e WHERE e.customer_id = ANY (v_customers) AND e.id = ANY (v_ids);
            GET DIAGNOSTICS v_deleted = ROW_COUNT;
            v_pruned := v_pruned + v_deleted;
        END LOOP;
        RETURN v_pruned;
    ELSE
        DELETE FROM loyalty.events AS e
         WHERE e.occurred_at < now() - p_older_than
           AND EXISTS (SELECT FROM loyalty.event_consumers)
           AND NOT EXISTS (SELECT FROM loyalty.event_consumers AS c WHERE NOT pg_visible_in_snapshot(e.xid, c.position))
           AND NOT EXISTS (SELECT FROM loyalty.event_deliveries AS d WHERE d.event_id = e.id);
    END IF;
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END;
$$;


ALTER FUNCTION loyalty.prune_events(p_older_than interval) OWNER TO loyalty_owner;

--
-- Name: redeem_reward(bigint, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.redeem_reward(p_customer_id bigint, p_reward_id bigint, p_idempotency_key text) RETURNS loyalty.redemption_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    SET enable_seqscan TO 'off'
    AS $$
DECLARE
    v_reward loyalty.rewards;
    v_card   loyalty._locked_card;
    v_stored loyalty.redemptions;
    v_spent  loyalty.point_result;
    v_id     uuid;
    v_code   text;
BEGIN
    IF p_customer_id IS NULL OR p_reward_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and reward_id must not be NULL';
    ELSIF p_idempotency_key IS NULL OR length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('idempotency_key must be 1 to 200 characters, not %s',
                             coalesce(length(p_idempotency_key)::text || ' characters', 'NULL'));
    END IF;
    SELECT r.* INTO v_reward FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    END IF;
    -- The card's lock, as every writer of the card takes it: a second call with the same key
    -- waits here, then finds the first one's redemption.
    v_card := loyalty._lock_card(p_customer_id, v_reward.program_id, NULL);
    SELECT d.* INTO v_stored FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.card_id = v_card.id AND d.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        IF v_stored.reward_id <> p_reward_id THEN
            RAISE EXCEPTION USING ERRCODE = 'LY014',
                MESSAGE = format('Idempotency key %s was used on card %s to redeem reward %s; this call redeems %s',
                                 quote_literal(p_idempotency_key), v_card.id, v_stored.reward_id, p_reward_id);
        END IF;
        RETURN ROW(v_stored.id, v_stored.code, v_stored.status::text, v_stored.reward_id, v_stored.points,
                   (SELECT t.balance_after FROM loyalty.point_transactions AS t
                     WHERE t.customer_id = p_customer_id AND t.id = v_stored.transaction_id), true)::loyalty.redemption_result;
    END IF;
    IF v_reward.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is not active', v_reward.name);
    END IF;
    -- One less of a limited stock, or none left. The row lock makes concurrent redeemers of the
    -- last items take turns, each seeing the stock the one before left. (On a cluster the
    -- catalogue is reference data: this write reaches every node in this transaction; an
    -- unlimited reward writes nothing there and stays on the customer's worker.)
    IF v_reward.stock IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock - 1, updated_at = now()
         WHERE r.id = p_reward_id AND r.stock > 0 AND r.status = 'ACTIVE';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is out of stock', v_reward.name);
        END IF;
    END IF;
    -- The spend; on any error from here, the stock taken above rolls back with it.
    v_spent := loyalty._change_points(p_customer_id, v_reward.program_id, -v_reward.points_cost, 'REDEEM',
                                      p_idempotency_key, NULL, 'reward:' || p_reward_id, v_reward.name);
    v_id := loyalty._request_id(p_customer_id);
    v_code := loyalty._redemption_code(nextval('loyalty.redemption_number_seq'));
    INSERT INTO loyalty.redemptions (customer_id, id, reward_id, card_id, program_id, business_id, points, code,
                                     idempotency_key, transaction_id)
    VALUES (p_customer_id, v_id, p_reward_id, v_card.id, v_reward.program_id, v_reward.business_id,
            v_reward.points_cost, v_code, p_idempotency_key, v_spent.transaction_id);
    PERFORM loyalty._redemption_changed(p_customer_id, v_id, 'reward.redeemed', v_spent.balance_after);
    RETURN ROW(v_id, v_code, 'PENDING', p_reward_id, v_reward.points_cost, v_spent.balance_after,
               false)::loyalty.redemption_result;
END;
$$;


ALTER FUNCTION loyalty.redeem_reward(p_customer_id bigint, p_reward_id bigint, p_idempotency_key text) OWNER TO loyalty_owner;

--
-- Name: register_business(bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.register_business(p_business_id bigint) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    INSERT INTO loyalty.businesses AS b (id, name, email)
    SELECT u.id, u.name, u.email FROM loyalty.users AS u WHERE u.id = p_business_id
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003', MESSAGE = format('User not found for business_id: %s. Cannot register the business.', p_business_id);
    END IF;
END;
$$;


ALTER FUNCTION loyalty.register_business(p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: reject_enrollment(uuid, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.reject_enrollment(p_request_id uuid, p_reason text DEFAULT NULL::text, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty.enrollment_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, false, p_reason, p_business_id);
END;
$$;


ALTER FUNCTION loyalty.reject_enrollment(p_request_id uuid, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: replace_card(bigint, bigint, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.replace_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;


ALTER FUNCTION loyalty.replace_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: request_enrollment(bigint, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text DEFAULT NULL::text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_program         loyalty._program_info;
    v_customer_name   text;
    v_request_id      uuid := loyalty._request_id(p_customer_id);
    v_notification_id uuid;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id and program id must not be NULL';
    END IF;
    -- Capped like a rejection reason: the message is stored and shown to the business.
    IF length(p_message) > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY010',
            MESSAGE = format('A request message may be at most 1000 characters; this one has %s', length(p_message));
    END IF;

    v_program := loyalty._active_program(p_program_id);
    PERFORM loyalty._refuse_erased(p_customer_id);  -- 0041: an erased customer asks nothing again

    SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_customer_name
      FROM loyalty.users AS u
     WHERE u.id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot request enrollment.', p_customer_id);
    END IF;

    -- The business's to read and act on (its feed), kept on the customer's shard like the request.
    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, audience, type, title, message, data, requires_action)
    VALUES (p_customer_id, v_program.business_id, 'BUSINESS', 'ENROLLMENT_REQUEST',
            format('%s wants to join %s', v_customer_name, v_program.name),
            format('%s asked to join %s at %s.', v_customer_name, v_program.name, v_program.business_name),
            jsonb_build_object('request_id', v_request_id,
                               'customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name),
            true)
    RETURNING n.id INTO v_notification_id;

    INSERT INTO loyalty.customer_approval_requests
           (id, customer_id, program_id, business_id, notification_id, message, expires_at)
    VALUES (v_request_id, p_customer_id, p_program_id, v_program.business_id, v_notification_id, p_message,
            now() + v_program.request_ttl);

    -- The event (the business decides: no customer channels).
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_program.business_id, 'enrollment.requested',
            jsonb_build_object('customer_name', v_customer_name, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', v_request_id,
                               'program_id', p_program_id));
    RETURN v_request_id;
END;
$$;


ALTER FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text) OWNER TO loyalty_owner;

--
-- Name: request_points_deduction(bigint, bigint, bigint, integer, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.request_points_deduction(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
    PERFORM loyalty._refuse_erased(p_customer_id);  -- 0041: nothing is asked of an erased customer
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


ALTER FUNCTION loyalty.request_points_deduction(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text) OWNER TO loyalty_owner;

--
-- Name: reverse_points(bigint, bigint, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.reverse_points(p_customer_id bigint, p_transaction_id bigint, p_idempotency_key text, p_business_id bigint DEFAULT NULL::bigint) RETURNS loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_target loyalty.point_transactions;
BEGIN
    SELECT t.* INTO v_target
      FROM loyalty.point_transactions AS t
     WHERE t.customer_id = p_customer_id AND t.id = p_transaction_id;
    IF v_target.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY020',
            MESSAGE = format('Transaction %s is not one of customer %s', coalesce(p_transaction_id::text, 'NULL'),
                             coalesce(p_customer_id::text, 'NULL'));
    END IF;
    IF v_target.reason::text NOT IN ('EARN', 'SPEND', 'ADJUST') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('Transaction %s is %s, which cannot be reversed (only EARN, SPEND, ADJUST)',
                             v_target.id, v_target.reason);
    END IF;
    RETURN loyalty._change_points(p_customer_id, v_target.program_id, -v_target.points, 'REVERSAL',
                                  p_idempotency_key, p_business_id, NULL, NULL, v_target.id);
END;
$$;


ALTER FUNCTION loyalty.reverse_points(p_customer_id bigint, p_transaction_id bigint, p_idempotency_key text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: set_program_status(bigint, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_owner bigint;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a program''s status is ACTIVE or INACTIVE, not %s', coalesce(quote_literal(p_status), 'NULL'));
    END IF;
    SELECT g.business_id INTO v_owner FROM loyalty.loyalty_programs AS g WHERE g.id = p_program_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF v_owner IS DISTINCT FROM p_business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change program %s: it is another business''s', p_business_id, p_program_id);
    END IF;
    UPDATE loyalty.loyalty_programs AS g SET status = p_status, updated_at = now()
     WHERE g.id = p_program_id AND g.status IS DISTINCT FROM p_status;
    RETURN p_status;
END;
$$;


ALTER FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text) OWNER TO loyalty_owner;

--
-- Name: spend_points(bigint, bigint, integer, text, bigint, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.spend_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint DEFAULT NULL::bigint, p_reference text DEFAULT NULL::text) RETURNS loyalty.point_result
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', false);
    RETURN loyalty._change_points(p_customer_id, p_program_id, -p_points, 'SPEND', p_idempotency_key,
                                  p_business_id, p_reference, NULL);
END;
$$;


ALTER FUNCTION loyalty.spend_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) OWNER TO loyalty_owner;

--
-- Name: tail_events(text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.tail_events(p_position text DEFAULT NULL::text) RETURNS TABLE(next_position text, id bigint, type text, customer_id bigint, business_id bigint, occurred_at timestamp with time zone, payload jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_distributed boolean := loyalty._distributed();
    v_to          text := CASE WHEN v_distributed THEN loyalty._node_snapshots()::text ELSE loyalty._position_now()::text END;
BEGIN
    IF p_position IS NOT NULL AND v_distributed THEN
        RETURN QUERY
            SELECT v_to, e.id, e.type::text, e.customer_id, e.business_id, e.occurred_at, e.payload
              FROM loyalty.events AS e
             WHERE loyalty._event_new_here(e.xid, p_position::jsonb, v_to::jsonb)
             ORDER BY e.id;
    ELSIF p_position IS NOT NULL THEN
        RETURN QUERY
            SELECT v_to, e.id, e.type::text, e.customer_id, e.business_id, e.occurred_at, e.payload
              FROM loyalty._events_between(p_position::pg_snapshot, v_to::pg_snapshot) AS e
             ORDER BY e.id;
    END IF;
    IF NOT FOUND OR p_position IS NULL THEN
        RETURN QUERY SELECT v_to, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::jsonb;
    END IF;
END;
$$;


ALTER FUNCTION loyalty.tail_events(p_position text) OWNER TO loyalty_owner;

--
-- Name: unblock_card(bigint, bigint, text, bigint); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.unblock_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint DEFAULT NULL::bigint) RETURNS SETOF loyalty.card_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;


ALTER FUNCTION loyalty.unblock_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) OWNER TO loyalty_owner;

--
-- Name: update_reward(bigint, bigint, text, integer, integer); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.update_reward(p_business_id bigint, p_reward_id bigint, p_status text DEFAULT NULL::text, p_points_cost integer DEFAULT NULL::integer, p_stock integer DEFAULT NULL::integer) RETURNS SETOF loyalty.reward_details
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v_owner bigint;
BEGIN
    PERFORM loyalty._check_reward(NULL, p_points_cost, p_stock, p_status);
    SELECT r.business_id INTO v_owner FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF v_owner IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    ELSIF p_business_id IS DISTINCT FROM v_owner THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change reward %s: it is another business''s', p_business_id,
                             p_reward_id);
    END IF;
    RETURN QUERY
    UPDATE loyalty.rewards AS r
       SET status = coalesce(p_status, r.status), points_cost = coalesce(p_points_cost, r.points_cost),
           stock = coalesce(p_stock, r.stock), updated_at = now()
     WHERE r.id = p_reward_id
    RETURNING r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock;
END;
$$;


ALTER FUNCTION loyalty.update_reward(p_business_id bigint, p_reward_id bigint, p_status text, p_points_cost integer, p_stock integer) OWNER TO loyalty_owner;

--
-- Name: upsert_user(bigint, text, text); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'a user id is required, not NULL';
    END IF;
    INSERT INTO loyalty.users AS u (id, name, email)
    VALUES (p_id, p_name, p_email)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email
     WHERE (u.name, u.email) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email);
    IF loyalty._distributed() THEN
        UPDATE loyalty.businesses AS b SET name = p_name, email = p_email, updated_at = now()
         WHERE b.id = p_id AND (b.name, b.email) IS DISTINCT FROM (p_name, p_email);
    END IF;
    RETURN p_id;
END;
$$;


ALTER FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text) OWNER TO loyalty_owner;

--
-- Name: verify_points(); Type: FUNCTION; Schema: loyalty; Owner: loyalty_owner
--

CREATE FUNCTION loyalty.verify_points() RETURNS TABLE(customer_id bigint, program_id bigint, card_id bigint, points_balance integer, ledger_sum bigint, enrollment_points integer, problem text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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


ALTER FUNCTION loyalty.verify_points() OWNER TO loyalty_owner;

--
-- Name: card_aliases; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.card_aliases (
    customer_id bigint NOT NULL,
    card_number text NOT NULL,
    card_id bigint NOT NULL,
    legacy_card_id bigint NOT NULL
);


ALTER TABLE loyalty.card_aliases OWNER TO loyalty_owner;

--
-- Name: TABLE card_aliases; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON TABLE loyalty.card_aliases IS 'Card numbers an imported card carried in the replaced system; loyalty.find_card answers to them.';


--
-- Name: card_number_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.card_number_seq
    START WITH 100000000000000
    INCREMENT BY 1
    MINVALUE 100000000000000
    MAXVALUE 999999999999999
    CACHE 1;


ALTER TABLE loyalty.card_number_seq OWNER TO loyalty_owner;

--
-- Name: customer_business_relationships; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.customer_business_relationships (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    business_id bigint NOT NULL,
    status loyalty.active_status DEFAULT 'ACTIVE'::text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE loyalty.customer_business_relationships OWNER TO loyalty_owner;

--
-- Name: customer_business_relationships_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.customer_business_relationships_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.customer_business_relationships_id_seq OWNER TO loyalty_owner;

--
-- Name: customer_business_relationships_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.customer_business_relationships_id_seq OWNED BY loyalty.customer_business_relationships.id;


--
-- Name: customer_notifications; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.customer_notifications (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    customer_id bigint NOT NULL,
    business_id bigint,
    type text NOT NULL,
    title text NOT NULL,
    message text NOT NULL,
    data jsonb DEFAULT '{}'::jsonb NOT NULL,
    requires_action boolean DEFAULT false NOT NULL,
    action_taken boolean DEFAULT false NOT NULL,
    is_read boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    actioned_at timestamp with time zone,
    card_id bigint,
    audience loyalty.notification_audience DEFAULT 'CUSTOMER'::text NOT NULL
)
WITH (fillfactor='90');


ALTER TABLE loyalty.customer_notifications OWNER TO loyalty_owner;

--
-- Name: customers; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.customers (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    name text NOT NULL,
    email text,
    phone text,
    notification_preferences jsonb DEFAULT '{"sms": false, "push": true, "email": true, "system": true, "rewards": true, "promotions": true}'::jsonb NOT NULL,
    regional_settings jsonb DEFAULT '{"country": "United States", "currency": "USD", "language": "en", "timezone": "UTC"}'::jsonb NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT customers_id_is_user_id CHECK ((id = user_id))
);


ALTER TABLE loyalty.customers OWNER TO loyalty_owner;

--
-- Name: TABLE customers; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON TABLE loyalty.customers IS 'Customers; id = user_id, created from users on first approval.';


--
-- Name: erased_customers; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.erased_customers (
    customer_id bigint NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    requested_by text NOT NULL
);


ALTER TABLE loyalty.erased_customers OWNER TO loyalty_owner;

--
-- Name: event_consumers; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.event_consumers (
    name text NOT NULL,
    "position" pg_snapshot NOT NULL,
    registered_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    node_positions jsonb
);


ALTER TABLE loyalty.event_consumers OWNER TO loyalty_owner;

--
-- Name: event_deliveries; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.event_deliveries (
    consumer text NOT NULL,
    event_id bigint NOT NULL,
    customer_id bigint NOT NULL,
    visible_at timestamp with time zone DEFAULT '-infinity'::timestamp with time zone NOT NULL,
    deliveries integer DEFAULT 0 NOT NULL
);


ALTER TABLE loyalty.event_deliveries OWNER TO loyalty_owner;

--
-- Name: events_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.events_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.events_id_seq OWNER TO loyalty_owner;

--
-- Name: events_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.events_id_seq OWNED BY loyalty.events.id;


--
-- Name: loyalty_cards_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.loyalty_cards_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.loyalty_cards_id_seq OWNER TO loyalty_owner;

--
-- Name: loyalty_cards_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.loyalty_cards_id_seq OWNED BY loyalty.loyalty_cards.id;


--
-- Name: loyalty_programs_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.loyalty_programs_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.loyalty_programs_id_seq OWNER TO loyalty_owner;

--
-- Name: loyalty_programs_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.loyalty_programs_id_seq OWNED BY loyalty.loyalty_programs.id;


--
-- Name: point_transactions; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.point_transactions (
    customer_id bigint NOT NULL,
    id bigint NOT NULL,
    card_id bigint NOT NULL,
    program_id bigint NOT NULL,
    points integer NOT NULL,
    reason loyalty.point_reason NOT NULL,
    request_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    business_id bigint,
    idempotency_key text,
    reference text,
    note text,
    balance_after integer,
    reverses_id bigint,
    consumed integer DEFAULT 0 NOT NULL,
    CONSTRAINT point_transactions_points_check CHECK ((points <> 0))
);


ALTER TABLE loyalty.point_transactions OWNER TO loyalty_owner;

--
-- Name: point_transactions_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.point_transactions_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.point_transactions_id_seq OWNER TO loyalty_owner;

--
-- Name: point_transactions_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.point_transactions_id_seq OWNED BY loyalty.point_transactions.id;


--
-- Name: points_deductions; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.points_deductions (
    customer_id bigint NOT NULL,
    id uuid NOT NULL,
    program_id bigint NOT NULL,
    business_id bigint NOT NULL,
    card_id bigint NOT NULL,
    points integer NOT NULL,
    reason text NOT NULL,
    status loyalty.request_status DEFAULT 'PENDING'::text NOT NULL,
    notification_id uuid,
    transaction_id bigint,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone,
    response_at timestamp with time zone,
    CONSTRAINT points_deductions_points_check CHECK ((points > 0))
);


ALTER TABLE loyalty.points_deductions OWNER TO loyalty_owner;

--
-- Name: program_enrollments; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.program_enrollments (
    id bigint NOT NULL,
    customer_id bigint NOT NULL,
    program_id bigint NOT NULL,
    status loyalty.active_status DEFAULT 'ACTIVE'::text NOT NULL,
    current_points integer DEFAULT 0 NOT NULL,
    enrolled_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE loyalty.program_enrollments OWNER TO loyalty_owner;

--
-- Name: program_enrollments_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.program_enrollments_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.program_enrollments_id_seq OWNER TO loyalty_owner;

--
-- Name: program_enrollments_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.program_enrollments_id_seq OWNED BY loyalty.program_enrollments.id;


--
-- Name: redemption_number_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.redemption_number_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.redemption_number_seq OWNER TO loyalty_owner;

--
-- Name: redemptions; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.redemptions (
    customer_id bigint NOT NULL,
    id uuid NOT NULL,
    reward_id bigint NOT NULL,
    card_id bigint NOT NULL,
    program_id bigint NOT NULL,
    business_id bigint NOT NULL,
    points integer NOT NULL,
    code text NOT NULL,
    number bigint DEFAULT nextval('loyalty.redemption_number_seq'::regclass) NOT NULL,
    status text DEFAULT 'PENDING'::text NOT NULL,
    idempotency_key text NOT NULL,
    transaction_id bigint NOT NULL,
    refund_id bigint,
    cancelled_by text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    decided_at timestamp with time zone,
    CONSTRAINT redemptions_cancelled_by_check CHECK ((cancelled_by = ANY (ARRAY['CUSTOMER'::text, 'BUSINESS'::text]))),
    CONSTRAINT redemptions_points_check CHECK ((points > 0)),
    CONSTRAINT redemptions_status_check CHECK ((status = ANY (ARRAY['PENDING'::text, 'FULFILLED'::text, 'CANCELLED'::text])))
);


ALTER TABLE loyalty.redemptions OWNER TO loyalty_owner;

--
-- Name: rewards; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.rewards (
    id bigint NOT NULL,
    program_id bigint NOT NULL,
    business_id bigint NOT NULL,
    name text NOT NULL,
    points_cost integer NOT NULL,
    status loyalty.active_status DEFAULT 'ACTIVE'::text NOT NULL,
    stock integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT rewards_points_cost_check CHECK ((points_cost > 0)),
    CONSTRAINT rewards_stock_check CHECK ((stock >= 0))
);


ALTER TABLE loyalty.rewards OWNER TO loyalty_owner;

--
-- Name: rewards_id_seq; Type: SEQUENCE; Schema: loyalty; Owner: loyalty_owner
--

CREATE SEQUENCE loyalty.rewards_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;


ALTER TABLE loyalty.rewards_id_seq OWNER TO loyalty_owner;

--
-- Name: rewards_id_seq; Type: SEQUENCE OWNED BY; Schema: loyalty; Owner: loyalty_owner
--

ALTER SEQUENCE loyalty.rewards_id_seq OWNED BY loyalty.rewards.id;


--
-- Name: users; Type: TABLE; Schema: loyalty; Owner: loyalty_owner
--

CREATE TABLE loyalty.users (
    id bigint NOT NULL,
    name text,
    email text,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);


ALTER TABLE loyalty.users OWNER TO loyalty_owner;

--
-- Name: TABLE users; Type: COMMENT; Schema: loyalty; Owner: loyalty_owner
--

COMMENT ON TABLE loyalty.users IS 'Identities; id is the application''s own user id. Businesses are users too.';


--
-- Name: customer_business_relationships id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_business_relationships ALTER COLUMN id SET DEFAULT nextval('loyalty.customer_business_relationships_id_seq'::regclass);


--
-- Name: events id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.events ALTER COLUMN id SET DEFAULT nextval('loyalty.events_id_seq'::regclass);


--
-- Name: loyalty_cards id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards ALTER COLUMN id SET DEFAULT nextval('loyalty.loyalty_cards_id_seq'::regclass);


--
-- Name: loyalty_programs id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_programs ALTER COLUMN id SET DEFAULT nextval('loyalty.loyalty_programs_id_seq'::regclass);


--
-- Name: point_transactions id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.point_transactions ALTER COLUMN id SET DEFAULT nextval('loyalty.point_transactions_id_seq'::regclass);


--
-- Name: program_enrollments id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.program_enrollments ALTER COLUMN id SET DEFAULT nextval('loyalty.program_enrollments_id_seq'::regclass);


--
-- Name: rewards id; Type: DEFAULT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.rewards ALTER COLUMN id SET DEFAULT nextval('loyalty.rewards_id_seq'::regclass);


--
-- Name: businesses businesses_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.businesses
    ADD CONSTRAINT businesses_pkey PRIMARY KEY (id);


--
-- Name: card_aliases card_aliases_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.card_aliases
    ADD CONSTRAINT card_aliases_pkey PRIMARY KEY (customer_id, card_number);


--
-- Name: customer_approval_requests customer_approval_requests_id_carries_its_customer; Type: CHECK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_id_carries_its_customer CHECK (loyalty._id_carries_customer(id, customer_id)) NOT VALID;


--
-- Name: customer_approval_requests customer_approval_requests_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_pkey PRIMARY KEY (customer_id, id);


--
-- Name: customer_business_relationships customer_business_relationships_customer_id_business_id_key; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_business_relationships
    ADD CONSTRAINT customer_business_relationships_customer_id_business_id_key UNIQUE (customer_id, business_id);


--
-- Name: customer_business_relationships customer_business_relationships_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_business_relationships
    ADD CONSTRAINT customer_business_relationships_pkey PRIMARY KEY (customer_id, id);


--
-- Name: customer_notifications customer_notifications_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_notifications
    ADD CONSTRAINT customer_notifications_pkey PRIMARY KEY (customer_id, id);


--
-- Name: customers customers_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customers
    ADD CONSTRAINT customers_pkey PRIMARY KEY (id);


--
-- Name: erased_customers erased_customers_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.erased_customers
    ADD CONSTRAINT erased_customers_pkey PRIMARY KEY (customer_id);


--
-- Name: event_consumers event_consumers_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.event_consumers
    ADD CONSTRAINT event_consumers_pkey PRIMARY KEY (name);


--
-- Name: event_deliveries event_deliveries_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.event_deliveries
    ADD CONSTRAINT event_deliveries_pkey PRIMARY KEY (consumer, event_id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.events
    ADD CONSTRAINT events_pkey PRIMARY KEY (customer_id, id);


--
-- Name: loyalty_cards loyalty_cards_card_number_key; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards
    ADD CONSTRAINT loyalty_cards_card_number_key UNIQUE (card_number);


--
-- Name: loyalty_cards loyalty_cards_customer_id_program_id_key; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards
    ADD CONSTRAINT loyalty_cards_customer_id_program_id_key UNIQUE (customer_id, program_id);


--
-- Name: loyalty_cards loyalty_cards_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards
    ADD CONSTRAINT loyalty_cards_pkey PRIMARY KEY (customer_id, id);


--
-- Name: loyalty_programs loyalty_programs_id_business_id_key; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_programs
    ADD CONSTRAINT loyalty_programs_id_business_id_key UNIQUE (id, business_id);


--
-- Name: loyalty_programs loyalty_programs_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_programs
    ADD CONSTRAINT loyalty_programs_pkey PRIMARY KEY (id);


--
-- Name: point_transactions point_transactions_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.point_transactions
    ADD CONSTRAINT point_transactions_pkey PRIMARY KEY (customer_id, id);


--
-- Name: points_deductions points_deductions_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.points_deductions
    ADD CONSTRAINT points_deductions_pkey PRIMARY KEY (customer_id, id);


--
-- Name: program_enrollments program_enrollments_customer_id_program_id_key; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.program_enrollments
    ADD CONSTRAINT program_enrollments_customer_id_program_id_key UNIQUE (customer_id, program_id);


--
-- Name: program_enrollments program_enrollments_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.program_enrollments
    ADD CONSTRAINT program_enrollments_pkey PRIMARY KEY (customer_id, id);


--
-- Name: redemptions redemptions_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.redemptions
    ADD CONSTRAINT redemptions_pkey PRIMARY KEY (customer_id, id);


--
-- Name: rewards rewards_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.rewards
    ADD CONSTRAINT rewards_pkey PRIMARY KEY (id);


--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);


--
-- Name: card_aliases_card_number_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX card_aliases_card_number_key ON loyalty.card_aliases USING btree (card_number);


--
-- Name: customer_approval_requests_expiry_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_approval_requests_expiry_idx ON loyalty.customer_approval_requests USING btree (expires_at) WHERE (((status)::text = 'PENDING'::text) AND (expires_at IS NOT NULL));


--
-- Name: customer_approval_requests_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_approval_requests_id_idx ON loyalty.customer_approval_requests USING btree (id);


--
-- Name: customer_approval_requests_invitations_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_approval_requests_invitations_idx ON loyalty.customer_approval_requests USING btree (customer_id, requested_at, id) WHERE (((kind)::text = 'INVITATION'::text) AND ((status)::text = 'PENDING'::text));


--
-- Name: customer_approval_requests_one_invitation_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX customer_approval_requests_one_invitation_key ON loyalty.customer_approval_requests USING btree (customer_id, program_id) WHERE (((kind)::text = 'INVITATION'::text) AND ((status)::text = 'PENDING'::text));


--
-- Name: customer_approval_requests_pending_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_approval_requests_pending_idx ON loyalty.customer_approval_requests USING btree (business_id, requested_at, id) WHERE ((status)::text = 'PENDING'::text);


--
-- Name: customer_approval_requests_program_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_approval_requests_program_id_idx ON loyalty.customer_approval_requests USING btree (program_id);


--
-- Name: customer_business_relationships_business_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_business_relationships_business_id_idx ON loyalty.customer_business_relationships USING btree (business_id);


--
-- Name: customer_notifications_business_feed_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_notifications_business_feed_idx ON loyalty.customer_notifications USING btree (business_id, created_at DESC, id DESC) WHERE ((audience)::text = 'BUSINESS'::text);


--
-- Name: customer_notifications_business_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_notifications_business_id_idx ON loyalty.customer_notifications USING btree (business_id, id) WHERE ((audience)::text = 'BUSINESS'::text);


--
-- Name: customer_notifications_card_created_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX customer_notifications_card_created_key ON loyalty.customer_notifications USING btree (customer_id, card_id) WHERE (type = 'CARD_CREATED'::text);


--
-- Name: customer_notifications_customer_feed_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX customer_notifications_customer_feed_idx ON loyalty.customer_notifications USING btree (customer_id, created_at DESC, id DESC) WHERE ((audience)::text = 'CUSTOMER'::text);


--
-- Name: event_deliveries_due_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX event_deliveries_due_idx ON loyalty.event_deliveries USING btree (consumer, visible_at, event_id);


--
-- Name: events_xid_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX events_xid_idx ON loyalty.events USING btree (xid);


--
-- Name: loyalty_cards_program_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX loyalty_cards_program_id_idx ON loyalty.loyalty_cards USING btree (program_id);


--
-- Name: loyalty_programs_business_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX loyalty_programs_business_id_idx ON loyalty.loyalty_programs USING btree (business_id);


--
-- Name: point_transactions_card_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX point_transactions_card_idx ON loyalty.point_transactions USING btree (customer_id, card_id, created_at, id);


--
-- Name: point_transactions_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX point_transactions_key ON loyalty.point_transactions USING btree (customer_id, card_id, idempotency_key) WHERE (idempotency_key IS NOT NULL);


--
-- Name: point_transactions_open_credits_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX point_transactions_open_credits_idx ON loyalty.point_transactions USING btree (created_at) WHERE ((points > consumed) AND ((reason)::text <> ALL (ARRAY['OPENING'::text, 'IMPORT'::text])));


--
-- Name: point_transactions_reversal_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX point_transactions_reversal_key ON loyalty.point_transactions USING btree (customer_id, reverses_id) WHERE (reverses_id IS NOT NULL);


--
-- Name: point_transactions_welcome_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX point_transactions_welcome_key ON loyalty.point_transactions USING btree (customer_id, card_id) WHERE ((reason)::text = 'WELCOME'::text);


--
-- Name: program_enrollments_program_id_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX program_enrollments_program_id_idx ON loyalty.program_enrollments USING btree (program_id);


--
-- Name: redemptions_code_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX redemptions_code_key ON loyalty.redemptions USING btree (code, program_id);


--
-- Name: redemptions_key; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE UNIQUE INDEX redemptions_key ON loyalty.redemptions USING btree (customer_id, card_id, idempotency_key);


--
-- Name: rewards_program_idx; Type: INDEX; Schema: loyalty; Owner: loyalty_owner
--

CREATE INDEX rewards_program_idx ON loyalty.rewards USING btree (program_id);


--
-- Name: events events_notify; Type: TRIGGER; Schema: loyalty; Owner: loyalty_owner
--

CREATE TRIGGER events_notify AFTER INSERT ON loyalty.events FOR EACH STATEMENT EXECUTE FUNCTION loyalty._notify_events();


--
-- Name: loyalty_programs loyalty_programs_register_business; Type: TRIGGER; Schema: loyalty; Owner: loyalty_owner
--

CREATE TRIGGER loyalty_programs_register_business BEFORE INSERT OR UPDATE OF business_id ON loyalty.loyalty_programs FOR EACH ROW EXECUTE FUNCTION loyalty._register_program_business();


--
-- Name: users users_refresh_business; Type: TRIGGER; Schema: loyalty; Owner: loyalty_owner
--

CREATE TRIGGER users_refresh_business AFTER UPDATE OF name, email ON loyalty.users FOR EACH ROW WHEN (((old.name IS DISTINCT FROM new.name) OR (old.email IS DISTINCT FROM new.email))) EXECUTE FUNCTION loyalty._refresh_business();


--
-- Name: businesses businesses_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.businesses
    ADD CONSTRAINT businesses_id_fkey FOREIGN KEY (id) REFERENCES loyalty.users(id);


--
-- Name: card_aliases card_aliases_card_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.card_aliases
    ADD CONSTRAINT card_aliases_card_fkey FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards(customer_id, id) ON DELETE CASCADE;


--
-- Name: customer_approval_requests customer_approval_requests_notification_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_notification_id_fkey FOREIGN KEY (customer_id, notification_id) REFERENCES loyalty.customer_notifications(customer_id, id) ON DELETE SET NULL (notification_id);


--
-- Name: customer_approval_requests customer_approval_requests_program_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_program_fkey FOREIGN KEY (program_id, business_id) REFERENCES loyalty.loyalty_programs(id, business_id);


--
-- Name: customer_business_relationships customer_business_relationships_business_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_business_relationships
    ADD CONSTRAINT customer_business_relationships_business_id_fkey FOREIGN KEY (business_id) REFERENCES loyalty.businesses(id);


--
-- Name: customer_business_relationships customer_business_relationships_customer_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_business_relationships
    ADD CONSTRAINT customer_business_relationships_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES loyalty.customers(id);


--
-- Name: customer_notifications customer_notifications_card_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customer_notifications
    ADD CONSTRAINT customer_notifications_card_id_fkey FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards(customer_id, id);


--
-- Name: customers customers_user_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.customers
    ADD CONSTRAINT customers_user_id_fkey FOREIGN KEY (id) REFERENCES loyalty.users(id);


--
-- Name: event_deliveries event_deliveries_consumer_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.event_deliveries
    ADD CONSTRAINT event_deliveries_consumer_fkey FOREIGN KEY (consumer) REFERENCES loyalty.event_consumers(name) ON DELETE CASCADE;


--
-- Name: loyalty_cards loyalty_cards_customer_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards
    ADD CONSTRAINT loyalty_cards_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES loyalty.customers(id);


--
-- Name: loyalty_cards loyalty_cards_program_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_cards
    ADD CONSTRAINT loyalty_cards_program_fkey FOREIGN KEY (program_id, business_id) REFERENCES loyalty.loyalty_programs(id, business_id);


--
-- Name: loyalty_programs loyalty_programs_business_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.loyalty_programs
    ADD CONSTRAINT loyalty_programs_business_id_fkey FOREIGN KEY (business_id) REFERENCES loyalty.businesses(id);


--
-- Name: point_transactions point_transactions_card_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.point_transactions
    ADD CONSTRAINT point_transactions_card_fkey FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards(customer_id, id);


--
-- Name: points_deductions points_deductions_card_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.points_deductions
    ADD CONSTRAINT points_deductions_card_fkey FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards(customer_id, id);


--
-- Name: program_enrollments program_enrollments_customer_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.program_enrollments
    ADD CONSTRAINT program_enrollments_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES loyalty.customers(id);


--
-- Name: program_enrollments program_enrollments_program_id_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.program_enrollments
    ADD CONSTRAINT program_enrollments_program_id_fkey FOREIGN KEY (program_id) REFERENCES loyalty.loyalty_programs(id);


--
-- Name: redemptions redemptions_card_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.redemptions
    ADD CONSTRAINT redemptions_card_fkey FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards(customer_id, id);


--
-- Name: redemptions redemptions_reward_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.redemptions
    ADD CONSTRAINT redemptions_reward_fkey FOREIGN KEY (reward_id) REFERENCES loyalty.rewards(id);


--
-- Name: rewards rewards_program_fkey; Type: FK CONSTRAINT; Schema: loyalty; Owner: loyalty_owner
--

ALTER TABLE ONLY loyalty.rewards
    ADD CONSTRAINT rewards_program_fkey FOREIGN KEY (program_id) REFERENCES loyalty.loyalty_programs(id);


--
-- Name: SCHEMA loyalty; Type: ACL; Schema: -; Owner: loyalty_owner
--

GRANT USAGE ON SCHEMA loyalty TO loyalty_app;
GRANT USAGE ON SCHEMA loyalty TO loyalty_privacy;
GRANT USAGE ON SCHEMA loyalty TO loyalty_events;


--
-- Name: FUNCTION _active_program(p_program_id bigint, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._active_program(p_program_id bigint, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _answer_invitation(p_request_id uuid, p_customer_id bigint, p_accepted boolean, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._answer_invitation(p_request_id uuid, p_customer_id bigint, p_accepted boolean, p_reason text) FROM PUBLIC;


--
-- Name: FUNCTION _approve_locked_request(p_request loyalty.customer_approval_requests); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests) FROM PUBLIC;


--
-- Name: FUNCTION _approve_one_by_one(p_request_ids uuid[], p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _card_number_is_valid(p_card_number text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_number_is_valid(p_card_number text) FROM PUBLIC;


--
-- Name: FUNCTION _display_name(p_id bigint, p_name text, p_email text, p_fallback text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._display_name(p_id bigint, p_name text, p_email text, p_fallback text) FROM PUBLIC;


--
-- Name: FUNCTION _next_card_number(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._next_card_number() FROM PUBLIC;


--
-- Name: FUNCTION _card_changed(p_customer_id bigint, p_card_id bigint, p_event text, p_audience text, p_type text, p_title text, p_message text, p_detail text, p_extra jsonb); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_changed(p_customer_id bigint, p_card_id bigint, p_event text, p_audience text, p_type text, p_title text, p_message text, p_detail text, p_extra jsonb) FROM PUBLIC;


--
-- Name: FUNCTION _card_created_data(p_customer_name text, p_program_name text, p_business_name text, p_card_number text, p_request_id uuid, p_welcome_points integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_created_data(p_customer_name text, p_program_name text, p_business_name text, p_card_number text, p_request_id uuid, p_welcome_points integer) FROM PUBLIC;


--
-- Name: FUNCTION _card_created_message(p_program_name text, p_business_name text, p_customer_name text, p_welcome_points integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_created_message(p_program_name text, p_business_name text, p_customer_name text, p_welcome_points integer) FROM PUBLIC;


--
-- Name: FUNCTION _card_created_title(p_program_name text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_created_title(p_program_name text) FROM PUBLIC;


--
-- Name: FUNCTION _card_number(p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_number(p_customer_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _card_number_for(p_customer_id bigint, p_ordinal bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._card_number_for(p_customer_id bigint, p_ordinal bigint) FROM PUBLIC;


--
-- Name: FUNCTION _change_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text, p_idempotency_key text, p_business_id bigint, p_reference text, p_note text, p_reverses_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._change_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text, p_idempotency_key text, p_business_id bigint, p_reference text, p_note text, p_reverses_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _check_business(p_request loyalty.customer_approval_requests, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._check_business(p_request loyalty.customer_approval_requests, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _check_page_limit(p_limit integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._check_page_limit(p_limit integer) FROM PUBLIC;


--
-- Name: FUNCTION _check_points(p_points integer, p_name text, p_signed boolean); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._check_points(p_points integer, p_name text, p_signed boolean) FROM PUBLIC;


--
-- Name: FUNCTION _check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text) FROM PUBLIC;


--
-- Name: FUNCTION _current_group(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._current_group() FROM PUBLIC;


--
-- Name: FUNCTION _decide_by_id(p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._decide_by_id(p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _decide_request(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._decide_request(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _distributed(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._distributed() FROM PUBLIC;


--
-- Name: FUNCTION _earn_points_set(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._earn_points_set(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _ensure_customer(p_user_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._ensure_customer(p_user_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _erased_json(p_data jsonb); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._erased_json(p_data jsonb) FROM PUBLIC;


--
-- Name: FUNCTION _event_channels(p_preferences jsonb, p_category text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._event_channels(p_preferences jsonb, p_category text) FROM PUBLIC;


--
-- Name: FUNCTION _event_new_here(p_xid xid8, p_from jsonb, p_to jsonb); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._event_new_here(p_xid xid8, p_from jsonb, p_to jsonb) FROM PUBLIC;


--
-- Name: FUNCTION _event_passed_here(p_xid xid8, p_positions jsonb); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._event_passed_here(p_xid xid8, p_positions jsonb) FROM PUBLIC;


--
-- Name: FUNCTION _event_xid(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._event_xid() FROM PUBLIC;


--
-- Name: FUNCTION _events_between(p_from pg_snapshot, p_to pg_snapshot); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._events_between(p_from pg_snapshot, p_to pg_snapshot) FROM PUBLIC;


--
-- Name: FUNCTION _events_wake_key(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._events_wake_key() FROM PUBLIC;


--
-- Name: FUNCTION _id_carries_customer(p_request_id uuid, p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._id_carries_customer(p_request_id uuid, p_customer_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _initcap_unicode(p_text text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._initcap_unicode(p_text text) FROM PUBLIC;


--
-- Name: FUNCTION _lock_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._lock_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _luhn_check_digit(p_payload text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._luhn_check_digit(p_payload text) FROM PUBLIC;


--
-- Name: FUNCTION _luhn_pair(p_digits bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._luhn_pair(p_digits bigint) FROM PUBLIC;


--
-- Name: FUNCTION _node_snapshots(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._node_snapshots() FROM PUBLIC;


--
-- Name: FUNCTION _notification_page(p_audience text, p_reader_id bigint, p_unread_only boolean, p_limit integer, p_before uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._notification_page(p_audience text, p_reader_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) FROM PUBLIC;


--
-- Name: FUNCTION _notify_events(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._notify_events() FROM PUBLIC;


--
-- Name: FUNCTION _other_side_message(p_joined boolean, p_customer_name text, p_program_name text, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._other_side_message(p_joined boolean, p_customer_name text, p_program_name text, p_reason text) FROM PUBLIC;


--
-- Name: FUNCTION _other_side_title(p_joined boolean, p_customer_name text, p_program_name text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._other_side_title(p_joined boolean, p_customer_name text, p_program_name text) FROM PUBLIC;


--
-- Name: FUNCTION _points_event_payload(p_customer_name text, p_program_name text, p_business_name text, p_program_id bigint, p_card_id bigint, p_card_number text, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reverses_id bigint, p_preferences jsonb); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._points_event_payload(p_customer_name text, p_program_name text, p_business_name text, p_program_id bigint, p_card_id bigint, p_card_number text, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reverses_id bigint, p_preferences jsonb) FROM PUBLIC;


--
-- Name: FUNCTION _points_message(p_points integer, p_reason text, p_program_name text, p_business_name text, p_balance integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._points_message(p_points integer, p_reason text, p_program_name text, p_business_name text, p_balance integer) FROM PUBLIC;


--
-- Name: FUNCTION _points_notification_data(p_customer_name text, p_program_name text, p_business_name text, p_card_id bigint, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._points_notification_data(p_customer_name text, p_program_name text, p_business_name text, p_card_id bigint, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reason text) FROM PUBLIC;


--
-- Name: FUNCTION _points_title(p_points integer, p_program_name text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._points_title(p_points integer, p_program_name text) FROM PUBLIC;


--
-- Name: FUNCTION _position_now(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._position_now() FROM PUBLIC;


--
-- Name: FUNCTION _program_info(p_program_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._program_info(p_program_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _queue_events_on_nodes(p_consumer text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._queue_events_on_nodes(p_consumer text) FROM PUBLIC;


--
-- Name: FUNCTION _redemption_changed(p_customer_id bigint, p_redemption_id uuid, p_event text, p_balance_after bigint, p_by text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._redemption_changed(p_customer_id bigint, p_redemption_id uuid, p_event text, p_balance_after bigint, p_by text) FROM PUBLIC;


--
-- Name: FUNCTION _redemption_code(p_number bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._redemption_code(p_number bigint) FROM PUBLIC;


--
-- Name: FUNCTION _redemption_details(p_customer_id bigint, p_redemption_id uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._redemption_details(p_customer_id bigint, p_redemption_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION _refresh_business(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._refresh_business() FROM PUBLIC;


--
-- Name: FUNCTION _refuse_erased(p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._refuse_erased(p_customer_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _register_program_business(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._register_program_business() FROM PUBLIC;


--
-- Name: FUNCTION _reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text) FROM PUBLIC;


--
-- Name: FUNCTION _request_customer(p_request_id uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._request_customer(p_request_id uuid) FROM PUBLIC;


--
-- Name: FUNCTION _request_id(p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._request_id(p_customer_id bigint) FROM PUBLIC;


--
-- Name: FUNCTION _share_lock_timeout(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._share_lock_timeout() FROM PUBLIC;


--
-- Name: FUNCTION _stored_result(p_request loyalty.customer_approval_requests); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._stored_result(p_request loyalty.customer_approval_requests) FROM PUBLIC;


--
-- Name: FUNCTION _trim_space(p_text text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty._trim_space(p_text text) FROM PUBLIC;


--
-- Name: FUNCTION accept_invitation(p_request_id uuid, p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.accept_invitation(p_request_id uuid, p_customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.accept_invitation(p_request_id uuid, p_customer_id bigint) TO loyalty_app;


--
-- Name: FUNCTION ack_events(p_consumer text, p_event_ids bigint[]); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[]) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[]) TO loyalty_events;


--
-- Name: FUNCTION adjust_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_note text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.adjust_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_note text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.adjust_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_note text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION answer_points_deduction(p_request_id uuid, p_customer_id bigint, p_approved boolean); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.answer_points_deduction(p_request_id uuid, p_customer_id bigint, p_approved boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.answer_points_deduction(p_request_id uuid, p_customer_id bigint, p_approved boolean) TO loyalty_app;


--
-- Name: FUNCTION approve_enrollment(p_request_id uuid, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.approve_enrollment(p_request_id uuid, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.approve_enrollment(p_request_id uuid, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION begin_events_wait(p_timeout double precision); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.begin_events_wait(p_timeout double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.begin_events_wait(p_timeout double precision) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.begin_events_wait(p_timeout double precision) TO loyalty_events;


--
-- Name: FUNCTION block_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.block_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.block_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION business_notifications(p_business_id bigint, p_unread_only boolean, p_limit integer, p_before uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.business_notifications(p_business_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.business_notifications(p_business_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) TO loyalty_app;


--
-- Name: FUNCTION cancel_redemption(p_customer_id bigint, p_redemption_id uuid, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.cancel_redemption(p_customer_id bigint, p_redemption_id uuid, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.cancel_redemption(p_customer_id bigint, p_redemption_id uuid, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION card_transactions(p_customer_id bigint, p_program_id bigint, p_limit integer, p_before bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.card_transactions(p_customer_id bigint, p_program_id bigint, p_limit integer, p_before bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.card_transactions(p_customer_id bigint, p_program_id bigint, p_limit integer, p_before bigint) TO loyalty_app;


--
-- Name: FUNCTION create_program(p_business_id bigint, p_name text, p_welcome_points integer, p_request_ttl interval, p_points_ttl interval); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.create_program(p_business_id bigint, p_name text, p_welcome_points integer, p_request_ttl interval, p_points_ttl interval) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.create_program(p_business_id bigint, p_name text, p_welcome_points integer, p_request_ttl interval, p_points_ttl interval) TO loyalty_app;


--
-- Name: FUNCTION create_reward(p_business_id bigint, p_program_id bigint, p_name text, p_points_cost integer, p_stock integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.create_reward(p_business_id bigint, p_program_id bigint, p_name text, p_points_cost integer, p_stock integer) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.create_reward(p_business_id bigint, p_program_id bigint, p_name text, p_points_cost integer, p_stock integer) TO loyalty_app;


--
-- Name: FUNCTION customer_cards(p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.customer_cards(p_customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.customer_cards(p_customer_id bigint) TO loyalty_app;


--
-- Name: FUNCTION customer_notifications(p_customer_id bigint, p_unread_only boolean, p_limit integer, p_before uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.customer_notifications(p_customer_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.customer_notifications(p_customer_id bigint, p_unread_only boolean, p_limit integer, p_before uuid) TO loyalty_app;


--
-- Name: FUNCTION decide_enrollment(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.decide_enrollment(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.decide_enrollment(p_customer_id bigint, p_request_id uuid, p_approved boolean, p_reason text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text) TO loyalty_app;


--
-- Name: FUNCTION drop_event_consumer(p_consumer text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.drop_event_consumer(p_consumer text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.drop_event_consumer(p_consumer text) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.drop_event_consumer(p_consumer text) TO loyalty_events;


--
-- Name: FUNCTION earn_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.earn_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.earn_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) TO loyalty_app;


--
-- Name: FUNCTION earn_points_batch(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.earn_points_batch(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.earn_points_batch(p_customer_ids bigint[], p_program_ids bigint[], p_points integer[], p_idempotency_keys text[], p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION end_events_wait(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.end_events_wait() FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.end_events_wait() TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.end_events_wait() TO loyalty_events;


--
-- Name: FUNCTION ensure_customer(p_user_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.ensure_customer(p_user_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.ensure_customer(p_user_id bigint) TO loyalty_app;


--
-- Name: FUNCTION ensure_customer_exists(p_user_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.ensure_customer_exists(p_user_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.ensure_customer_exists(p_user_id bigint) TO loyalty_app;


--
-- Name: FUNCTION erase_customer(p_customer_id bigint, p_requested_by text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.erase_customer(p_customer_id bigint, p_requested_by text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.erase_customer(p_customer_id bigint, p_requested_by text) TO loyalty_privacy;


--
-- Name: FUNCTION event_consumer_status(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.event_consumer_status() FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.event_consumer_status() TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.event_consumer_status() TO loyalty_events;


--
-- Name: FUNCTION expire_points(p_limit integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.expire_points(p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.expire_points(p_limit integer) TO loyalty_app;


--
-- Name: FUNCTION expire_requests(p_limit integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.expire_requests(p_limit integer) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.expire_requests(p_limit integer) TO loyalty_app;


--
-- Name: FUNCTION export_customer(p_customer_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.export_customer(p_customer_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.export_customer(p_customer_id bigint) TO loyalty_privacy;


--
-- Name: FUNCTION fetch_events(p_consumer text, p_limit integer, p_visibility_timeout double precision); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.fetch_events(p_consumer text, p_limit integer, p_visibility_timeout double precision) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.fetch_events(p_consumer text, p_limit integer, p_visibility_timeout double precision) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.fetch_events(p_consumer text, p_limit integer, p_visibility_timeout double precision) TO loyalty_events;


--
-- Name: FUNCTION find_card(p_card_number text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.find_card(p_card_number text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.find_card(p_card_number text) TO loyalty_app;


--
-- Name: FUNCTION fulfil_redemption(p_business_id bigint, p_code text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text) TO loyalty_app;


--
-- Name: FUNCTION invite_customer(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_message text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.invite_customer(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.invite_customer(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_message text) TO loyalty_app;


--
-- Name: FUNCTION leave_program(p_customer_id bigint, p_program_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint) TO loyalty_app;


--
-- Name: FUNCTION mark_notifications_read(p_notification_ids uuid[], p_customer_id bigint, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.mark_notifications_read(p_notification_ids uuid[], p_customer_id bigint, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.mark_notifications_read(p_notification_ids uuid[], p_customer_id bigint, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION pending_invitations(p_customer_id bigint, p_limit integer, p_after uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.pending_invitations(p_customer_id bigint, p_limit integer, p_after uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.pending_invitations(p_customer_id bigint, p_limit integer, p_after uuid) TO loyalty_app;


--
-- Name: FUNCTION pending_requests(p_business_id bigint, p_limit integer, p_after uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.pending_requests(p_business_id bigint, p_limit integer, p_after uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.pending_requests(p_business_id bigint, p_limit integer, p_after uuid) TO loyalty_app;


--
-- Name: FUNCTION process_enrollment_approval(p_request_id uuid, p_approved boolean); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.process_enrollment_approval(p_request_id uuid, p_approved boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.process_enrollment_approval(p_request_id uuid, p_approved boolean) TO loyalty_app;


--
-- Name: FUNCTION process_enrollment_approval(p_customer_id integer, p_program_id integer, p_request_id uuid); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.process_enrollment_approval(p_customer_id integer, p_program_id integer, p_request_id uuid) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.process_enrollment_approval(p_customer_id integer, p_program_id integer, p_request_id uuid) TO loyalty_app;


--
-- Name: FUNCTION process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION program_rewards(p_program_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.program_rewards(p_program_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.program_rewards(p_program_id bigint) TO loyalty_app;


--
-- Name: FUNCTION prune_events(p_older_than interval); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.prune_events(p_older_than interval) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.prune_events(p_older_than interval) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.prune_events(p_older_than interval) TO loyalty_events;


--
-- Name: FUNCTION redeem_reward(p_customer_id bigint, p_reward_id bigint, p_idempotency_key text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.redeem_reward(p_customer_id bigint, p_reward_id bigint, p_idempotency_key text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.redeem_reward(p_customer_id bigint, p_reward_id bigint, p_idempotency_key text) TO loyalty_app;


--
-- Name: FUNCTION register_business(p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.register_business(p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.register_business(p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION reject_enrollment(p_request_id uuid, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.reject_enrollment(p_request_id uuid, p_reason text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.reject_enrollment(p_request_id uuid, p_reason text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION replace_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.replace_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.replace_card(p_customer_id bigint, p_program_id bigint, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text) TO loyalty_app;


--
-- Name: FUNCTION request_points_deduction(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.request_points_deduction(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.request_points_deduction(p_business_id bigint, p_customer_id bigint, p_program_id bigint, p_points integer, p_reason text) TO loyalty_app;


--
-- Name: FUNCTION reverse_points(p_customer_id bigint, p_transaction_id bigint, p_idempotency_key text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.reverse_points(p_customer_id bigint, p_transaction_id bigint, p_idempotency_key text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.reverse_points(p_customer_id bigint, p_transaction_id bigint, p_idempotency_key text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION set_program_status(p_business_id bigint, p_program_id bigint, p_status text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text) TO loyalty_app;


--
-- Name: FUNCTION spend_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.spend_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.spend_points(p_customer_id bigint, p_program_id bigint, p_points integer, p_idempotency_key text, p_business_id bigint, p_reference text) TO loyalty_app;


--
-- Name: FUNCTION tail_events(p_position text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.tail_events(p_position text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.tail_events(p_position text) TO loyalty_app;
GRANT ALL ON FUNCTION loyalty.tail_events(p_position text) TO loyalty_events;


--
-- Name: FUNCTION unblock_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.unblock_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.unblock_card(p_customer_id bigint, p_program_id bigint, p_reason text, p_business_id bigint) TO loyalty_app;


--
-- Name: FUNCTION update_reward(p_business_id bigint, p_reward_id bigint, p_status text, p_points_cost integer, p_stock integer); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.update_reward(p_business_id bigint, p_reward_id bigint, p_status text, p_points_cost integer, p_stock integer) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.update_reward(p_business_id bigint, p_reward_id bigint, p_status text, p_points_cost integer, p_stock integer) TO loyalty_app;


--
-- Name: FUNCTION upsert_user(p_id bigint, p_name text, p_email text); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text) FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text) TO loyalty_app;


--
-- Name: FUNCTION verify_points(); Type: ACL; Schema: loyalty; Owner: loyalty_owner
--

REVOKE ALL ON FUNCTION loyalty.verify_points() FROM PUBLIC;
GRANT ALL ON FUNCTION loyalty.verify_points() TO loyalty_app;


--
-- PostgreSQL database dump complete
--
