-- Customers from users: display-name derivation and ensure_customer_exists.
-- depends: 0005_card_numbers
--
-- SQLSTATEs raised here (class LY, see README): LY003 user not found, 22004 NULL argument.

-- Leading and trailing white space removed: space, tab, newline, carriage return, vertical
-- tab, form feed. A character set, not a regular expression: the same in every locale, and
-- cheap on the approval's hot path (it names the business in every notification).
CREATE FUNCTION loyalty.trim_space(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT btrim(p_text, E' \t\n\r\x0B\f')
$$;

-- A person's display name: the trimmed name when not blank; else, when the email has an '@',
-- its local part with '.' turned to ' ' in initial capitals; else '<p_fallback> <id>'.
CREATE FUNCTION loyalty.display_name(p_id bigint, p_name text, p_email text, p_fallback text DEFAULT 'Customer')
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        nullif(loyalty.trim_space(p_name), ''),
        -- Greedy '.*' keeps everything before the last '@': the RFC 5322 local part.
        nullif(loyalty.trim_space(initcap(replace(substring(p_email FROM '^(.*)@'), '.', ' '))), ''),
        p_fallback || ' ' || p_id
    )
$$;

CREATE TYPE loyalty.customer_result AS (
    id      bigint,
    user_id bigint,
    name    text,
    email   text,
    created boolean
);

-- The customer for a user, created from the users row when missing; safe under any concurrency.
CREATE FUNCTION loyalty.ensure_customer(p_user_id bigint)
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

    -- Fast path: the customer usually exists already.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id;
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

    -- No conflict target: covers both unique keys (id and user_id). A concurrent creator
    -- makes us wait for its commit, and then this insert does nothing.
    INSERT INTO loyalty.customers AS c (id, user_id, name, email)
    VALUES (v_user.id, v_user.id, loyalty.display_name(v_user.id, v_user.name, v_user.email), v_user.email)
    ON CONFLICT DO NOTHING
    RETURNING c.id, c.user_id, c.name, c.email, true
    INTO v_result;
    IF FOUND THEN
        RAISE NOTICE 'created customer % (%) from user %', v_result.id, v_result.name, p_user_id;
        RETURN v_result;
    END IF;

    -- DO NOTHING returns no row: read the one the concurrent creator committed.
    SELECT c.id, c.user_id, c.name, c.email, false
      INTO STRICT v_result
      FROM loyalty.customers AS c
     WHERE c.id = p_user_id;
    RETURN v_result;
END;
$$;

-- The contract's entry point: the customer's id, creating the row from users when missing.
CREATE FUNCTION loyalty.ensure_customer_exists(p_user_id bigint)
RETURNS bigint
LANGUAGE sql
AS $$
    SELECT (loyalty.ensure_customer(p_user_id)).id
$$;
