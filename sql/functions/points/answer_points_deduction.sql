-- The customer's answer to a deduction request. Yes deducts the points as a DEDUCTION ledger row
-- (through the ledger's writer: never below zero, InsufficientPoints, LY011, and the request
-- stays PENDING) and returns it; no returns NULL. Either way the request's notification is
-- marked actioned and the business is told by name. Only that customer answers (LY006; the id
-- carries the customer); an unknown id is LY001; an answer after the request's expires_at, or to
-- one marked EXPIRED, is RequestExpired (LY009); the same answer again replays (the stored row,
-- replayed, or NULL), and the other answer is RequestAlreadyDecided (LY002).
CREATE OR REPLACE FUNCTION loyalty.answer_points_deduction(
    p_request_id  uuid,
    p_customer_id bigint,
    p_approved    boolean
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_request  loyalty.points_deductions;
    v_result   loyalty.point_result;
    v_customer text;
    v_program  loyalty._program_info;
BEGIN
    IF p_request_id IS NULL OR p_customer_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id, customer id and the answer must not be NULL';
    END IF;
    -- An id that carries another customer is that customer's: refused without a lookup.
    IF loyalty._request_customer(p_request_id) <> p_customer_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Customer %s may not answer %s: it is another customer''s', p_customer_id, p_request_id);
    END IF;
    -- Every answer to one request is serialised here; a waiter then sees the decided row.
    SELECT d.* INTO v_request FROM loyalty.points_deductions AS d
     WHERE d.customer_id = p_customer_id AND d.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Points deduction request not found: %s', p_request_id);
    END IF;
    IF v_request.status = 'APPROVED' AND p_approved THEN
        SELECT t.id, t.customer_id, t.program_id, t.card_id, t.points, t.balance_after, t.reason::text, t.created_at, true
          INTO v_result
          FROM loyalty.point_transactions AS t
         WHERE t.customer_id = p_customer_id AND t.id = v_request.transaction_id;
        RETURN v_result;
    ELSIF v_request.status = 'REJECTED' AND NOT p_approved THEN
        RETURN NULL;
    ELSIF v_request.status = 'EXPIRED' OR (v_request.status = 'PENDING' AND v_request.expires_at <= now()) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY009',
            MESSAGE = format('Points deduction request %s expired at %s', p_request_id, v_request.expires_at);
    ELSIF v_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY002',
            MESSAGE = format('Points deduction request %s was %s already', p_request_id, lower(v_request.status::text));
    END IF;

    IF p_approved THEN
        -- The ledger's writer, keyed by the request: a failure (too few points) raises and leaves
        -- the request PENDING, as everything here rolls back with it.
        v_result := loyalty._change_points(p_customer_id, v_request.program_id, -v_request.points, 'DEDUCTION',
                                           'deduction:' || p_request_id, NULL, NULL, v_request.reason);
    END IF;
    UPDATE loyalty.points_deductions AS d
       SET status = CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END, response_at = now(),
           transaction_id = v_result.transaction_id
     WHERE d.customer_id = p_customer_id AND d.id = p_request_id;
    UPDATE loyalty.customer_notifications AS n
       SET action_taken = true, actioned_at = now()
     WHERE n.customer_id = p_customer_id AND n.id = v_request.notification_id;

    -- The business hears the answer by name, on the customer's shard (one hop).
    SELECT c.name INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    v_program := loyalty._program_info(v_request.program_id);
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data, card_id)
    VALUES (p_customer_id, v_request.business_id, 'BUSINESS',
            CASE WHEN p_approved THEN 'POINTS_DEDUCTION_APPROVED' ELSE 'POINTS_DEDUCTION_DECLINED' END,
            format('%s %s the deduction of %s points', v_customer,
                   CASE WHEN p_approved THEN 'agreed to' ELSE 'declined' END, v_request.points),
            format('%s %s the deduction of %s points from their %s card: %s', v_customer,
                   CASE WHEN p_approved THEN 'agreed to' ELSE 'declined' END, v_request.points, v_program.name,
                   v_request.reason),
            jsonb_build_object('customer_name', v_customer, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', p_request_id,
                               'points', v_request.points, 'transaction_id', v_result.transaction_id,
                               'card_id', v_request.card_id),
            v_request.card_id);
    IF NOT p_approved THEN  -- a yes is published by the ledger's writer (points.deducted)
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (p_customer_id, v_request.business_id, 'points.deduction_declined',
                jsonb_build_object('customer_name', v_customer, 'program_name', v_program.name,
                                   'business_name', v_program.business_name, 'request_id', p_request_id,
                                   'program_id', v_request.program_id, 'card_id', v_request.card_id,
                                   'points', v_request.points));
    END IF;
    RETURN v_result;
END;
$$;
