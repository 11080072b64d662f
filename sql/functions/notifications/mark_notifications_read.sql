-- Mark notifications read for their reader: exactly one of a customer or a business. Ids that are
-- not that reader's are left alone; returns how many were marked (already read ones count not).
CREATE OR REPLACE FUNCTION loyalty.mark_notifications_read(
    p_notification_ids uuid[],
    p_customer_id      bigint DEFAULT NULL,
    p_business_id      bigint DEFAULT NULL
)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_marked integer;
BEGIN
    IF p_notification_ids IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'notification ids must not be NULL';
    END IF;
    IF array_ndims(p_notification_ids) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'notification ids must be a one-dimensional array';
    END IF;
    IF cardinality(p_notification_ids) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('at most 1000 notification ids at once, not %s', cardinality(p_notification_ids));
    END IF;
    IF (p_customer_id IS NULL) = (p_business_id IS NULL) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'give exactly one of customer id and business id';
    END IF;

    IF p_customer_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET is_read = true
         WHERE n.customer_id = p_customer_id AND n.id = ANY (p_notification_ids)
           AND n.audience = 'CUSTOMER' AND NOT n.is_read;
    ELSE
        UPDATE loyalty.customer_notifications AS n
           SET is_read = true
         WHERE n.business_id = p_business_id AND n.id = ANY (p_notification_ids)
           AND n.audience = 'BUSINESS' AND NOT n.is_read;
    END IF;
    GET DIAGNOSTICS v_marked = ROW_COUNT;
    RETURN v_marked;
END;
$$;
