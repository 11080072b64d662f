-- The page size of every keyset listing (inboxes and feeds): 1 to 1,000 rows, else 22023.
CREATE OR REPLACE FUNCTION loyalty._check_page_limit(p_limit integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 1000, not %s', p_limit);
    END IF;
END;
$$;
