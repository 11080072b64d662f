-- Initial capitals, the same in every locale: in each run of letters and digits (Unicode
-- categories L and Nd, as ICU classifies them) the first character is upper-cased and the rest
-- lower-cased; everything else is kept. Plain initcap() follows the database's locale: under
-- LOCALE 'C' it only knows ASCII letters ('éLodie'). plpgsql, so that its plan is cached.
CREATE OR REPLACE FUNCTION loyalty._initcap_unicode(p_text text)
RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_result text;
BEGIN
    SELECT string_agg(CASE WHEN m.part[1] IS NULL THEN m.part[2]
                           ELSE upper(left(m.part[1], 1) COLLATE "und-x-icu")
                                || lower(substr(m.part[1], 2) COLLATE "und-x-icu")
                      END, '' ORDER BY m.n)
      INTO v_result
      FROM regexp_matches(p_text COLLATE "und-x-icu", '([[:alnum:]]+)|([^[:alnum:]]+)', 'g')
           WITH ORDINALITY AS m (part, n);
    RETURN coalesce(v_result, '');
END;
$$;
