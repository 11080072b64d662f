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
