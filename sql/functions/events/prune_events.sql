-- Delete events older than p_older_than that every registered consumer has acknowledged: queued
-- for each (visible in its position) and no longer queued for any. With no consumer registered
-- nothing is pruned: an event nobody has acknowledged is kept. Returns how many were deleted.
CREATE OR REPLACE FUNCTION loyalty.prune_events(p_older_than interval DEFAULT '7 days')
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_pruned    integer;
    v_positions jsonb;
    v_held      bigint[];
    v_customers bigint[];
    v_ids       bigint[];
    v_deleted   integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('older_than must be 0 or more, not %s', p_older_than);
    END IF;
    IF loyalty._distributed() THEN
        -- On a cluster the consumers are the coordinator's and the events the workers': each
        -- shard is given every position and the ids still queued, and compares on its node.
        SELECT jsonb_agg(c.node_positions), (SELECT array_agg(DISTINCT d.event_id) FROM loyalty.event_deliveries AS d)
          INTO v_positions, v_held
          FROM loyalty.event_consumers AS c;
        v_pruned := 0;
        -- Citus runs a function of a row's columns in a SELECT, not in a DELETE: find, then
        -- delete by id, 10,000 at a time. (A position that has passed an event never queues it
        -- again, so what was found stays prunable.)
        WHILE v_positions IS NOT NULL LOOP
            SELECT array_agg(f.customer_id), array_agg(f.id) INTO v_customers, v_ids
              FROM (SELECT e.customer_id, e.id
                      FROM loyalty.events AS e
                     WHERE e.occurred_at < now() - p_older_than
                       AND loyalty._event_passed_here(e.xid, v_positions)
                       AND e.id <> ALL (coalesce(v_held, '{}'))
                     LIMIT 10000) AS f;
            EXIT WHEN v_ids IS NULL;
            DELETE FROM loyalty.events AS e WHERE e.customer_id = ANY (v_customers) AND e.id = ANY (v_ids);
            GET DIAGNOSTICS v_deleted = ROW_COUNT;
            v_pruned := v_pruned + v_deleted;
        END LOOP;
        RETURN v_pruned;
    ELSE
        DELETE FROM loyalty.events AS e
         WHERE e.occurred_at < now() - p_older_than
           AND EXISTS (SELECT FROM loyalty.event_consumers)
           AND NOT EXISTS (SELECT FROM loyalty.event_consumers AS c WHERE NOT pg_visible_in_snapshot(e.xid, c.position))
           AND NOT EXISTS (SELECT FROM loyalty.event_deliveries AS d WHERE d.event_id = e.id);
    END IF;
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END;
$$;
