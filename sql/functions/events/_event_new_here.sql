-- On a Citus cluster: whether the event of transaction p_xid (a number of the node it lives on,
-- set there by _event_xid) committed between two positions of _node_snapshots: visible in this
-- node's snapshot of p_to and not in its snapshot of p_from (a node p_from does not know, added
-- since, counts as seen from nothing: its events are delivered, at least once). Sent to the
-- worker with the row (its arguments are the row's), inlined there; the first test is the range
-- events_xid_idx serves.
CREATE OR REPLACE FUNCTION loyalty._event_new_here(p_xid xid8, p_from jsonb, p_to jsonb)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p_xid >= pg_snapshot_xmin(coalesce((p_from ->> loyalty._current_group()::text)::pg_snapshot, '1:1:'))
       AND NOT pg_visible_in_snapshot(p_xid, coalesce((p_from ->> loyalty._current_group()::text)::pg_snapshot, '1:1:'))
       AND pg_visible_in_snapshot(p_xid, (p_to ->> loyalty._current_group()::text)::pg_snapshot)
$$;
