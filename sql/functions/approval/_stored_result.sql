-- The stored outcome of a decided request (its row holds it; the card number is the card's).
CREATE OR REPLACE FUNCTION loyalty._stored_result(p_request loyalty.customer_approval_requests)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ROW(p_request.id, p_request.status, p_request.customer_id, p_request.program_id, p_request.enrollment_id,
               p_request.card_id,
               (SELECT k.card_number FROM loyalty.loyalty_cards AS k
                 WHERE k.customer_id = p_request.customer_id AND k.id = p_request.card_id),
               coalesce(p_request.customer_created, false), p_request.result_notification_id)::loyalty.enrollment_result;
END;
$$;
