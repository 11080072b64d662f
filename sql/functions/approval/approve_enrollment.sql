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
