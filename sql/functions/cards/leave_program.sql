-- The customer leaves the program: the enrollment and the card become INACTIVE (a blocked card
-- stays blocked), and the relationship with the business too when the customer has no other
-- ACTIVE program of that business. The business is told by name. Joining again (an approval or
-- an acceptance) re-activates the same card with its balance. Leaving twice changes nothing and
-- returns the card.
CREATE OR REPLACE FUNCTION loyalty.leave_program(p_customer_id bigint, p_program_id bigint)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_card loyalty._locked_card;
BEGIN
    v_card := loyalty._lock_card(p_customer_id, p_program_id, NULL);
    IF v_card.enrollment_status IS DISTINCT FROM 'ACTIVE' AND v_card.status <> 'ACTIVE' THEN
        RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = v_card.id;
        RETURN;
    END IF;
    UPDATE loyalty.program_enrollments AS e
       SET status = 'INACTIVE', updated_at = now()
     WHERE e.customer_id = p_customer_id AND e.id = v_card.enrollment_id;
    UPDATE loyalty.loyalty_cards AS k
       SET status = 'INACTIVE', updated_at = now()
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id AND k.status = 'ACTIVE';
    -- The relationship ends with the customer's last ACTIVE program of that business.
    UPDATE loyalty.customer_business_relationships AS r
       SET status = 'INACTIVE', updated_at = now()
     WHERE r.customer_id = p_customer_id AND r.business_id = v_card.business_id AND r.status = 'ACTIVE'
       AND NOT EXISTS (SELECT FROM loyalty.program_enrollments AS e
                         JOIN loyalty.loyalty_programs AS p ON p.id = e.program_id
                        WHERE e.customer_id = p_customer_id AND e.status = 'ACTIVE'
                          AND p.business_id = v_card.business_id);
    RETURN NEXT loyalty._card_changed(
        p_customer_id, v_card.id, 'enrollment.left', 'BUSINESS', 'CUSTOMER_LEFT', '%1$s left %2$s',
        '%1$s has left your %2$s loyalty program', NULL, '{}'::jsonb);
END;
$$;
