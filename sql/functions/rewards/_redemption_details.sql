-- A redemption as fulfil_redemption and cancel_redemption return it, with its reward's name.
-- (plpgsql: Citus plans no parameterised statement of a SQL-language function.)
CREATE OR REPLACE FUNCTION loyalty._redemption_details(p_customer_id bigint, p_redemption_id uuid)
RETURNS loyalty.redemption_details
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_done loyalty.redemption_details;
BEGIN
    SELECT d.id, d.customer_id, d.reward_id, r.name, d.program_id, d.card_id, d.points, d.code, d.status::text,
           d.created_at, d.decided_at
      INTO v_done
      FROM loyalty.redemptions AS d
      JOIN loyalty.rewards AS r ON r.id = d.reward_id
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN v_done;
END;
$$;
