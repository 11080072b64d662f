-- The API entry point (0008_roles grants it to loyalty_app).
CREATE OR REPLACE FUNCTION loyalty.ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN loyalty._ensure_customer(p_user_id);
END;
$$;
