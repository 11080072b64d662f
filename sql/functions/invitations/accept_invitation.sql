-- The customer accepts a business's invitation: exactly an approval (customer, enrollment, card,
-- relationship, welcome points), and the business hears CUSTOMER_JOINED.
CREATE OR REPLACE FUNCTION loyalty.accept_invitation(p_request_id uuid, p_customer_id bigint)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._answer_invitation(p_request_id, p_customer_id, true, NULL);
END;
$$;
