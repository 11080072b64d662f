-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- As 0012_distribution_keys defined it.
CREATE OR REPLACE FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_id          uuid;
    v_customer_id bigint;
BEGIN
    FOREACH v_id IN ARRAY p_request_ids
    LOOP
        v_customer_id := coalesce(loyalty._request_customer(v_id),
                                  (SELECT r.customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id));
        IF v_customer_id IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_id);
        END IF;
        RETURN NEXT loyalty._decide_request(v_customer_id, v_id, true, NULL, p_business_id);
    END LOOP;
END;
$$;

SET LOCAL citus.multi_shard_modify_mode = 'sequential';

ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT customer_approval_requests_id_carries_its_customer;
