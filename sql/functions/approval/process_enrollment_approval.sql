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
