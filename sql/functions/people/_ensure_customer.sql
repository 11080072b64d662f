-- The customer for a user, created from the users row when missing; safe under any concurrency.
-- The body of ensure_customer (0011), which approvals now call without its SECURITY DEFINER
-- switch (a save and restore of search_path on every call). The lock stays KEY SHARE: a stronger
-- one here deadlocks with a batch, which takes its customers KEY SHARE and upgrades them later.
CREATE OR REPLACE FUNCTION loyalty._ensure_customer(p_user_id bigint)
RETURNS loyalty.customer_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_user   loyalty.users;
    v_result loyalty.customer_result;
BEGIN
    IF p_user_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'user id must not be NULL';
    END IF;
    -- An erased customer is never created or used again (0041: CustomerErased, LY019).
    PERFORM loyalty._refuse_erased(p_user_id);

    -- Fast path: the customer usually exists. KEY SHARE keeps it until we commit, so the rows
    -- we write next can refer to it; one deleted meanwhile is not found, and created again.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id
       FOR KEY SHARE;
    IF FOUND THEN
        RETURN v_result;
    END IF;

    -- KEY SHARE: a concurrent DELETE of the user waits for us, or we see it gone.
    SELECT u.* INTO v_user FROM loyalty.users AS u WHERE u.id = p_user_id FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot create customer record.', p_user_id);
    END IF;

    -- A concurrent creator makes us wait for its commit, and then this insert does nothing.
    INSERT INTO loyalty.customers AS c (id, user_id, name, email)
    VALUES (v_user.id, v_user.id, loyalty._display_name(v_user.id, v_user.name, v_user.email), v_user.email)
    ON CONFLICT DO NOTHING
    RETURNING c.id, c.user_id, c.name, c.email, true
    INTO v_result;
    IF FOUND THEN
        RAISE NOTICE 'created customer % (%) from user %', v_result.id, v_result.name, p_user_id;
        RETURN v_result;
    END IF;

    -- DO NOTHING returns no row: lock and read the one the concurrent creator committed.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO STRICT v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id
       FOR KEY SHARE;
    RETURN v_result;
END;
$$;
