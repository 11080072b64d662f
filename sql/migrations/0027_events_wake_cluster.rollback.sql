-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty._current_group();

DROP FUNCTION loyalty._event_new_here(xid8,jsonb,jsonb);

DROP FUNCTION loyalty._event_passed_here(xid8,jsonb);

DROP FUNCTION loyalty._event_xid();

DROP FUNCTION loyalty._events_wake_key();

DROP FUNCTION loyalty._node_snapshots();

DROP FUNCTION loyalty._queue_events_on_nodes(text);

DROP FUNCTION loyalty.begin_events_wait(double precision);

DROP FUNCTION loyalty.end_events_wait();

-- As 0026_events defined it.
CREATE OR REPLACE FUNCTION loyalty._notify_events()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('loyalty_events', '');
    RETURN NULL;
END;
$$;

-- As 0026_events defined it.
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
    -- On a cluster each worker numbers its own transactions, so one snapshot cannot be a position.
    IF loyalty._distributed() THEN
        RAISE EXCEPTION USING ERRCODE = '0A000',
            MESSAGE = 'event consumers are not available on a Citus cluster yet (docs/events.md): the events are written there, on each customer''s worker';
    END IF;
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
    -- The first fetch registers the consumer at the current snapshot.
    INSERT INTO loyalty.event_consumers AS c (name, position)
    VALUES (p_consumer, pg_current_snapshot())
    ON CONFLICT (name) DO NOTHING;
    -- One worker at a time moves the position (a statement of its own, so the snapshot below is
    -- taken after the lock: it is never older than the position another worker just stored).
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

-- As 0026_events defined it.
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

ALTER TABLE loyalty.event_consumers DROP COLUMN node_positions;
