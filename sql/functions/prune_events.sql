-- Delete events older than p_older_than that every registered consumer has acknowledged: queued
-- for each (visible in its position) and no longer queued for any. With no consumer registered
-- nothing is pruned: an event nobody has acknowledged is kept. Returns how many were deleted.
CREATE OR REPLACE FUNCTION loyalty.prune_events(p_older_than interval DEFAULT '7 days')
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_pruned integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('older_than must be 0 or more, not %s', p_older_than);
    END IF;
    DELETE FROM loyalty.events AS e
     WHERE e.occurred_at < now() - p_older_than
       AND EXISTS (SELECT FROM loyalty.event_consumers)
       AND NOT EXISTS (SELECT FROM loyalty.event_consumers AS c WHERE NOT pg_visible_in_snapshot(e.xid, c.position))
       AND NOT EXISTS (SELECT FROM loyalty.event_deliveries AS d WHERE d.event_id = e.id);
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END;
$$;
