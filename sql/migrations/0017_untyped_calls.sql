-- Every SQL call works with untyped parameters ($1, $2, ... as node-postgres and asyncpg send
-- them): no two functions of one name take the same number of arguments any more.
-- process_enrollment_approval keeps the contract's (uuid, boolean) and the replaced system's
-- (integer, integer, uuid); a reason or the deciding business go through approve_enrollment and
-- reject_enrollment, and the one-hop form that names the customer is decide_enrollment (it was
-- an overload). A request's message is capped at 1,000 characters (LY010), like reasons.
-- Written by tools/new_migration.py from sql/functions/.
-- depends: 0016_shared_approval_rules

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- No source defines it any more.
DROP FUNCTION loyalty.process_enrollment_approval(bigint,uuid,boolean,text,bigint);

-- No source defines it any more.
DROP FUNCTION loyalty.process_enrollment_approval(uuid,boolean,text,bigint);

-- sql/functions/_decide_by_id.sql
-- Decide a request known by its id alone: its customer from the id when it carries one (a simple
-- expression, planned once), else from its row. The one body behind process_enrollment_approval,
-- approve_enrollment and reject_enrollment. A plpgsql simple expression, not coalesce(decoded,
-- (SELECT ...)): that form was cheaper as a custom plan with the decoding folded to a constant,
-- so every call planned the statement again.
CREATE OR REPLACE FUNCTION loyalty._decide_by_id(
    p_request_id  uuid,
    p_approved    boolean,
    p_reason      text,
    p_business_id bigint
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
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

-- sql/functions/approve_enrollment.sql
-- Approve a request by its id. With p_business_id, a request for another business's program
-- raises LY006 and changes nothing (the Python approve_enrollment(..., business_id=)).
CREATE OR REPLACE FUNCTION loyalty.approve_enrollment(p_request_id uuid, p_business_id bigint DEFAULT NULL)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, true, NULL, p_business_id);
END;
$$;

-- sql/functions/decide_enrollment.sql
-- Decide a join request of a known customer in one transaction: approve (the default) or
-- reject it. With p_business_id, only that business may decide. A Citus cluster delegates it to
-- the customer's worker (one hop), which is why the Python API calls it when the request id
-- carries its customer. Its own name, not an overload of process_enrollment_approval: a driver
-- that sends untyped parameters ($1, $2) could not choose between the two.
CREATE OR REPLACE FUNCTION loyalty.decide_enrollment(
    p_customer_id bigint,
    p_request_id  uuid,
    p_approved    boolean DEFAULT true,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_customer_id IS NULL OR p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id, request id and approved must not be NULL';
    END IF;
    RETURN loyalty._decide_request(p_customer_id, p_request_id, p_approved, p_reason, p_business_id);
END;
$$;

-- sql/functions/process_enrollment_approval.sql
-- The contract's call: approve (the default) or reject the request, by its id. Only these two
-- parameters: with a third, a driver's untyped ($1, $2, $3) could not be told from the replaced
-- system's (integer, integer, uuid) call. A reason, or the deciding business, go through
-- loyalty.reject_enrollment / loyalty.approve_enrollment.
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approval(
    p_request_id uuid,
    p_approved   boolean DEFAULT true
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, p_approved, NULL, NULL);
END;
$$;

-- The replaced system's call, `SELECT process_enrollment_approval(customer_id, program_id,
-- request_id)` with (integer, integer, uuid), returning the card id: its callers move to
-- loyaltydb unchanged. The request must be that customer's and for that program (a mix-up is
-- refused, not approved); then it is approved by the same code as every approval.
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approval(
    p_customer_id integer,
    p_program_id  integer,
    p_request_id  uuid
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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

-- sql/functions/reject_enrollment.sql
-- Reject a request by its id, with an optional reason (at most 1,000 characters: LY008) that the
-- customer is sent. p_business_id: as for approve_enrollment.
CREATE OR REPLACE FUNCTION loyalty.reject_enrollment(
    p_request_id  uuid,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._decide_by_id(p_request_id, false, p_reason, p_business_id);
END;
$$;

-- sql/functions/request_enrollment.sql
-- Record a user's request to join a program; the request's id carries the customer.
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

    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;

    SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_customer_name
      FROM loyalty.users AS u
     WHERE u.id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot request enrollment.', p_customer_id);
    END IF;

    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, requires_action)
    VALUES (p_customer_id, v_program.business_id, 'ENROLLMENT_REQUEST',
            format('%s wants to join %s', v_customer_name, v_program.name),
            format('%s asked to join %s at %s.', v_customer_name, v_program.name, v_program.business_name),
            jsonb_build_object('request_id', v_request_id,
                               'customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name),
            true)
    RETURNING n.id INTO v_notification_id;

    INSERT INTO loyalty.customer_approval_requests
           (id, customer_id, program_id, business_id, notification_id, message)
    VALUES (v_request_id, p_customer_id, p_program_id, v_program.business_id, v_notification_id, p_message);

    RETURN v_request_id;
END;
$function$;

GRANT EXECUTE ON FUNCTION loyalty.approve_enrollment(uuid,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.decide_enrollment(bigint,uuid,boolean,text,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.process_enrollment_approval(uuid,boolean) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.reject_enrollment(uuid,text,bigint) TO loyalty_app;
