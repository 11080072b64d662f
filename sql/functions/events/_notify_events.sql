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
