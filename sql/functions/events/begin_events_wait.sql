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
