-- Bulk approval on a cluster, where one statement cannot lock rows on several workers: the
-- per-customer function decides each request, in the caller's transaction (Citus commits it on
-- every worker with two-phase commit), with the results of one-by-one approval in the caller's
-- order. Its locks are taken in one order, as on one server, so that batches racing each other
-- or single approvals never deadlock:
--   1. every request of the batch, once, in id order (each on its customer's shard);
--   2. then each request decided in (customer, business, program) order, which takes the
--      customer, relationship, enrollment and card rows in that order too.
-- Deciding out of the caller's order changes two things one-by-one approval fixes by the
-- caller's order, and both are put back: the error raised is that of the first request, in the
-- caller's order, that cannot be approved (which requests fail does not depend on the order:
-- approving one request never makes another fail), and a customer this batch created is
-- reported created by its first request in the caller's order.
CREATE OR REPLACE FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_item      record;
    v_customer  bigint;
    v_request   loyalty.customer_approval_requests;
    -- Each distinct request in id order, its row's customer, business and program (NULL customer:
    -- not found), and its result or the error deciding it raised.
    v_ids       uuid[] := ARRAY[]::uuid[];
    v_customers bigint[] := ARRAY[]::bigint[];
    v_businesses bigint[] := ARRAY[]::bigint[];
    v_programs  bigint[] := ARRAY[]::bigint[];
    v_results   loyalty.enrollment_result[] := ARRAY[]::loyalty.enrollment_result[];
    v_states    text[] := ARRAY[]::text[];
    v_messages  text[] := ARRAY[]::text[];
BEGIN
    -- 1. Lock every request once, in id order.
    FOR v_item IN SELECT DISTINCT t.id FROM unnest(p_request_ids) AS t (id) ORDER BY t.id
    LOOP
        v_customer := coalesce(loyalty._request_customer(v_item.id),
                               (SELECT r.customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = v_item.id));
        v_request := NULL;
        IF v_customer IS NOT NULL THEN
            SELECT r.* INTO v_request
              FROM loyalty.customer_approval_requests AS r
             WHERE r.customer_id = v_customer AND r.id = v_item.id
               FOR UPDATE;
        END IF;
        v_ids := v_ids || v_item.id;
        v_customers := v_customers || v_request.customer_id;
        v_businesses := v_businesses || v_request.business_id;
        v_programs := v_programs || v_request.program_id;
        v_results := v_results || NULL::loyalty.enrollment_result;
        v_states := v_states || CASE WHEN v_request.id IS NULL THEN 'LY001' END;
        v_messages := v_messages || CASE WHEN v_request.id IS NULL
                                         THEN format('Enrollment request not found: %s', v_item.id) END;
    END LOOP;

    -- 2. Decide in (customer, business, program) order; a request that cannot be approved keeps
    -- its error, and its subtransaction leaves nothing.
    FOR v_item IN
        SELECT f.slot, f.id, f.customer_id
          FROM unnest(v_ids, v_customers, v_businesses, v_programs) WITH ORDINALITY
               AS f (id, customer_id, business_id, program_id, slot)
         WHERE f.customer_id IS NOT NULL
         ORDER BY f.customer_id, f.business_id, f.program_id, f.id
    LOOP
        BEGIN
            v_results[v_item.slot] := loyalty._decide_request(v_item.customer_id, v_item.id, true, NULL, p_business_id);
        EXCEPTION WHEN OTHERS THEN
            IF SQLSTATE NOT LIKE 'LY%' THEN
                RAISE;  -- a lost race, a timeout: the caller's to handle, as for one approval
            END IF;
            v_states[v_item.slot] := SQLSTATE;
            v_messages[v_item.slot] := SQLERRM;
        END;
    END LOOP;

    -- The error of the first request, in the caller's order, that cannot be approved.
    SELECT v_states[f.slot] AS state, v_messages[f.slot] AS message INTO v_item
      FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
      JOIN unnest(v_ids) WITH ORDINALITY AS f (id, slot) ON f.id = t.id
     WHERE v_states[f.slot] IS NOT NULL
     ORDER BY t.position
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = v_item.state, MESSAGE = v_item.message;
    END IF;

    -- A customer this batch created: reported created by its first request in the caller's order.
    FOR v_item IN
        SELECT DISTINCT ON (c.customer_id) c.customer_id, c.slot AS creator,
               (SELECT f.slot FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
                  JOIN unnest(v_ids, v_customers) WITH ORDINALITY AS f (id, customer_id, slot) ON f.id = t.id
                 WHERE f.customer_id = c.customer_id
                 ORDER BY t.position LIMIT 1) AS first
          FROM unnest(v_customers) WITH ORDINALITY AS c (customer_id, slot)
         WHERE (v_results[c.slot]).customer_created
    LOOP
        CONTINUE WHEN v_item.creator = v_item.first;
        UPDATE loyalty.customer_approval_requests AS r
           SET customer_created = (r.id = v_ids[v_item.first])
         WHERE r.customer_id = v_item.customer_id AND r.id IN (v_ids[v_item.creator], v_ids[v_item.first]);
        v_results[v_item.creator].customer_created := false;
        v_results[v_item.first].customer_created := true;
    END LOOP;

    -- The results in the caller's order; a repeated id returns its result again.
    FOR v_item IN
        SELECT f.slot
          FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
          JOIN unnest(v_ids) WITH ORDINALITY AS f (id, slot) ON f.id = t.id
         ORDER BY t.position
    LOOP
        RETURN NEXT v_results[v_item.slot];
    END LOOP;
END;
$$;
