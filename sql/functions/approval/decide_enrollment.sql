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
