-- As in 0011, with `p_id::text`: `text || bigint` is only STABLE, which kept the planner from
-- inlining this IMMUTABLE function (each call ran through the SQL-function executor).
CREATE OR REPLACE FUNCTION loyalty._display_name(p_id bigint, p_name text, p_email text, p_fallback text DEFAULT 'Customer'::text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        nullif(loyalty._trim_space(p_name), ''),
        -- Greedy '.*' keeps everything before the last '@': the RFC 5322 local part.
        nullif(loyalty._trim_space(loyalty._initcap_unicode(replace(substring(p_email FROM '^(.*)@'), '.', ' '))), ''),
        p_fallback || ' ' || p_id::text
    )
$$;
