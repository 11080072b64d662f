-- The API entry point (0008_roles grants it to loyalty_app).
CREATE OR REPLACE FUNCTION loyalty.ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_customer loyalty.customer_result;
BEGIN
    IF loyalty._distributed() THEN  -- the caller's lock_timeout reaches the workers
        PERFORM loyalty._share_lock_timeout();
    END IF;
    v_customer := loyalty._ensure_customer(p_user_id);
    -- A customer made here is published (an approval publishes its own with its other events).
    IF v_customer.created THEN
        INSERT INTO loyalty.events (customer_id, type, payload)
        VALUES (v_customer.id, 'customer.created',
                jsonb_build_object('customer_name', v_customer.name, 'email', v_customer.email));
    END IF;
    RETURN v_customer;
END;
$$;
