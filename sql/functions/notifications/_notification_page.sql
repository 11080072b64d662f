-- One page of a feed, newest first: the notifications of one reader (a customer's, or a
-- business's), unread only if asked, older than the p_before notification of that reader. The one
-- body behind customer_notifications and business_notifications.
CREATE OR REPLACE FUNCTION loyalty._notification_page(
    p_audience    text,
    p_reader_id   bigint,
    p_unread_only boolean,
    p_limit       integer,
    p_before      uuid
)
RETURNS SETOF loyalty.notification
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    -- After every notification: the first page.
    v_before_at timestamptz := 'infinity'::timestamptz;
    v_before_id uuid := 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid;
BEGIN
    IF p_reader_id IS NULL OR p_limit IS NULL OR p_unread_only IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004',
            MESSAGE = format('%s id, unread_only and limit must not be NULL', lower(p_audience));
    END IF;
    PERFORM loyalty._check_page_limit(p_limit);
    IF p_before IS NOT NULL THEN
        -- Two statements, each a key probe: (customer_id, id), or the business rows' (business_id, id).
        IF p_audience = 'CUSTOMER' THEN
            SELECT n.created_at, n.id INTO v_before_at, v_before_id
              FROM loyalty.customer_notifications AS n
             WHERE n.customer_id = p_reader_id AND n.id = p_before AND n.audience = 'CUSTOMER';
        ELSE
            SELECT n.created_at, n.id INTO v_before_at, v_before_id
              FROM loyalty.customer_notifications AS n
             WHERE n.business_id = p_reader_id AND n.id = p_before AND n.audience = 'BUSINESS';
        END IF;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = '22023',
                -- Named by what it is, not by one caller's argument (Python's before=, the CLI's --before).
                MESSAGE = format('the page starts before notification %s, which is no notification of %s %s',
                                 p_before, lower(p_audience), p_reader_id);
        END IF;
    END IF;

    IF p_audience = 'CUSTOMER' THEN
        RETURN QUERY
        SELECT n.id, n.type, n.title, n.message, n.data, n.requires_action, n.action_taken, n.is_read, n.created_at
          FROM loyalty.customer_notifications AS n
         WHERE n.customer_id = p_reader_id AND n.audience = 'CUSTOMER'
           AND (NOT p_unread_only OR NOT n.is_read)
           AND (n.created_at, n.id) < (v_before_at, v_before_id)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT p_limit;
    ELSE
        RETURN QUERY
        SELECT n.id, n.type, n.title, n.message, n.data, n.requires_action, n.action_taken, n.is_read, n.created_at
          FROM loyalty.customer_notifications AS n
         WHERE n.business_id = p_reader_id AND n.audience = 'BUSINESS'
           AND (NOT p_unread_only OR NOT n.is_read)
           AND (n.created_at, n.id) < (v_before_at, v_before_id)
         ORDER BY n.created_at DESC, n.id DESC
         LIMIT p_limit;
    END IF;
END;
$$;
