-- The API entry point (0008_roles grants it to loyalty_app).
CREATE OR REPLACE FUNCTION loyalty.ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    RETURN loyalty._ensure_customer(p_user_id);
END;
$$;
