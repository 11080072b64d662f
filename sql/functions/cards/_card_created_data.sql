-- The data of a card's CARD_CREATED notification: everyone by name, the card, the request, and
-- the welcome points credited to the card (0 for none).
CREATE OR REPLACE FUNCTION loyalty._card_created_data(
    p_customer_name  text,
    p_program_name   text,
    p_business_name  text,
    p_card_number    text,
    p_request_id     uuid,
    p_welcome_points integer
)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT jsonb_build_object('customer_name', p_customer_name,
                              'program_name', p_program_name,
                              'business_name', p_business_name,
                              'card_number', p_card_number,
                              'request_id', p_request_id,
                              'welcome_points', p_welcome_points)
$$;
