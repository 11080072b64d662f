-- The payload of a points.* event: the names, the ids and the change, and the customer's
-- channels for rewards. One inlinable function, so that the single writer (_change_points) and
-- the set-based batch (_earn_points_set) publish the same payload.
CREATE OR REPLACE FUNCTION loyalty._points_event_payload(
    p_customer_name text, p_program_name text, p_business_name text, p_program_id bigint, p_card_id bigint,
    p_card_number text, p_transaction_id bigint, p_points integer, p_balance_after bigint, p_reverses_id bigint,
    p_preferences jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
               'customer_name', p_customer_name, 'program_name', p_program_name, 'business_name', p_business_name,
               'program_id', p_program_id, 'card_id', p_card_id, 'card_number', p_card_number,
               'transaction_id', p_transaction_id, 'points', p_points, 'balance_after', p_balance_after,
               'reverses_id', p_reverses_id, 'channels', loyalty._event_channels(p_preferences, 'rewards')))
$$;
