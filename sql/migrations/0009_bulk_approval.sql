-- Bulk approval: many requests in one call (one round trip, one transaction), with the results
-- of approving them one by one in the given order.
-- depends: 0008_roles
--
-- Atomic like every call: a request that cannot be approved (unknown, rejected, its user gone,
-- its program inactive, another business's) raises its own SQLSTATE and nothing is written.
-- Unknown, rejected and unauthorised requests are reported in the caller's order; a missing
-- user or an inactive program in the order of deciding (by customer, then business).

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

CREATE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id         uuid;
    v_request    loyalty.customer_approval_requests;
    v_customers  bigint[] := ARRAY[]::bigint[];
    v_businesses bigint[] := ARRAY[]::bigint[];
    v_item       record;
    v_results    loyalty.enrollment_result[] := ARRAY[]::loyalty.enrollment_result[];
BEGIN
    IF p_request_ids IS NULL OR array_position(p_request_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request ids must not be NULL';
    END IF;

    -- Every request first, one primary-key probe each, in id order: batches never wait on each
    -- other's requests in a circle.
    FOR v_id IN SELECT DISTINCT u.id FROM unnest(p_request_ids) AS u (id) ORDER BY 1
    LOOP
        PERFORM FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id FOR UPDATE;
    END LOOP;

    -- In the caller's order, the errors one-by-one approval would raise first.
    FOREACH v_id IN ARRAY p_request_ids
    LOOP
        SELECT r.* INTO v_request FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_id);
        END IF;
        PERFORM loyalty.check_business(v_request, p_business_id);
        IF v_request.status = 'REJECTED' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY002', MESSAGE = format('Enrollment request %s is already REJECTED', v_id);
        END IF;
        v_customers := v_customers || v_request.customer_id;
        v_businesses := v_businesses || v_request.business_id;
    END LOOP;

    -- Decide by customer, then business, then the caller's order: every batch takes row locks
    -- in that one order (and a single approval touches one customer), so none can deadlock.
    -- Within a (customer, business) the caller's order is kept, so the results are those of
    -- one-by-one approval; only which request created a new customer can differ (fixed below).
    FOR v_item IN
        SELECT t.position, t.id
          FROM unnest(p_request_ids, v_customers, v_businesses) WITH ORDINALITY
               AS t (id, customer_id, business_id, position)
         ORDER BY t.customer_id, t.business_id, t.position
    LOOP
        SELECT r.* INTO v_request FROM loyalty.customer_approval_requests AS r WHERE r.id = v_item.id;
        v_results[v_item.position] := loyalty.decide_locked_request(v_request, true, NULL, p_business_id);
    END LOOP;

    -- A customer created by this batch was created, one by one, by its first request in the
    -- caller's order: say so in the results and in the outcome kept for replays.
    FOR v_item IN
        SELECT t.customer_id, (array_agg(t.request_id ORDER BY t.position))[1] AS creator
          FROM unnest(v_results) WITH ORDINALITY AS t (request_id, status, customer_id, program_id,
               enrollment_id, card_id, card_number, customer_created, notification_id, position)
         GROUP BY t.customer_id
        HAVING bool_or(t.customer_created)
    LOOP
        UPDATE loyalty.customer_approval_requests AS r
           SET customer_created = (r.id = v_item.creator)
         WHERE r.id = ANY (p_request_ids) AND r.customer_id = v_item.customer_id;
        FOR i IN 1 .. cardinality(v_results) LOOP
            IF v_results[i].customer_id = v_item.customer_id THEN
                v_results[i].customer_created := v_results[i].request_id = v_item.creator;
            END IF;
        END LOOP;
    END LOOP;

    RETURN QUERY SELECT * FROM unnest(v_results);
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.process_enrollment_approvals(uuid[], bigint) TO loyalty_app;
