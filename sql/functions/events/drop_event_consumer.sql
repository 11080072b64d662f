-- Remove a consumer: its position and every event still queued for it. From then on it holds
-- back no pruning; a later fetch under the same name registers it afresh (it then receives what
-- commits after that, nothing before). Returns whether there was such a consumer. Workers of the
-- consumer that are fetching at that moment finish first (its row is locked as they move it).
CREATE OR REPLACE FUNCTION loyalty.drop_event_consumer(p_consumer text)
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_consumer IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a consumer name is required, not NULL';
    END IF;
    PERFORM FROM loyalty.event_consumers AS c WHERE c.name = p_consumer FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    DELETE FROM loyalty.event_deliveries AS d WHERE d.consumer = p_consumer;
    DELETE FROM loyalty.event_consumers AS c WHERE c.name = p_consumer;
    RETURN true;
END;
$$;
