-- The advisory lock key of the events wake-up (one place for the producers' trigger and the
-- consumers' begin_events_wait / end_events_wait): an idle consumer holds it exclusively while
-- it waits for a NOTIFY, and a transaction that writes events tries it shared. Inlined (SQL).
CREATE OR REPLACE FUNCTION loyalty._events_wake_key()
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT 7263380221487542601::bigint  -- 'loyalty.events wake-up', unique to loyaltydb
$$;
