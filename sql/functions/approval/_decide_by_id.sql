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
