-- The title of what the business is told when its customer answers an invitation (CUSTOMER_JOINED
-- or INVITATION_DECLINED). Shared by single and bulk decisions; inlinable SQL.
CREATE OR REPLACE FUNCTION loyalty._other_side_title(p_joined boolean, p_customer_name text, p_program_name text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT format(CASE WHEN p_joined THEN '%s joined %s' ELSE '%s declined to join %s' END,
                  p_customer_name, p_program_name)
$$;
