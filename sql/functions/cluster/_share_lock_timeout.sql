-- On a cluster, the caller's lock_timeout (its session's, or its role's) also bounds the waits of
-- the statements this transaction sends to the workers: Citus sends a SET LOCAL to every worker
-- the transaction uses once citus.propagate_set_commands is 'local' (docs/scaling.md). Called
-- first by each entry point that runs on the coordinator; where a call was delegated it runs on
-- the worker, where it repeats that session's own setting. Callers ask loyalty._distributed()
-- first, so one server never comes here.
CREATE OR REPLACE FUNCTION loyalty._share_lock_timeout()
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF current_setting('lock_timeout') <> '0' THEN
        PERFORM set_config('citus.propagate_set_commands', 'local', true);
        -- A utility statement, not set_config(): Citus propagates what passes its utility hook.
        EXECUTE format('SET LOCAL lock_timeout = %L', current_setting('lock_timeout'));
    END IF;
END;
$$;
