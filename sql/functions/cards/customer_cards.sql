-- A customer's cards with their program's and business's names. plpgsql, not SQL: Citus cannot
-- plan a SQL function's parameters.
CREATE OR REPLACE FUNCTION loyalty.customer_cards(p_customer_id bigint)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id ORDER BY d.id;
END;
$$;
