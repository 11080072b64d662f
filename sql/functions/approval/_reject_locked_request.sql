-- Reject a PENDING request whose row (and its siblings') the caller has locked; statements by customer.
-- A declined invitation tells the business instead of the customer (0020). Since 0025 the decision
-- is published as an event (docs/events.md).
CREATE OR REPLACE FUNCTION loyalty._reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $function$
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
$function$;
