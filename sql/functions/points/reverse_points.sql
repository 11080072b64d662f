-- Undo one EARN, SPEND or ADJUST of the customer (p_transaction_id), once: a REVERSAL row of the
-- opposite sign naming it in reverses_id. A second reversal under another key is AlreadyReversed
-- (LY016; checked under the card's lock, and a unique index besides); an id that is not that customer's is
-- TransactionNotFound (LY020); other reasons cannot be reversed (22023). Never below zero.
CREATE OR REPLACE FUNCTION loyalty.reverse_points(
    p_customer_id     bigint,
    p_transaction_id  bigint,
    p_idempotency_key text,
    p_business_id     bigint DEFAULT NULL
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_target loyalty.point_transactions;
BEGIN
    SELECT t.* INTO v_target
      FROM loyalty.point_transactions AS t
     WHERE t.customer_id = p_customer_id AND t.id = p_transaction_id;
    IF v_target.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY020',
            MESSAGE = format('Transaction %s is not one of customer %s', coalesce(p_transaction_id::text, 'NULL'),
                             coalesce(p_customer_id::text, 'NULL'));
    END IF;
    IF v_target.reason::text NOT IN ('EARN', 'SPEND', 'ADJUST') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('Transaction %s is %s, which cannot be reversed (only EARN, SPEND, ADJUST)',
                             v_target.id, v_target.reason);
    END IF;
    RETURN loyalty._change_points(p_customer_id, v_target.program_id, -v_target.points, 'REVERSAL',
                                  p_idempotency_key, p_business_id, NULL, NULL, v_target.id);
END;
$$;
