-- A business's PENDING requests, oldest first, p_limit (1-1000) at a time. Pages are keyset, not
-- OFFSET: pass the last request id of a page as p_after to get the next one.
CREATE OR REPLACE FUNCTION loyalty.pending_requests(
    p_business_id bigint,
    p_limit       integer DEFAULT 50,
    p_after       uuid DEFAULT NULL
)
RETURNS SETOF loyalty.pending_request
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Before every request: the first page.
    v_after_at timestamptz := '-infinity'::timestamptz;
    v_after_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
    v_customer bigint := loyalty._request_customer(p_after);
BEGIN
    IF p_business_id IS NULL OR p_limit IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business id and limit must not be NULL';
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_after IS NOT NULL THEN
        -- The cursor request may be decided by now; its place in the order stays the same.
        SELECT r.requested_at, r.id INTO v_after_at, v_after_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.id = p_after AND r.business_id = p_business_id
           AND r.customer_id = coalesce(v_customer, r.customer_id);
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY001',
                MESSAGE = format('Enrollment request not found: %s (after= names no request of business %s)',
                                 p_after, p_business_id);
        END IF;
    END IF;

    -- A requester may not be a customer yet: then the name comes from the users row. Subqueries,
    -- not joins: each is one key probe per row of the page (a join may scan the users).
    RETURN QUERY
    SELECT r.id, r.customer_id,
           coalesce((SELECT c.name FROM loyalty.customers AS c WHERE c.id = r.customer_id),
                    (SELECT loyalty._display_name(u.id, u.name, u.email) FROM loyalty.users AS u WHERE u.id = r.customer_id),
                    loyalty._display_name(r.customer_id, NULL, NULL)),
           r.program_id, p.name, r.requested_at
      FROM loyalty.customer_approval_requests AS r
      JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
     WHERE r.business_id = p_business_id
       AND r.status = 'PENDING'
       -- Requests only (invitations are the customers' to answer), and none overdue, swept or not.
       AND r.kind = 'REQUEST'
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (r.requested_at, r.id) > (v_after_at, v_after_id)
     ORDER BY r.requested_at, r.id
     LIMIT p_limit;
END;
$$;
