-- 0027_events_wake_cluster: the rest of issue 19 (docs/events.md).
-- 1. Writers NOTIFY only while a consumer waits. PostgreSQL commits notifying transactions one
--    at a time, through their WAL flush, which cost about half of what events took from
--    approvals at 8 clients. A consumer about to sleep takes an advisory lock
--    (begin_events_wait) and gives it back when woken (end_events_wait); a writer tries it
--    shared and notifies only when that fails; no wake-up is lost.
-- 2. Consumers on a Citus cluster: a position there is a snapshot of every node
--    (event_consumers.node_positions), and each event row carries its worker's transaction
--    number (a trigger `loyaltydb distribute` adds), so fetch_events and prune_events keep one
--    server's guarantees there.
-- Written by tools/new_migration.py from sql/functions/, with the column by hand.
-- depends: 0026_events

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- A consumer's position on a Citus cluster: {"node group": "pg_snapshot"} (_node_snapshots);
-- NULL on one server, where `position` is the one snapshot.
ALTER TABLE loyalty.event_consumers ADD COLUMN node_positions jsonb;

-- sql/functions/_current_group.sql
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

-- sql/functions/_event_new_here.sql
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

-- sql/functions/_event_passed_here.sql
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

-- sql/functions/_event_xid.sql
-- On a Citus cluster, before each event row is written to its shard: the transaction number of
-- the worker that writes it (its top-level one, as pg_current_xact_id gives). A statement the
-- coordinator plans evaluates the column's default there, in the coordinator's numbering, and a
-- row's xmin is a subtransaction's number inside a savepoint; neither can be compared with that
-- worker's snapshots. `loyaltydb distribute` adds the trigger (one server needs none).
CREATE OR REPLACE FUNCTION loyalty._event_xid()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.xid := pg_current_xact_id();
    RETURN NEW;
END;
$$;

-- sql/functions/_events_wake_key.sql
-- The advisory lock key of the events wake-up (one place for the producers' trigger and the
-- consumers' begin_events_wait / end_events_wait): an idle consumer holds it exclusively while
-- it waits for a NOTIFY, and a transaction that writes events tries it shared. Inlined (SQL).
CREATE OR REPLACE FUNCTION loyalty._events_wake_key()
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 7263380221487542601::bigint  -- 'loyalty.events wake-up', unique to loyaltydb
$$;

-- sql/functions/_node_snapshots.sql
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

-- sql/functions/begin_events_wait.sql
-- Before a consumer sleeps on LISTEN loyalty_events: from here on every transaction that writes
-- events sends a NOTIFY (_notify_events), and the answer says how long to sleep. 0: events
-- committed since this session's last end_events_wait (or it never called one): fetch now,
-- nothing is held. More than 0: wait that many seconds at most for a notification, then call
-- end_events_wait. NULL: nothing to wait for within p_timeout (it is 0, or a transaction that
-- wrote events without notifying stayed open past it). listen_events calls both functions;
-- other clients do the same (docs/events.md).
--
-- On a Citus cluster no NOTIFY reaches the coordinator (Citus refuses the trigger that sends
-- it, and a worker's would reach only that worker's listeners), so the answer is a poll: wait
-- half a second, then fetch.
CREATE OR REPLACE FUNCTION loyalty.begin_events_wait(p_timeout double precision DEFAULT 30)
RETURNS double precision
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_seen text := nullif(current_setting('loyalty.events_seen', true), '');
BEGIN
    IF p_timeout IS NULL OR p_timeout NOT BETWEEN 0 AND 86400 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('timeout must be from 0 to 86400 seconds, not %s', p_timeout);
    END IF;
    IF loyalty._distributed() THEN
        RETURN nullif(least(p_timeout, 0.5::double precision), 0);
    END IF;
    -- The wake-up lock, held by this session until end_events_wait (once, however often called).
    -- Taking it waits for every transaction that wrote events without notifying.
    IF current_setting('loyalty.events_waiting', true) IS DISTINCT FROM 'on' THEN
        PERFORM set_config('lock_timeout', greatest(1, ceil(p_timeout * 1000))::bigint || 'ms', true);
        BEGIN
            PERFORM pg_advisory_lock(loyalty._events_wake_key());
        EXCEPTION WHEN lock_not_available THEN
            RETURN NULL;
        END;
        PERFORM set_config('loyalty.events_waiting', 'on', false);
    END IF;
    -- Anything committed since the last end_events_wait: those transactions did not all notify.
    BEGIN
        IF v_seen IS NULL
           OR EXISTS (SELECT 1 FROM loyalty._events_between(v_seen::pg_snapshot, pg_current_snapshot())) THEN
            PERFORM loyalty.end_events_wait();
            RETURN 0::double precision;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Never leave the lock held by a failed call (every write would notify until the end).
        PERFORM loyalty.end_events_wait();
        RAISE;
    END;
    IF p_timeout = 0 THEN
        PERFORM loyalty.end_events_wait();
        RETURN NULL;
    END IF;
    RETURN p_timeout;
END;
$$;

-- sql/functions/end_events_wait.sql
-- After a consumer's sleep on LISTEN loyalty_events (woken or timed out), and by
-- begin_events_wait when it says not to sleep: remembers the current snapshot as what this
-- session has seen (the next begin_events_wait looks for commits after it), then releases the
-- wake-up lock, so writers stop notifying. The snapshot comes first: a transaction that commits
-- between the two tried the lock while it was held and notified.
CREATE OR REPLACE FUNCTION loyalty.end_events_wait()
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM set_config('loyalty.events_seen', pg_current_snapshot()::text, false);
    IF current_setting('loyalty.events_waiting', true) = 'on' THEN
        PERFORM pg_advisory_unlock(loyalty._events_wake_key());
        PERFORM set_config('loyalty.events_waiting', 'off', false);
    END IF;
END;
$$;

-- sql/functions/_notify_events.sql
-- After a statement that writes events: NOTIFY loyalty_events, delivered at commit (never for a
-- rolled-back one, folded into one a transaction), but only when a consumer is waiting for one.
-- PostgreSQL commits notifying transactions one at a time (a database-wide lock held through
-- the commit's WAL flush), which cost a fifth of the approvals at 8 clients; busy consumers
-- fetch again without waiting, so they need no NOTIFY.
--
-- Never a lost wake-up: a waiting consumer holds the wake-up lock exclusively (from
-- begin_events_wait to end_events_wait), so this try fails and the NOTIFY is sent. When it
-- succeeds, no consumer waits, and the shared lock it took is held to this commit: a consumer
-- that comes to wait first waits for this transaction to end, then sees its events and does not
-- sleep.
CREATE OR REPLACE FUNCTION loyalty._notify_events()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NOT pg_try_advisory_xact_lock_shared(loyalty._events_wake_key()) THEN
        PERFORM pg_notify('loyalty_events', '');
    END IF;
    RETURN NULL;
END;
$$;

-- sql/functions/fetch_events.sql
-- Up to p_limit events for consumer p_consumer that it has not acknowledged and no worker of it
-- holds, each held for p_visibility_timeout (seconds) from now: returned again after that
-- unless acked. The first fetch registers the consumer: it then receives every event whose
-- transaction commits after that.
--
-- Never skipped: a consumer's position is a transaction snapshot (PgQ's tick), not an event id.
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

-- sql/functions/prune_events.sql
-- Delete events older than p_older_than that every registered consumer has acknowledged: queued
-- for each (visible in its position) and no longer queued for any. With no consumer registered
-- nothing is pruned: an event nobody has acknowledged is kept. Returns how many were deleted.
CREATE OR REPLACE FUNCTION loyalty.prune_events(p_older_than interval DEFAULT '7 days')
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_pruned    integer;
    v_positions jsonb;
    v_held      bigint[];
    v_customers bigint[];
    v_ids       bigint[];
    v_deleted   integer;
BEGIN
    IF p_older_than IS NULL OR p_older_than < interval '0' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('older_than must be 0 or more, not %s', p_older_than);
    END IF;
    IF loyalty._distributed() THEN
        -- On a cluster the consumers are the coordinator's and the events the workers': each
        -- shard is given every position and the ids still queued, and compares on its node.
        SELECT jsonb_agg(c.node_positions), (SELECT array_agg(DISTINCT d.event_id) FROM loyalty.event_deliveries AS d)
          INTO v_positions, v_held
          FROM loyalty.event_consumers AS c;
        v_pruned := 0;
        -- Citus runs a function of a row's columns in a SELECT, not in a DELETE: find, then
        -- delete by id, 10,000 at a time. (A position that has passed an event never queues it
        -- again, so what was found stays prunable.)
        WHILE v_positions IS NOT NULL LOOP
            SELECT array_agg(f.customer_id), array_agg(f.id) INTO v_customers, v_ids
              FROM (SELECT e.customer_id, e.id
                      FROM loyalty.events AS e
                     WHERE e.occurred_at < now() - p_older_than
                       AND loyalty._event_passed_here(e.xid, v_positions)
                       AND e.id <> ALL (coalesce(v_held, '{}'))
                     LIMIT 10000) AS f;
            EXIT WHEN v_ids IS NULL;
            DELETE FROM loyalty.events AS e WHERE e.customer_id = ANY (v_customers) AND e.id = ANY (v_ids);
            GET DIAGNOSTICS v_deleted = ROW_COUNT;
            v_pruned := v_pruned + v_deleted;
        END LOOP;
        RETURN v_pruned;
    ELSE
        DELETE FROM loyalty.events AS e
         WHERE e.occurred_at < now() - p_older_than
           AND EXISTS (SELECT FROM loyalty.event_consumers)
           AND NOT EXISTS (SELECT FROM loyalty.event_consumers AS c WHERE NOT pg_visible_in_snapshot(e.xid, c.position))
           AND NOT EXISTS (SELECT FROM loyalty.event_deliveries AS d WHERE d.event_id = e.id);
    END IF;
    GET DIAGNOSTICS v_pruned = ROW_COUNT;
    RETURN v_pruned;
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.begin_events_wait(double precision) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.end_events_wait() TO loyalty_app;
