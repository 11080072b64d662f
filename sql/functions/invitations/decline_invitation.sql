-- The customer declines a business's invitation, with an optional reason the business reads in
-- its INVITATION_DECLINED notification.
CREATE OR REPLACE FUNCTION loyalty.decline_invitation(p_request_id uuid, p_customer_id bigint, p_reason text DEFAULT NULL)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._answer_invitation(p_request_id, p_customer_id, false, p_reason);
END;
$$;
