-- NOTIFY loyalty_events once for each statement that writes events: delivered at commit (never
-- for a rolled-back one), and folded into one notification a transaction, so an idle consumer's
-- listen() wakes when there may be something to fetch.
CREATE OR REPLACE FUNCTION loyalty._notify_events()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_notify('loyalty_events', '');
    RETURN NULL;
END;
$$;
