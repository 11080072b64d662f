-- A customer's answer to an invitation: only an INVITATION of that customer may be answered
-- (LY006 otherwise, nothing changed); then the same engine as a business's decision.
CREATE OR REPLACE FUNCTION loyalty._answer_invitation(
    p_request_id  uuid,
    p_customer_id bigint,
    p_accepted    boolean,
    p_reason      text
)
RETURNS loyalty.enrollment_result
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
