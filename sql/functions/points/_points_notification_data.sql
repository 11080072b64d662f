-- The data of a POINTS_ADDED / POINTS_DEDUCTED notification, for the single writer and the batch.
CREATE OR REPLACE FUNCTION loyalty._points_notification_data(
    p_customer_name text, p_program_name text, p_business_name text, p_card_id bigint, p_transaction_id bigint,
    p_points integer, p_balance_after bigint, p_reason text)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT jsonb_build_object('customer_name', p_customer_name, 'program_name', p_program_name,
                              'business_name', p_business_name, 'card_id', p_card_id,
                              'transaction_id', p_transaction_id, 'points', p_points, 'balance_after', p_balance_after,
                              'reason', p_reason)
$$;
