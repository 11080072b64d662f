-- A faster approval, measured against the released 0009 with pgbench (docs/benchmarks.md): the
-- 0012 keys had cost about 10% at 8 clients. Each change below removes work from every approval:
-- a plan made again on every call, a function the planner could not inline, a search_path
-- switch, a statement that a join can carry. Behaviour is unchanged.
-- depends: 0012_distribution_keys

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- The customer for a user, created from the users row when missing; safe under any concurrency.
-- The body of ensure_customer (0011), which approvals now call without its SECURITY DEFINER
-- switch (a save and restore of search_path on every call). The lock stays KEY SHARE: a stronger
-- one here deadlocks with a batch, which takes its customers KEY SHARE and upgrades them later.
CREATE FUNCTION loyalty._ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_user   loyalty.users;
    v_result loyalty.customer_result;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'user id must not be NULL';
    END IF;

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

-- The API entry point (0008_roles grants it to loyalty_app).
CREATE OR REPLACE FUNCTION loyalty.ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._ensure_customer(p_user_id);
END;
$$;

-- As in 0012, except that on one server the program's row lock comes with the program itself
-- (one statement, not two), and the customer comes from _ensure_customer.
CREATE OR REPLACE FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $$
DECLARE
    v_program         loyalty._program_info;
    v_customer        loyalty.customer_result;
    v_enrollment_id   bigint;
    v_card_id         bigint;
    v_card_number     text;
    v_notification_id uuid;
BEGIN
    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    -- Not on a cluster: there a row lock on reference data locks the whole shard.
    IF loyalty._distributed() THEN
        v_program := loyalty._program_info(p_request.program_id);
    ELSE
        SELECT p.id, p.name, p.status, p.business_id, loyalty._display_name(b.id, b.name, b.email, 'Business')
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
    RETURNING e.id INTO v_enrollment_id;

    -- The card that exists (duplicate request, returning customer), re-activated; else a new
    -- one. The enrollment row locked above serialises this check for the pair, so a card
    -- number is made only for a card that is really new.
    UPDATE loyalty.loyalty_cards AS c
       SET status = 'ACTIVE', updated_at = now()
     WHERE c.customer_id = v_customer.id AND c.program_id = v_program.id
    RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
    IF NOT FOUND THEN
        INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id, card_number)
        VALUES (v_customer.id, v_program.id, v_program.business_id, loyalty._card_number(v_customer.id))
        RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
    END IF;

    -- One CARD_CREATED notification per card (partial unique index); a reused card keeps its own.
    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, card_id)
    VALUES (v_customer.id, v_program.business_id, 'CARD_CREATED',
            format('Your %s card is ready', v_program.name),
            format('Welcome to %s at %s, %s! Your loyalty card is ready to use.',
                   v_program.name, v_program.business_name, v_customer.name),
            jsonb_build_object('customer_name', v_customer.name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'card_number', v_card_number,
                               'request_id', p_request.id),
            v_card_id)
    ON CONFLICT (customer_id, card_id) WHERE type = 'CARD_CREATED' DO NOTHING
    RETURNING n.id INTO v_notification_id;
    IF NOT FOUND THEN
        SELECT n.id INTO STRICT v_notification_id
          FROM loyalty.customer_notifications AS n
         WHERE n.customer_id = v_customer.id AND n.card_id = v_card_id AND n.type = 'CARD_CREATED';
    END IF;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.customer_id = p_request.customer_id AND n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'APPROVED', response_at = now(),
           enrollment_id = v_enrollment_id, card_id = v_card_id,
           customer_created = v_customer.created, result_notification_id = v_notification_id
     WHERE r.customer_id = p_request.customer_id AND r.id = p_request.id;

    RETURN ROW(p_request.id, 'APPROVED', v_customer.id, v_program.id, v_enrollment_id,
               v_card_id, v_card_number, v_customer.created, v_notification_id)::loyalty.enrollment_result;
END;
$$;

-- As in 0011, with `p_id::text`: `text || bigint` is only STABLE, which kept the planner from
-- inlining this IMMUTABLE function (each call ran through the SQL-function executor).
CREATE OR REPLACE FUNCTION loyalty._display_name(p_id bigint, p_name text, p_email text, p_fallback text DEFAULT 'Customer'::text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        nullif(loyalty._trim_space(p_name), ''),
        -- Greedy '.*' keeps everything before the last '@': the RFC 5322 local part.
        nullif(loyalty._trim_space(loyalty._initcap_unicode(replace(substring(p_email FROM '^(.*)@'), '.', ' '))), ''),
        p_fallback || ' ' || p_id::text
    )
$$;

-- As in 0012, as one SQL expression the planner inlines (from the hex of the uuid's bytes).
CREATE OR REPLACE FUNCTION loyalty._request_customer(p_request_id uuid)
RETURNS bigint
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

-- As in 0012, with the decoding a plpgsql simple expression. The 0012 form, coalesce(decoded,
-- (SELECT ...)), was cheaper as a custom plan with the decoding folded to a constant, so every call
-- planned the statement again and ran the decoding through the SQL-function executor.
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approval(
    p_request_id  uuid,
    p_approved    boolean DEFAULT true,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_customer_id bigint;
BEGIN
    IF p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and approved must not be NULL';
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
