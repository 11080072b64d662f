-- Write a user as the application knows it (contract "Who writes users and programs"): the row
-- of that id made or brought up to date, so that a service's loyalty_app login needs no table
-- privilege. A business's copy (loyalty.businesses) follows its user: on one server the users
-- trigger does that, on a Citus cluster (no trigger there) this function. Returns the id.
CREATE OR REPLACE FUNCTION loyalty.upsert_user(p_id bigint, p_name text, p_email text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'a user id is required, not NULL';
    END IF;
    INSERT INTO loyalty.users AS u (id, name, email)
    VALUES (p_id, p_name, p_email)
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email
     WHERE (u.name, u.email) IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.email);
    IF loyalty._distributed() THEN
        UPDATE loyalty.businesses AS b SET name = p_name, email = p_email, updated_at = now()
         WHERE b.id = p_id AND (b.name, b.email) IS DISTINCT FROM (p_name, p_email);
    END IF;
    RETURN p_id;
END;
$$;
