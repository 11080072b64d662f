-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty._position_now();

DROP FUNCTION loyalty.drop_event_consumer(text);

DROP FUNCTION loyalty.event_consumer_status();

DROP FUNCTION loyalty.tail_events(text);

-- As 0027_events_wake_cluster defined it.
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
    VALUES (p_consumer, pg_current_snapshot(), loyalty._node_snapshots())
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
       SET position = pg_current_snapshot(), node_positions = v_to, updated_at = now()
     WHERE c.name = p_consumer;
END;
$$;

-- As 0027_events_wake_cluster defined it.
CREATE OR REPLACE FUNCTION loyalty.fetch_events(
    p_consumer           text,
    p_limit              integer DEFAULT 100,
    p_visibility_timeout double precision DEFAULT 30
)
RETURNS SETOF loyalty.event
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_position pg_snapshot;
BEGIN
    IF p_consumer IS NULL OR p_consumer !~ '^[A-Za-z0-9_.:-]{1,100}$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a consumer name is 1 to 100 letters, digits or _ . : -, not %s', coalesce(quote_literal(p_consumer), 'NULL'));
    END IF;
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 10000, not %s', p_limit);
    END IF;
    IF p_visibility_timeout IS NULL OR p_visibility_timeout NOT BETWEEN 0 AND 86400 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('visibility_timeout must be from 0 to 86400 seconds, not %s', p_visibility_timeout);
    END IF;
    IF loyalty._distributed() THEN
        PERFORM loyalty._queue_events_on_nodes(p_consumer);
    ELSE
        -- The first fetch registers the consumer at the current snapshot.
        INSERT INTO loyalty.event_consumers AS c (name, position)
        VALUES (p_consumer, pg_current_snapshot())
        ON CONFLICT (name) DO NOTHING;
        -- One worker at a time moves the position (a statement of its own, so the snapshot below
        -- is taken after the lock: it is never older than the position another worker just stored).
        SELECT c.position INTO STRICT v_position FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
        WITH moved AS (
            UPDATE loyalty.event_consumers AS c
               SET position = pg_current_snapshot(), updated_at = now()
             WHERE c.name = p_consumer
            RETURNING c.position
        )
        INSERT INTO loyalty.event_deliveries (consumer, customer_id, event_id)
        SELECT p_consumer, e.customer_id, e.id
          FROM moved, loyalty._events_between(v_position, moved.position) AS e
        ON CONFLICT DO NOTHING;
    END IF;
    -- Claim: the oldest queued events no worker holds, held until the timeout.
    RETURN QUERY
        WITH claimed AS (
            UPDATE loyalty.event_deliveries AS d
               SET visible_at = clock_timestamp() + make_interval(secs => p_visibility_timeout),
                   deliveries = d.deliveries + 1
              FROM (SELECT q.consumer, q.event_id
                      FROM loyalty.event_deliveries AS q
                     WHERE q.consumer = p_consumer AND q.visible_at <= clock_timestamp()
                     ORDER BY q.event_id
                     LIMIT p_limit
                       FOR UPDATE SKIP LOCKED) AS q
             WHERE d.consumer = q.consumer AND d.event_id = q.event_id
            RETURNING d.customer_id, d.event_id
        )
        SELECT e.id, e.type, e.customer_id, e.business_id, e.occurred_at, e.payload
          FROM claimed
          JOIN loyalty.events AS e ON e.customer_id = claimed.customer_id AND e.id = claimed.event_id
         ORDER BY e.id;
END;
$$;

-- Undo this migration's table DDL here, if any (after the functions).
