-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty._events_wake_key();

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
