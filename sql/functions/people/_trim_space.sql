-- Leading and trailing white space removed: space, tab, newline, carriage return, vertical
-- tab, form feed. A character set, not a regular expression: the same in every locale, and
-- cheap on the approval's hot path (it names the business in every notification).
CREATE OR REPLACE FUNCTION loyalty._trim_space(p_text text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT btrim(p_text, E' \t\n\r\x0B\f')
$$;
