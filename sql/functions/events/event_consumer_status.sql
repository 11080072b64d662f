-- Every registered consumer and what it holds back from prune_events: when it last fetched, how
-- many events it holds unacknowledged and the oldest of them, and since when it keeps events
-- from being pruned (the older of its last fetch, after which nothing is queued for it yet, and
-- its oldest unacknowledged event). `loyaltydb status` prints it; drop_event_consumer removes one
-- that is gone for good.
CREATE OR REPLACE FUNCTION loyalty.event_consumer_status()
RETURNS TABLE (consumer text, registered_at timestamptz, last_fetch_at timestamptz, unacked bigint,
               oldest_unacked_at timestamptz, holds_back_since timestamptz)
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_consumer record;
    v_oldest   record;
BEGIN
    FOR v_consumer IN
        SELECT c.name, c.registered_at, c.updated_at,
               (SELECT count(*) FROM loyalty.event_deliveries AS d WHERE d.consumer = c.name) AS unacked
          FROM loyalty.event_consumers AS c
         ORDER BY c.name
    LOOP
        -- The oldest queued event by its id, then its time by (customer, id): one shard on a cluster.
        SELECT e.occurred_at INTO v_oldest
          FROM (SELECT d.customer_id, d.event_id FROM loyalty.event_deliveries AS d
                 WHERE d.consumer = v_consumer.name ORDER BY d.event_id LIMIT 1) AS q
          JOIN loyalty.events AS e ON e.customer_id = q.customer_id AND e.id = q.event_id;
        consumer := v_consumer.name;
        registered_at := v_consumer.registered_at;
        last_fetch_at := v_consumer.updated_at;
        unacked := v_consumer.unacked;
        oldest_unacked_at := v_oldest.occurred_at;
        holds_back_since := least(v_consumer.updated_at, v_oldest.occurred_at);
        RETURN NEXT;
    END LOOP;
END;
$$;
