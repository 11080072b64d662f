-- `loyaltydb events tail` as an observer, which registers nothing (so holds back no pruning):
-- the events committed since p_position (a position this function returned before), each row
-- with the position to ask from next; one row with that position and no event when none came.
-- p_position NULL: the current position alone. On one server a position is a snapshot; on a
-- Citus cluster a snapshot of every node (_node_snapshots), taken by a statement before the one
-- that reads, as fetch_events does. SECURITY DEFINER, so a loyalty_app login may tail.
CREATE OR REPLACE FUNCTION loyalty.tail_events(p_position text DEFAULT NULL)
RETURNS TABLE (next_position text, id bigint, type text, customer_id bigint, business_id bigint,
               occurred_at timestamptz, payload jsonb)
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_distributed boolean := loyalty._distributed();
    v_to          text := CASE WHEN v_distributed THEN loyalty._node_snapshots()::text ELSE loyalty._position_now()::text END;
BEGIN
    IF p_position IS NOT NULL AND v_distributed THEN
        RETURN QUERY
            SELECT v_to, e.id, e.type::text, e.customer_id, e.business_id, e.occurred_at, e.payload
              FROM loyalty.events AS e
             WHERE loyalty._event_new_here(e.xid, p_position::jsonb, v_to::jsonb)
             ORDER BY e.id;
    ELSIF p_position IS NOT NULL THEN
        RETURN QUERY
            SELECT v_to, e.id, e.type::text, e.customer_id, e.business_id, e.occurred_at, e.payload
              FROM loyalty._events_between(p_position::pg_snapshot, v_to::pg_snapshot) AS e
             ORDER BY e.id;
    END IF;
    IF NOT FOUND OR p_position IS NULL THEN
        RETURN QUERY SELECT v_to, NULL::bigint, NULL::text, NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::jsonb;
    END IF;
END;
$$;
