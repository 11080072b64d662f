-- The title of a points notification: "You earned 50 points at Coffee Club" or "50 points were
-- deducted at Coffee Club". One inlinable function, so the text is edited in one place.
-- STABLE, as format() is: an IMMUTABLE function whose body calls a STABLE one is never inlined,
-- and PostgreSQL then plans it again on every call (measured: an earn cost 18% more instructions).
CREATE OR REPLACE FUNCTION loyalty._points_title(p_points integer, p_program_name text)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_points > 0 THEN format('You earned %s points at %s', p_points, p_program_name)
                ELSE format('%s points were deducted at %s', -p_points, p_program_name) END
$$;
