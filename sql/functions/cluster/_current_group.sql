-- The node group this statement runs on: 0 on one server. On a Citus cluster `loyaltydb
-- distribute` replaces it with the node's own pg_dist_local_group, so that a function of an
-- event row (_event_new_here, _event_passed_here), which Citus sends to the worker with the
-- row's shard, looks up that worker's position. Written into a query directly instead, Citus
-- would evaluate it once on the coordinator.
CREATE OR REPLACE FUNCTION loyalty._current_group()
RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT 0
$$;
