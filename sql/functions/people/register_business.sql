-- Copy (or refresh) a business's users row into loyalty.businesses. On a cluster, where no
-- trigger can do it, call this after inserting or renaming a business's user.
CREATE OR REPLACE FUNCTION loyalty.register_business(p_business_id bigint)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO loyalty.businesses AS b (id, name, email)
    SELECT u.id, u.name, u.email FROM loyalty.users AS u WHERE u.id = p_business_id
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003', MESSAGE = format('User not found for business_id: %s. Cannot register the business.', p_business_id);
    END IF;
END;
$$;
