-- The message of a card's CARD_CREATED notification, naming program, business and customer.
CREATE OR REPLACE FUNCTION loyalty._card_created_message(p_program_name text, p_business_name text, p_customer_name text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format('Welcome to %s at %s, %s! Your loyalty card is ready to use.',
                  p_program_name, p_business_name, p_customer_name)
$$;
