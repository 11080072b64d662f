-- A business's feed (requests to act on, CUSTOMER_JOINED, INVITATION_DECLINED), newest first.
-- On a cluster these rows live with their customers: the page is merged from every worker.
CREATE OR REPLACE FUNCTION loyalty.business_notifications(
    p_business_id bigint,
    p_unread_only boolean DEFAULT false,
    p_limit       integer DEFAULT 50,
    p_before      uuid DEFAULT NULL
)
RETURNS SETOF loyalty.notification
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT * FROM loyalty._notification_page('BUSINESS', p_business_id, p_unread_only, p_limit, p_before);
END;
$$;
