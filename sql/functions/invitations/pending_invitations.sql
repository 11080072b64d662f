-- A customer's PENDING invitations still in time, oldest first, p_limit (1-1000) at a time, keyset
-- pages like pending_requests (p_after: the last invitation id of the previous page).
CREATE OR REPLACE FUNCTION loyalty.pending_invitations(
    p_customer_id bigint,
    p_limit       integer DEFAULT 50,
    p_after       uuid DEFAULT NULL
)
RETURNS SETOF loyalty.pending_invitation
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_after_at timestamptz := '-infinity'::timestamptz;
    v_after_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
BEGIN
    IF p_customer_id IS NULL OR p_limit IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id and limit must not be NULL';
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_after IS NOT NULL THEN
        SELECT r.requested_at, r.id INTO v_after_at, v_after_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.customer_id = p_customer_id AND r.id = p_after AND r.kind = 'INVITATION';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY001',
                MESSAGE = format('Enrollment request not found: %s (after= names no invitation of customer %s)',
                                 p_after, p_customer_id);
        END IF;
    END IF;

    -- Overdue rows are left out before the sweep marks them.
    RETURN QUERY
    SELECT r.id, r.business_id, b.display_name,
           r.program_id, p.name, r.requested_at, r.expires_at
      FROM loyalty.customer_approval_requests AS r
      JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
      JOIN loyalty.businesses AS b ON b.id = r.business_id
     WHERE r.customer_id = p_customer_id
       AND r.kind = 'INVITATION' AND r.status = 'PENDING'
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (r.requested_at, r.id) > (v_after_at, v_after_id)
     ORDER BY r.requested_at, r.id
     LIMIT p_limit;
END;
$$;
