-- Mark at most p_limit overdue PENDING requests, invitations and (since 0034, in what is left of
-- p_limit) deduction requests EXPIRED; returns how many. Call it
-- until it returns less than p_limit (`loyaltydb expire` does, one transaction a batch). A row
-- being decided is skipped on one server (SKIP LOCKED) and waited for on a cluster, where a
-- statement cannot lock rows on several workers; the status test is made again after any wait,
-- so a decision that commits first wins and two sweeps never mark a row twice. Since 0025 each
-- expiry is published as a request.expired event, one row at a time (a statement a row, routed to
-- the customer's shard on a cluster; a sweep is a cron job of at most p_limit rows).
CREATE OR REPLACE FUNCTION loyalty.expire_requests(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_expired     loyalty.customer_approval_requests[];
    v_request     loyalty.customer_approval_requests;
    v_program     loyalty._program_info;
    v_name        text;
    v_preferences jsonb;
    v_deductions  jsonb[];
    v_deduction   jsonb;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    IF loyalty._distributed() THEN
        PERFORM loyalty._share_lock_timeout();  -- the caller's lock_timeout reaches the workers
        WITH expired AS (
            UPDATE loyalty.customer_approval_requests AS r
               SET status = 'EXPIRED', response_at = now()
             WHERE (r.customer_id, r.id) IN (SELECT d.customer_id, d.id
                                               FROM loyalty.customer_approval_requests AS d
                                              WHERE d.status = 'PENDING' AND d.expires_at <= now()
                                              LIMIT p_limit)
               AND r.status = 'PENDING' AND r.expires_at <= now()
            RETURNING r
        )
        SELECT coalesce(array_agg(expired.r), '{}') INTO v_expired FROM expired;
    ELSE
        WITH due AS (
            SELECT d.customer_id, d.id
              FROM loyalty.customer_approval_requests AS d
             WHERE d.status = 'PENDING' AND d.expires_at <= now()
             ORDER BY d.expires_at
             LIMIT p_limit
               FOR UPDATE SKIP LOCKED
        ), expired AS (
            UPDATE loyalty.customer_approval_requests AS r
               SET status = 'EXPIRED', response_at = now()
              FROM due
             WHERE r.customer_id = due.customer_id AND r.id = due.id
            RETURNING r
        )
        SELECT coalesce(array_agg(expired.r), '{}') INTO v_expired FROM expired;
    END IF;
    FOREACH v_request IN ARRAY v_expired LOOP
        v_program := loyalty._program_info(v_request.program_id);
        SELECT c.name, c.notification_preferences INTO v_name, v_preferences
          FROM loyalty.customers AS c WHERE c.id = v_request.customer_id;
        IF NOT FOUND THEN  -- invited, never a customer: named from the user, default channels
            SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_name
              FROM loyalty.users AS u WHERE u.id = v_request.customer_id;
        END IF;
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (v_request.customer_id, v_request.business_id, 'request.expired',
                jsonb_build_object('customer_name', v_name, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'request_id', v_request.id,
                                   'program_id', v_request.program_id, 'kind', v_request.kind,
                                   'channels', loyalty._event_channels(v_preferences, 'system')));
    END LOOP;
    -- Then overdue deduction requests (0034), in what is left of p_limit: EXPIRED, published as
    -- request.expired with kind DEDUCTION.
    IF cardinality(v_expired) < p_limit THEN
        WITH expired AS (
            UPDATE loyalty.points_deductions AS d
               SET status = 'EXPIRED', response_at = now()
             WHERE (d.customer_id, d.id) IN (SELECT o.customer_id, o.id FROM loyalty.points_deductions AS o
                                              WHERE o.status = 'PENDING' AND o.expires_at <= now()
                                              LIMIT p_limit - cardinality(v_expired))
               AND d.status = 'PENDING' AND d.expires_at <= now()
            RETURNING d.customer_id, d.id, d.program_id, d.business_id, d.card_id, d.points
        )
        SELECT coalesce(array_agg(row_to_json(expired)::jsonb), '{}') INTO v_deductions FROM expired;
        FOREACH v_deduction IN ARRAY v_deductions LOOP
            v_program := loyalty._program_info((v_deduction ->> 'program_id')::bigint);
            SELECT c.name, c.notification_preferences INTO v_name, v_preferences
              FROM loyalty.customers AS c WHERE c.id = (v_deduction ->> 'customer_id')::bigint;
            INSERT INTO loyalty.events (customer_id, business_id, type, payload)
            VALUES ((v_deduction ->> 'customer_id')::bigint, (v_deduction ->> 'business_id')::bigint, 'request.expired',
                    jsonb_build_object('customer_name', v_name, 'program_name', v_program.name,
                                       'business_name', v_program.business_name, 'request_id', v_deduction ->> 'id',
                                       'program_id', (v_deduction ->> 'program_id')::bigint, 'kind', 'DEDUCTION',
                                       'points', (v_deduction ->> 'points')::integer,
                                       'channels', loyalty._event_channels(v_preferences, 'system')));
        END LOOP;
    END IF;
    RETURN cardinality(v_expired) + coalesce(cardinality(v_deductions), 0);
END;
$$;
