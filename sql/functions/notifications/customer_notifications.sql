-- A customer's feed, newest first (keyset pages: p_before, the last id of the previous page).
CREATE OR REPLACE FUNCTION loyalty.customer_notifications(
    p_customer_id bigint,
    p_unread_only boolean DEFAULT false,
    p_limit       integer DEFAULT 50,
    p_before      uuid DEFAULT NULL
)
RETURNS SETOF loyalty.notification
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM loyalty._notification_page('CUSTOMER', p_customer_id, p_unread_only, p_limit, p_before);
END;
$$;
