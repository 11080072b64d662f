-- The message of a card's CARD_CREATED notification, naming program, business and customer, and
-- the welcome points the new card starts with, if any.
CREATE OR REPLACE FUNCTION loyalty._card_created_message(
    p_program_name   text,
    p_business_name  text,
    p_customer_name  text,
    p_welcome_points integer
)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format('Welcome to %s at %s, %s! Your loyalty card is ready to use.',
                  p_program_name, p_business_name, p_customer_name)
           || CASE WHEN p_welcome_points > 0
                   THEN format(' It starts with %s welcome points.', p_welcome_points::text)
                   ELSE '' END
$$;
