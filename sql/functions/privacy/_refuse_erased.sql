-- CustomerErased (LY019) when the customer was erased (erase_customer): from then on nothing is
-- written for that id again, by any call or any import. One key probe of loyalty.erased_customers
-- (on a cluster, of the customer's own shard).
CREATE OR REPLACE FUNCTION loyalty._refuse_erased(p_customer_id bigint)
RETURNS void
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_erased_at timestamptz;
BEGIN
    SELECT x.erased_at INTO v_erased_at FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id;
    IF FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY019',
            MESSAGE = format('Customer %s was erased at %s: nothing is written for them again', p_customer_id,
                             to_char(v_erased_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'));
    END IF;
END;
$$;
