-- Decide a join request of a known customer in one transaction: approve (the default) or
-- reject it. The overload a cluster delegates to the customer's worker. With p_business_id,
-- only that business may decide.
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approval(
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
