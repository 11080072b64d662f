-- Take p_points (a positive integer) from the customer's card in the program: never below zero
-- (InsufficientPoints, LY011, naming the balance), under an idempotency key as earn_points.
CREATE OR REPLACE FUNCTION loyalty.spend_points(
    p_customer_id     bigint,
    p_program_id      bigint,
    p_points          integer,
    p_idempotency_key text,
    p_business_id     bigint DEFAULT NULL,
    p_reference       text DEFAULT NULL
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', false);
    RETURN loyalty._change_points(p_customer_id, p_program_id, -p_points, 'SPEND', p_idempotency_key,
                                  p_business_id, p_reference, NULL);
END;
$$;
