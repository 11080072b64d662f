-- 0027_events_wake: writers NOTIFY only while a consumer waits (issue 19's speed). PostgreSQL
-- commits notifying transactions one at a time, through their WAL flush, which cost about half
-- of what events took from approvals at 8 clients. A consumer about to sleep takes an advisory
-- lock (begin_events_wait) and gives it back when woken (end_events_wait); a writer tries it
-- shared and notifies only when that fails. listen_events calls both; no wake-up is lost
-- (docs/events.md says why).
-- Written by tools/new_migration.py from sql/functions/.
-- depends: 0026_events

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

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

-- sql/functions/begin_events_wait.sql
-- Before a consumer sleeps on LISTEN loyalty_events: from here on every transaction that writes
-- events sends a NOTIFY (_notify_events), and the answer says whether to sleep at all. True:
-- events committed since this session's last end_events_wait (or it never called it), so fetch
-- instead (nothing is held). False: nothing new, sleep on a notification, then call
-- end_events_wait. NULL: a transaction that wrote events without notifying stayed open past
-- p_timeout seconds, so fetch anyway. listen_events calls both; other clients do the same.
CREATE OR REPLACE FUNCTION loyalty.begin_events_wait(p_timeout double precision DEFAULT 30)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_seen text := nullif(current_setting('loyalty.events_seen', true), '');
BEGIN
    -- As fetch_events: on a cluster a snapshot of this server says nothing of the workers' events.
    IF loyalty._distributed() THEN
        RAISE EXCEPTION USING ERRCODE = '0A000',
            MESSAGE = 'event consumers are not available on a Citus cluster yet (docs/events.md): the events are written there, on each customer''s worker';
    END IF;
    IF p_timeout IS NULL OR p_timeout NOT BETWEEN 0 AND 86400 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('timeout must be from 0 to 86400 seconds, not %s', p_timeout);
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
            RETURN true;
        END IF;
    EXCEPTION WHEN OTHERS THEN
        -- Never leave the lock held by a failed call (every write would notify until the end).
        PERFORM loyalty.end_events_wait();
        RAISE;
    END;
    RETURN false;
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

GRANT EXECUTE ON FUNCTION loyalty.begin_events_wait(double precision) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.end_events_wait() TO loyalty_app;
