-- Credit p_points (a positive integer) to the customer's card in the program, under an
-- idempotency key the card has not seen for another call (contract "Points"). One hop on a
-- Citus cluster (delegated by p_customer_id). p_reference: an order or receipt number, at most 200
-- characters, never personal data.
CREATE OR REPLACE FUNCTION loyalty.earn_points(
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
    RETURN loyalty._change_points(p_customer_id, p_program_id, p_points, 'EARN', p_idempotency_key,
                                  p_business_id, p_reference, NULL);
END;
$$;
