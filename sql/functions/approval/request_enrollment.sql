-- Record a user's request to join a program; the request's id carries the customer. It expires
-- after the program's request_ttl (NULL: never). Since 0025 it is published as an event.
CREATE OR REPLACE FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text DEFAULT NULL::text)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
