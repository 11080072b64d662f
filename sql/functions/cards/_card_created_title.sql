-- The title of a card's CARD_CREATED notification: the one text the customer sees first. Every
-- path that creates a card (single and bulk approval) takes it from here; inlinable SQL, so it
-- costs nothing at run time (STABLE like format()).
CREATE OR REPLACE FUNCTION loyalty._card_created_title(p_program_name text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format('Your %s card is ready', p_program_name)
$$;
