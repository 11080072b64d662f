-- A business invites a user (a customer or not yet) to one of its programs; the invitation's id
-- carries the customer, and it expires after the program's request_ttl. While an invitation of
-- that customer to that program is PENDING and in time, inviting again returns it: one partial
-- unique index makes concurrent invitations converge on one row. Since 0025 it publishes
-- invitation.sent (and request.expired for an overdue invitation it replaces) as events.
CREATE OR REPLACE FUNCTION loyalty.invite_customer(
    p_business_id bigint,
    p_customer_id bigint,
    p_program_id  bigint,
    p_message     text DEFAULT NULL
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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
