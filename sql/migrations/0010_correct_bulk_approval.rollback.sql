-- Back to the definitions of 0005-0009 (owner, grants and SECURITY DEFINER as 0008 set them).

SET LOCAL ROLE loyalty_owner;

CREATE OR REPLACE FUNCTION loyalty.display_name(p_id bigint, p_name text, p_email text, p_fallback text DEFAULT 'Customer')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        nullif(loyalty.trim_space(p_name), ''),
        -- Greedy '.*' keeps everything before the last '@': the RFC 5322 local part.
        nullif(loyalty.trim_space(initcap(replace(substring(p_email FROM '^(.*)@'), '.', ' '))), ''),
        p_fallback || ' ' || p_id
    )
$$;

CREATE OR REPLACE FUNCTION loyalty.ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_user   loyalty.users;
    v_result loyalty.customer_result;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'user id must not be NULL';
    END IF;

    -- Fast path: the customer usually exists already.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id;
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

    -- No conflict target: covers both unique keys (id and user_id). A concurrent creator
    -- makes us wait for its commit, and then this insert does nothing.
    INSERT INTO loyalty.customers AS c (id, user_id, name, email)
    VALUES (v_user.id, v_user.id, loyalty.display_name(v_user.id, v_user.name, v_user.email), v_user.email)
    ON CONFLICT DO NOTHING
    RETURNING c.id, c.user_id, c.name, c.email, true
    INTO v_result;
    IF FOUND THEN
        RAISE NOTICE 'created customer % (%) from user %', v_result.id, v_result.name, p_user_id;
        RETURN v_result;
    END IF;

    -- DO NOTHING returns no row: read the one the concurrent creator committed.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO STRICT v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id;
    RETURN v_result;
END;
$$;

CREATE OR REPLACE FUNCTION loyalty.next_card_number()
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_payload text := nextval('loyalty.card_number_seq')::text;
BEGIN
    RETURN v_payload || loyalty.luhn_check_digit(v_payload);
END;
$$;

CREATE OR REPLACE FUNCTION loyalty.reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_program         loyalty.program_info;
    v_customer_name   text;
    v_notification_id uuid;
BEGIN
    v_program := loyalty.program_info(p_request.program_id);

    -- The person may not be a customer, nor even a user any more: name them as best we can.
    SELECT coalesce(
               (SELECT c.name FROM loyalty.customers AS c WHERE c.id = p_request.customer_id),
               (SELECT loyalty.display_name(u.id, u.name, u.email)
                  FROM loyalty.users AS u WHERE u.id = p_request.customer_id),
               loyalty.display_name(p_request.customer_id, NULL, NULL))
      INTO v_customer_name;

    INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data)
    VALUES (p_request.customer_id, p_request.business_id, 'ENROLLMENT_REJECTED',
            format('Your request to join %s', v_program.name),
            format('Sorry %s, %s did not approve your request to join %s.%s',
                   v_customer_name, v_program.business_name, v_program.name,
                   coalesce(' Reason: ' || p_reason, '')),
            jsonb_build_object('customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'reason', p_reason,
                               'request_id', p_request.id))
    RETURNING n.id INTO v_notification_id;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'REJECTED', response_at = now(), rejection_reason = p_reason,
           customer_created = false, result_notification_id = v_notification_id
     WHERE r.id = p_request.id;

    RETURN ROW(p_request.id, 'REJECTED', p_request.customer_id, p_request.program_id, NULL,
               NULL, NULL, false, v_notification_id)::loyalty.enrollment_result;
END;
$$;

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
    v_request loyalty.customer_approval_requests;
BEGIN
    IF p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and approved must not be NULL';
    END IF;

    -- Every decision on one request is serialised here; the waiter then sees the decided row.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;

    RETURN loyalty.decide_locked_request(v_request, p_approved, p_reason, p_business_id);
END;
$$;

CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id         uuid;
    v_request    loyalty.customer_approval_requests;
    v_customers  bigint[] := ARRAY[]::bigint[];
    v_businesses bigint[] := ARRAY[]::bigint[];
    v_item       record;
    v_results    loyalty.enrollment_result[] := ARRAY[]::loyalty.enrollment_result[];
BEGIN
    IF p_request_ids IS NULL OR array_position(p_request_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request ids must not be NULL';
    END IF;

    -- Every request first, one primary-key probe each, in id order: batches never wait on each
    -- other's requests in a circle.
    FOR v_id IN SELECT DISTINCT u.id FROM unnest(p_request_ids) AS u (id) ORDER BY 1
    LOOP
        PERFORM FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id FOR UPDATE;
    END LOOP;

    -- In the caller's order, the errors one-by-one approval would raise first.
    FOREACH v_id IN ARRAY p_request_ids
    LOOP
        SELECT r.* INTO v_request FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_id);
        END IF;
        PERFORM loyalty.check_business(v_request, p_business_id);
        IF v_request.status = 'REJECTED' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY002', MESSAGE = format('Enrollment request %s is already REJECTED', v_id);
        END IF;
        v_customers := v_customers || v_request.customer_id;
        v_businesses := v_businesses || v_request.business_id;
    END LOOP;

    -- Decide by customer, then business, then the caller's order: every batch takes row locks
    -- in that one order (and a single approval touches one customer), so none can deadlock.
    -- Within a (customer, business) the caller's order is kept, so the results are those of
    -- one-by-one approval; only which request created a new customer can differ (fixed below).
    FOR v_item IN
        SELECT t.position, t.id
          FROM unnest(p_request_ids, v_customers, v_businesses) WITH ORDINALITY
               AS t (id, customer_id, business_id, position)
         ORDER BY t.customer_id, t.business_id, t.position
    LOOP
        SELECT r.* INTO v_request FROM loyalty.customer_approval_requests AS r WHERE r.id = v_item.id;
        v_results[v_item.position] := loyalty.decide_locked_request(v_request, true, NULL, p_business_id);
    END LOOP;

    -- A customer created by this batch was created, one by one, by its first request in the
    -- caller's order: say so in the results and in the outcome kept for replays.
    FOR v_item IN
        SELECT t.customer_id, (array_agg(t.request_id ORDER BY t.position))[1] AS creator
          FROM unnest(v_results) WITH ORDINALITY AS t (request_id, status, customer_id, program_id,
               enrollment_id, card_id, card_number, customer_created, notification_id, position)
         GROUP BY t.customer_id
        HAVING bool_or(t.customer_created)
    LOOP
        UPDATE loyalty.customer_approval_requests AS r
           SET customer_created = (r.id = v_item.creator)
         WHERE r.id = ANY (p_request_ids) AND r.customer_id = v_item.customer_id;
        FOR i IN 1 .. cardinality(v_results) LOOP
            IF v_results[i].customer_id = v_item.customer_id THEN
                v_results[i].customer_created := v_results[i].request_id = v_item.creator;
            END IF;
        END LOOP;
    END LOOP;

    RETURN QUERY SELECT * FROM unnest(v_results);
END;
$$;

DROP FUNCTION loyalty.initcap_unicode(text);
