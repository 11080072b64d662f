-- Acknowledge events a consumer has handled: they are never returned to it again. Returns how
-- many were its to acknowledge (an id it does not hold, or acked already, counts nothing).
CREATE OR REPLACE FUNCTION loyalty.ack_events(p_consumer text, p_event_ids bigint[])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_acked integer;
BEGIN
    DELETE FROM loyalty.event_deliveries AS d
     WHERE d.consumer = p_consumer AND d.event_id = ANY (p_event_ids);
    GET DIAGNOSTICS v_acked = ROW_COUNT;
    RETURN v_acked;
END;
$$;
