-- 0031_events_never_skip_own: a consumer that writes in its own transaction misses none of its
-- events (positions count the fetching transaction as in progress); consumers can be listed
-- (event_consumer_status) and removed (drop_event_consumer); tail_events lets a loyalty_app
-- login follow events as an observer (issue 27).
-- Written by tools/new_migration.py from sql/functions/; add table DDL where marked.
-- depends: 0030_status_domains

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- Table DDL of this migration, if any, goes here (before the functions that use it).

-- sql/functions/_position_now.sql
-- The current snapshot as a position to store: pg_current_snapshot(), except that the caller's
-- own transaction counts as still in progress. pg_current_snapshot() leaves a transaction's own
-- xid out of its list of transactions in progress, so a position stored by a transaction that
-- goes on to write events (a consumer that fetches, approves and acks in one transaction) would
-- count those events as seen, and no later fetch would queue them (issue 27). The own xid is
-- added to that list (and xmin lowered to it) when it is below xmax; at or above xmax it already
-- counts as not yet committed.
CREATE OR REPLACE FUNCTION loyalty._position_now()
RETURNS pg_snapshot
LANGUAGE sql VOLATILE
AS $$
    SELECT CASE WHEN c.me IS NULL OR c.me >= pg_snapshot_xmax(c.now) THEN c.now
                ELSE format('%s:%s:%s', least(pg_snapshot_xmin(c.now), c.me), pg_snapshot_xmax(c.now),
                            (SELECT string_agg(x.xid::text, ',' ORDER BY x.xid)
                               FROM (SELECT pg_snapshot_xip(c.now) UNION SELECT c.me) AS x(xid)))::pg_snapshot
           END
      FROM (SELECT pg_current_snapshot() AS now, pg_current_xact_id_if_assigned() AS me) AS c
$$;

-- sql/functions/drop_event_consumer.sql
-- Remove a consumer: its position and every event still queued for it. From then on it holds
-- back no pruning; a later fetch under the same name registers it afresh (it then receives what
-- commits after that, nothing before). Returns whether there was such a consumer. Workers of the
-- consumer that are fetching at that moment finish first (its row is locked as they move it).
CREATE OR REPLACE FUNCTION loyalty.drop_event_consumer(p_consumer text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_consumer IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a consumer name is required, not NULL';
    END IF;
    PERFORM FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM loyalty.event_deliveries AS d WHERE d.consumer = p_consumer;
    DELETE FROM loyalty.event_consumers AS c WHERE c.name = p_consumer;
    RETURN true;
END;
$$;

-- sql/functions/event_consumer_status.sql
-- Every registered consumer and what it holds back from prune_events: when it last fetched, how
-- many events it holds unacknowledged and the oldest of them, and since when it keeps events
-- from being pruned (the older of its last fetch, after which nothing is queued for it yet, and
-- its oldest unacknowledged event). `loyaltydb status` prints it; drop_event_consumer removes one
-- that is gone for good.
CREATE OR REPLACE FUNCTION loyalty.event_consumer_status()
RETURNS TABLE (consumer text, registered_at timestamptz, last_fetch_at timestamptz, unacked bigint,
               oldest_unacked_at timestamptz, holds_back_since timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_consumer record;
    v_oldest   record;
BEGIN
    FOR v_consumer IN
        SELECT c.name, c.registered_at, c.updated_at,
               (SELECT count(*) FROM loyalty.event_deliveries AS d WHERE d.consumer = c.name) AS unacked
          FROM loyalty.event_consumers AS c
         ORDER BY c.name
    LOOP
        -- The oldest queued event by its id, then its time by (customer, id): one shard on a cluster.
        SELECT e.occurred_at INTO v_oldest
          FROM (SELECT d.customer_id, d.event_id FROM loyalty.event_deliveries AS d
                 WHERE d.consumer = v_consumer.name ORDER BY d.event_id LIMIT 1) AS q
          JOIN loyalty.events AS e ON e.customer_id = q.customer_id AND e.id = q.event_id;
        consumer := v_consumer.name;
        registered_at := v_consumer.registered_at;
        last_fetch_at := v_consumer.updated_at;
        unacked := v_consumer.unacked;
        oldest_unacked_at := v_oldest.occurred_at;
        holds_back_since := least(v_consumer.updated_at, v_oldest.occurred_at);
        RETURN NEXT;
    END LOOP;
END;
$$;

-- sql/functions/tail_events.sql
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

-- sql/functions/_queue_events_on_nodes.sql
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

-- sql/functions/fetch_events.sql
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

GRANT EXECUTE ON FUNCTION loyalty.drop_event_consumer(text) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.event_consumer_status() TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.tail_events(text) TO loyalty_app;
