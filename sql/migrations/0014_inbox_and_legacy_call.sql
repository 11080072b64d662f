-- For the people who use it: a business's inbox of pending requests, the replaced system's
-- entry point for its callers unchanged, and a cap on rejection reasons.
-- depends: 0013_faster_approval

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;
-- On a distributed database, Citus creates a type and an index in one transaction only over one
-- connection per worker. (On one server this sets an unused placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- The inbox reads a business's PENDING requests oldest first from this index alone. (Deciding a
-- request now writes this index's entries too: status is in its predicate, so the update is no
-- longer HOT; measured at under 3% of an approval, docs/benchmarks.md.)
CREATE INDEX customer_approval_requests_pending_idx
    ON loyalty.customer_approval_requests (business_id, requested_at, id)
 WHERE status = 'PENDING';

CREATE TYPE loyalty.pending_request AS (
    request_id    uuid,
    customer_id   bigint,
    customer_name text,
    program_id    bigint,
    program_name  text,
    requested_at  timestamptz
);

-- A business's PENDING requests, oldest first, p_limit (1-1000) at a time. Pages are keyset, not
-- OFFSET: pass the last request id of a page as p_after to get the next one.
CREATE FUNCTION loyalty.pending_requests(
    p_business_id bigint,
    p_limit       integer DEFAULT 50,
    p_after       uuid DEFAULT NULL
)
RETURNS SETOF loyalty.pending_request
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- Before every request: the first page.
    v_after_at timestamptz := '-infinity'::timestamptz;
    v_after_id uuid := '00000000-0000-0000-0000-000000000000'::uuid;
    v_customer bigint := loyalty._request_customer(p_after);
BEGIN
    IF p_business_id IS NULL OR p_limit IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business id and limit must not be NULL';
    END IF;
    IF p_limit NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 1000, not %s', p_limit);
    END IF;
    IF p_after IS NOT NULL THEN
        -- The cursor request may be decided by now; its place in the order stays the same.
        SELECT r.requested_at, r.id INTO v_after_at, v_after_id
          FROM loyalty.customer_approval_requests AS r
         WHERE r.id = p_after AND r.business_id = p_business_id
           AND r.customer_id = coalesce(v_customer, r.customer_id);
        IF NOT FOUND THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY001',
                MESSAGE = format('Enrollment request not found: %s (after= names no request of business %s)',
                                 p_after, p_business_id);
        END IF;
    END IF;

    -- A requester may not be a customer yet: then the name comes from the users row. Subqueries,
    -- not joins: each is one key probe per row of the page (a join may scan the users).
    RETURN QUERY
    SELECT r.id, r.customer_id,
           coalesce((SELECT c.name FROM loyalty.customers AS c WHERE c.id = r.customer_id),
                    (SELECT loyalty._display_name(u.id, u.name, u.email) FROM loyalty.users AS u WHERE u.id = r.customer_id),
                    loyalty._display_name(r.customer_id, NULL, NULL)),
           r.program_id, p.name, r.requested_at
      FROM loyalty.customer_approval_requests AS r
      JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
     WHERE r.business_id = p_business_id
       AND r.status = 'PENDING'
       AND (r.requested_at, r.id) > (v_after_at, v_after_id)
     ORDER BY r.requested_at, r.id
     LIMIT p_limit;
END;
$$;

-- The replaced system's call, `SELECT process_enrollment_approval(customer_id, program_id,
-- request_id)` with (integer, integer, uuid), returning the card id: its callers move to
-- loyaltydb unchanged. The request must be that customer's and for that program (a mix-up is
-- refused, not approved); then it is approved by the same code as every approval.
CREATE FUNCTION loyalty.process_enrollment_approval(
    p_customer_id integer,
    p_program_id  integer,
    p_request_id  uuid
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_result loyalty.enrollment_result;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL OR p_request_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id, program id and request id must not be NULL';
    END IF;
    -- A request's customer and program never change, so this needs no lock.
    IF NOT EXISTS (SELECT FROM loyalty.customer_approval_requests AS r
                    WHERE r.customer_id = p_customer_id AND r.id = p_request_id AND r.program_id = p_program_id) THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY001',
            MESSAGE = format('Enrollment request not found: %s for customer %s and program %s',
                             p_request_id, p_customer_id, p_program_id);
    END IF;
    v_result := loyalty._decide_request(p_customer_id, p_request_id, true, NULL, NULL);
    RETURN v_result.card_id;
END;
$$;

GRANT EXECUTE ON FUNCTION
    loyalty.pending_requests(bigint, integer, uuid),
    loyalty.process_enrollment_approval(integer, integer, uuid)
    TO loyalty_app;

-- As in 0012, with the cap on the rejection reason (Python: ReasonTooLong).
CREATE OR REPLACE FUNCTION loyalty._decide_request(
    p_customer_id bigint,
    p_request_id  uuid,
    p_approved    boolean,
    p_reason      text,
    p_business_id bigint
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_request loyalty.customer_approval_requests;
BEGIN
    -- Checked before any lock: the reason is stored and sent to the customer.
    IF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY008',
            MESSAGE = format('A rejection reason may be at most 1000 characters; this one has %s', length(p_reason));
    END IF;

    -- A rejection first waits for every decision on the same customer and program (their
    -- requests, locked in id order like a batch's), so it sees an approval that beat it.
    IF NOT p_approved THEN
        PERFORM FROM loyalty.customer_approval_requests AS s
         WHERE s.customer_id = p_customer_id
           AND s.program_id = (SELECT r.program_id FROM loyalty.customer_approval_requests AS r
                                WHERE r.customer_id = p_customer_id AND r.id = p_request_id)
         ORDER BY s.id
           FOR UPDATE;
    END IF;

    -- Every decision on one request is serialised here; the waiter then sees the decided row.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.customer_id = p_customer_id AND r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;

    RETURN loyalty._decide_locked_request(v_request, p_approved, p_reason, p_business_id);
END;
$$;
