-- The message of what the business is told when its customer answers an invitation, by name.
CREATE OR REPLACE FUNCTION loyalty._other_side_message(
    p_joined        boolean,
    p_customer_name text,
    p_program_name  text,
    p_reason        text
)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_joined
                THEN format('%s has joined your %s loyalty program', p_customer_name, p_program_name)
                ELSE format('%s has declined to join your %s loyalty program', p_customer_name, p_program_name)
                     || coalesce('. Reason: ' || p_reason, '')
           END
$$;
