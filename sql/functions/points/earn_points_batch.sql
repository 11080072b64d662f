-- Many earns in one call (one round trip, one transaction), entry i being (p_customer_ids[i],
-- p_program_ids[i], p_points[i], p_idempotency_keys[i]); one result per entry, in order. A batch
-- in which every entry simply writes is written set-based (_earn_points_set, on one server);
-- any other is taken entry by entry through earn_points' own writer (_change_points), so every
-- rule holds per entry: a replayed key returns its stored row, and an error in any entry raises,
-- naming the entry, with nothing of the batch written. Cards are locked in (customer, program)
-- order on both paths, so two batches over the same cards never deadlock.
CREATE OR REPLACE FUNCTION loyalty.earn_points_batch(
    p_customer_ids     bigint[],
    p_program_ids      bigint[],
    p_points           integer[],
    p_idempotency_keys text[],
    p_business_id      bigint DEFAULT NULL
)
RETURNS SETOF loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count   integer := coalesce(cardinality(p_customer_ids), 0);
    v_entry   record;
    v_results loyalty.point_result[];
BEGIN
    IF v_count IS DISTINCT FROM cardinality(p_program_ids) OR v_count IS DISTINCT FROM cardinality(p_points)
       OR v_count IS DISTINCT FROM cardinality(p_idempotency_keys) THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('the four arrays must have one element an entry: %s customers, %s programs, %s points, %s keys',
                             cardinality(p_customer_ids), cardinality(p_program_ids), cardinality(p_points),
                             cardinality(p_idempotency_keys));
    END IF;
    IF v_count > 10000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('a batch holds at most 10000 entries, not %s', v_count);
    END IF;
    -- The set-based path when every entry simply writes (one server); else one entry at a time.
    IF v_count > 0 AND NOT loyalty._distributed() THEN
        v_results := loyalty._earn_points_set(p_customer_ids, p_program_ids, p_points, p_idempotency_keys,
                                              p_business_id);
        IF v_results IS NOT NULL THEN
            RETURN QUERY SELECT * FROM unnest(v_results);
            RETURN;
        END IF;
    END IF;
    v_results := array_fill(NULL::loyalty.point_result, ARRAY[v_count]);
    -- One block around the loop (not one an entry: a subtransaction each would cost every
    -- entry), so an error names the entry it happened in (v_entry keeps it).
    BEGIN
        FOR v_entry IN
            SELECT f.*
              FROM unnest(p_customer_ids, p_program_ids, p_points, p_idempotency_keys) WITH ORDINALITY
                   AS f (customer_id, program_id, points, idempotency_key, position)
             ORDER BY f.customer_id, f.program_id, f.position
        LOOP
            PERFORM loyalty._check_points(v_entry.points, 'points', false);
            v_results[v_entry.position] := loyalty._change_points(v_entry.customer_id, v_entry.program_id,
                                                                  v_entry.points, 'EARN', v_entry.idempotency_key,
                                                                  p_business_id, NULL, NULL);
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION USING ERRCODE = SQLSTATE,
            MESSAGE = format('entry %s (customer %s, program %s): %s', v_entry.position, v_entry.customer_id,
                             v_entry.program_id, SQLERRM);
    END;
    RETURN QUERY SELECT * FROM unnest(v_results);
END;
$$;
