-- Expire what is left of overdue credits (contract "Points expiry"): a credit (EARN, WELCOME,
-- REFUND, a positive ADJUST or REVERSAL) of a program with a points_ttl expires that long after
-- it was made; OPENING and IMPORT rows never do. At most p_limit credits, oldest first; for each,
-- under its card's locks (the ledger's own), what is left of it NOW is written off as an EXPIRE
-- row through the ledger's writer, which takes it from the credits that expire soonest: this one
-- (the card's oldest open credit that can expire). So a point spent meanwhile is never expired,
-- and two sweeps at once expire a credit once (the second finds nothing left, or its key).
-- Returns how many credits it expired; call it until it returns less than p_limit. (No
-- sequential scan, even of a one-program catalogue: a key probe, since 0039.)
CREATE OR REPLACE FUNCTION loyalty.expire_points(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_due     record;
    v_left    integer;
    v_expired integer := 0;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    FOR v_due IN
        SELECT t.customer_id, t.program_id, t.id
          FROM loyalty.point_transactions AS t
          JOIN loyalty.loyalty_programs AS g ON g.id = t.program_id
         WHERE t.points > t.consumed AND t.reason::text NOT IN ('OPENING', 'IMPORT')
           AND g.points_ttl IS NOT NULL AND t.created_at <= now() - g.points_ttl
           -- An erased customer's points change no more (0041): never picked, so never in the way.
           AND NOT EXISTS (SELECT FROM loyalty.erased_customers AS x WHERE x.customer_id = t.customer_id)
         ORDER BY t.created_at, t.customer_id, t.id
         LIMIT p_limit
    LOOP
        PERFORM loyalty._lock_card(v_due.customer_id, v_due.program_id, NULL);
        SELECT t.points - t.consumed INTO v_left FROM loyalty.point_transactions AS t
         WHERE t.customer_id = v_due.customer_id AND t.id = v_due.id;
        IF v_left > 0 THEN
            -- (A replay wrote nothing: not counted, so a caller looping until less than p_limit
            -- comes back can never loop on it.)
            IF NOT (loyalty._change_points(v_due.customer_id, v_due.program_id, -v_left, 'EXPIRE',
                                           'expire:' || v_due.id, NULL, NULL, NULL)).replayed THEN
                v_expired := v_expired + 1;
            END IF;
        END IF;
    END LOOP;
    RETURN v_expired;
END;
$$;
