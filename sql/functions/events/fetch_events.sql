-- Up to p_limit events for consumer p_consumer that it has not acknowledged and no worker of it
-- holds, each held for p_visibility_timeout (seconds) from now: returned again after that
-- unless acked. The first fetch registers the consumer: it then receives every event whose
-- transaction commits after that.
--
-- Never skipped: a consumer's position is a transaction snapshot (PgQ's tick), not an event id,
-- in which the fetching transaction itself is still in progress (_position_now): events it
-- writes after the fetch are queued by the next fetch after its commit.
-- Each fetch moves it to the current snapshot and queues for the consumer every event whose
-- transaction is visible in the new one and was not in the old one, so an event that commits
-- after later ones were fetched is queued by the next fetch (ids are not commit order; these
-- snapshots are). Workers of one consumer take turns on its row for that step only, then claim
-- queued events with SKIP LOCKED, so two never hold the same event at once. On a Citus cluster
-- the position is a snapshot of each node (_queue_events_on_nodes).
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
        VALUES (p_consumer, loyalty._position_now())
        ON CONFLICT (name) DO NOTHING;
        -- One worker at a time moves the position (a statement of its own, so the snapshot below
        -- is taken after the lock: it is never older than the position another worker just stored).
        SELECT c.position INTO STRICT v_position FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
        WITH moved AS (
            UPDATE loyalty.event_consumers AS c
               SET position = loyalty._position_now(), updated_at = now()
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
