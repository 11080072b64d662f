-- A consumer's position on a Citus cluster: the current transaction snapshot of every node
-- group, as {"group id": "pg_snapshot text"}. Each node numbers its own transactions, so one
-- snapshot cannot say what committed on all of them; each event row is compared with the
-- snapshot of the node it lives on (_event_new_here). The snapshots are taken through Citus's
-- own connections, outside this transaction: a transaction they show as committed is visible to
-- every statement this transaction sends to that node afterwards, which is all fetch_events
-- needs (it runs in READ COMMITTED). On one server: {"0": the current snapshot}.
CREATE OR REPLACE FUNCTION loyalty._node_snapshots()
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $$
-- VOLATILE, not STABLE as plpgsql_check guesses: each call asks the nodes anew.
-- @plpgsql_check_options: performance_warnings = false
DECLARE
    v_snapshots jsonb;
    v_failed    text;
BEGIN
    IF NOT loyalty._distributed() THEN
        RETURN jsonb_build_object('0', pg_current_snapshot()::text);
    END IF;
    -- Dynamic: Citus's catalog and functions exist only where Citus is installed.
    EXECUTE format($q$
        SELECT jsonb_object_agg(n.groupid::text, r.result) FILTER (WHERE r.success),
               string_agg(format('%%s:%%s (%%s)', n.nodename, n.nodeport, r.result), ', ') FILTER (WHERE NOT r.success)
          FROM pg_catalog.run_command_on_all_nodes(%L) AS r
          JOIN pg_catalog.pg_dist_node AS n ON n.nodeid = r.nodeid
    $q$, 'SELECT pg_catalog.pg_current_snapshot()') INTO v_snapshots, v_failed;
    IF v_failed IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '08006',
            MESSAGE = format('could not read the transaction snapshot of every node: %s', v_failed);
    END IF;
    RETURN v_snapshots;
END;
$$;
