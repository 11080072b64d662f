-- As in 0012, with the cap on the rejection reason (Python: ReasonTooLong).
CREATE OR REPLACE FUNCTION loyalty._decide_request(
    p_customer_id bigint,
    p_request_id  uuid,
    p_approved    boolean,
    p_reason      text,
    p_business_id bigint
)
RETURNS loyalty.enrollment_result
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
