-- On a Citus cluster: whether every position in p_positions (a JSON array of _node_snapshots
-- values, one a consumer) has passed the event of transaction p_xid on the node it lives on, so
-- prune_events may delete it. A position that does not know this node has not passed it.
CREATE OR REPLACE FUNCTION loyalty._event_passed_here(p_xid xid8, p_positions jsonb)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT NOT EXISTS (
        SELECT FROM jsonb_array_elements(p_positions) AS p (position)
         WHERE NOT coalesce(pg_visible_in_snapshot(p_xid, (p.position ->> loyalty._current_group()::text)::pg_snapshot), false))
$$;
