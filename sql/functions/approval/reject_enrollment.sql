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
