-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty._luhn_pair(bigint);

-- As the migrations left it (pg_get_functiondef).
CREATE OR REPLACE FUNCTION loyalty._luhn_check_digit(p_payload text)
 RETURNS integer
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$
DECLARE
    v_sum   integer := 0;
    v_digit integer;
BEGIN
    FOR v_position IN 1 .. length(p_payload) LOOP
        v_digit := ascii(substr(p_payload, length(p_payload) + 1 - v_position, 1)) - 48;
        IF v_digit NOT BETWEEN 0 AND 9 THEN
            RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('not a string of digits: %s', p_payload);
        END IF;
        -- Double every second digit counting from the right; 12 counts as 1 + 2 = 3.
        IF v_position % 2 = 1 THEN
            v_digit := v_digit * 2 - CASE WHEN v_digit > 4 THEN 9 ELSE 0 END;
        END IF;
        v_sum := v_sum + v_digit;
    END LOOP;
    RETURN (10 - v_sum % 10) % 10;
END;
$function$;
