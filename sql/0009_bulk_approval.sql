-- Bulk approval: many requests in one call (one round trip, one transaction), with the results
-- of approving them one by one in the given order.
-- depends: 0008_roles
--
-- Atomic like every call: a request that cannot be approved (unknown, rejected, its user gone,
-- its program inactive, another business's) raises its own SQLSTATE and nothing is written.

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

CREATE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_key       bigint;
    v_id        uuid;
    v_customer  bigint;
    v_customers bigint[] := ARRAY[]::bigint[];
    v_request   loyalty.customer_approval_requests;
BEGIN
    IF p_request_ids IS NULL OR array_position(p_request_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request ids must not be NULL';
    END IF;

    -- Every request first, one primary-key probe each, in id order: two batches never wait on
    -- each other in a circle.
    FOR v_id IN SELECT DISTINCT u.id FROM unnest(p_request_ids) AS u (id) ORDER BY 1
    LOOP
        SELECT r.customer_id INTO v_customer FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id FOR UPDATE;
        IF FOUND THEN
            v_customers := v_customers || v_customer;
        END IF;
    END LOOP;

    -- One batch at a time per customer, keys in ascending order: batches sharing customers
    -- serialise instead of deadlocking on the rows of those customers.
    FOR v_key IN
        SELECT DISTINCT hashtextextended('loyalty.customer ' || c.id, 0) FROM unnest(v_customers) AS c (id) ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(v_key);
    END LOOP;

    -- Then in the caller's order, each request re-read: an earlier duplicate may have decided it.
    FOR v_id IN SELECT u.id FROM unnest(p_request_ids) WITH ORDINALITY AS u (id, position) ORDER BY u.position
    LOOP
        SELECT r.* INTO v_request FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_id);
        END IF;
        RETURN NEXT loyalty.decide_locked_request(v_request, true, NULL, p_business_id);
    END LOOP;
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.process_enrollment_approvals(uuid[], bigint) TO loyalty_app;
