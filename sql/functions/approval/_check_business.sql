-- LY006 unless the business deciding (when given) is the request's program's business, and the
-- row is a request (an invitation is the customer's to answer).
CREATE OR REPLACE FUNCTION loyalty._check_business(p_request loyalty.customer_approval_requests, p_business_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_business_id IS NOT NULL AND p_business_id <> p_request.business_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not decide request %s: its program belongs to another business',
                             p_business_id, p_request.id);
    ELSIF p_business_id IS NOT NULL AND p_request.kind <> 'REQUEST' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not decide %s: it is an invitation, which its customer answers',
                             p_business_id, p_request.id);
    END IF;
END;
$$;
