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
