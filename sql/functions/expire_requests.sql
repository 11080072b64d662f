-- Mark at most p_limit overdue PENDING requests and invitations EXPIRED; returns how many. Call it
-- until it returns less than p_limit (`loyaltydb expire` does, one transaction a batch). A row
-- being decided is skipped on one server (SKIP LOCKED) and waited for on a cluster, where a
-- statement cannot lock rows on several workers; the status test is made again after any wait,
-- so a decision that commits first wins and two sweeps never mark a row twice.
CREATE OR REPLACE FUNCTION loyalty.expire_requests(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_expired integer;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    IF loyalty._distributed() THEN
        PERFORM loyalty._share_lock_timeout();  -- the caller's lock_timeout reaches the workers
        UPDATE loyalty.customer_approval_requests AS r
           SET status = 'EXPIRED', response_at = now()
         WHERE (r.customer_id, r.id) IN (SELECT d.customer_id, d.id
                                           FROM loyalty.customer_approval_requests AS d
                                          WHERE d.status = 'PENDING' AND d.expires_at <= now()
                                          LIMIT p_limit)
           AND r.status = 'PENDING' AND r.expires_at <= now();
    ELSE
        WITH due AS (
            SELECT d.customer_id, d.id
              FROM loyalty.customer_approval_requests AS d
             WHERE d.status = 'PENDING' AND d.expires_at <= now()
             ORDER BY d.expires_at
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED
        )
        UPDATE loyalty.customer_approval_requests AS r
           SET status = 'EXPIRED', response_at = now()
          FROM due
         WHERE r.customer_id = due.customer_id AND r.id = due.id;
    END IF;
    GET DIAGNOSTICS v_expired = ROW_COUNT;
    RETURN v_expired;
END;
$$;
