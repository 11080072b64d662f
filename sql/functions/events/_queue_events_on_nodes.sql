-- fetch_events' first step on a Citus cluster: register the consumer, then move its position
-- and queue what committed since, as on one server, but with a snapshot of every node
-- (_node_snapshots) for its position, since each worker numbers its own transactions. Workers of
-- one consumer take turns on its row (the coordinator's) for this step. The new snapshots are
-- taken after that lock, so they are never older than the ones another worker just stored, and
-- before the statement that reads the events, which therefore sees every transaction they show
-- as committed.
CREATE OR REPLACE FUNCTION loyalty._queue_events_on_nodes(p_consumer text)
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_from jsonb;
    v_to   jsonb;
BEGIN
    -- A snapshot older than the position (REPEATABLE READ, taken at the transaction's start)
    -- could hide a transaction the new position shows as committed: its events would be skipped.
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING ERRCODE = '0A000',
            MESSAGE = format('fetch_events on a Citus cluster runs in READ COMMITTED, not %s (call it in a transaction of its own)',
                             upper(current_setting('transaction_isolation')));
    END IF;
    INSERT INTO loyalty.event_consumers AS c (name, position, node_positions)
    VALUES (p_consumer, loyalty._position_now(), loyalty._node_snapshots())
    ON CONFLICT (name) DO NOTHING;
    SELECT c.node_positions INTO STRICT v_from FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
    v_to := loyalty._node_snapshots();
    -- Each shard's rows against its own node's two snapshots (_event_new_here runs there).
    INSERT INTO loyalty.event_deliveries (consumer, customer_id, event_id)
    SELECT p_consumer, e.customer_id, e.id
      FROM loyalty.events AS e
     WHERE loyalty._event_new_here(e.xid, v_from, v_to)
    ON CONFLICT DO NOTHING;
    UPDATE loyalty.event_consumers AS c
       SET position = loyalty._position_now(), node_positions = v_to, updated_at = now()
     WHERE c.name = p_consumer;
END;
$$;
