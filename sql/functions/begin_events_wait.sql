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
