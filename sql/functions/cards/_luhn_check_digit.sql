-- The Luhn (ISO/IEC 7812-1) check digit of a string of digits: from the right, the 1st, 3rd,
-- 5th… digit doubled, the others as they are, and the check digit takes their sum to a multiple
-- of 10. Since 0028 in arithmetic, 18 digits at a time (an even count, so each chunk starts
-- with a doubled digit): one pass for every number loyaltydb makes (15 digits), where the loop
-- over single characters before made 15, twice an approval (the number, then its CHECK).
CREATE OR REPLACE FUNCTION loyalty._luhn_check_digit(p_payload text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_sum    integer := 0;
    v_rest   text := p_payload;
    v_digits bigint;
BEGIN
    IF p_payload !~ '^[0-9]+$' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('not a string of digits: %s', p_payload);
    END IF;
    WHILE v_rest <> '' LOOP
        v_digits := right(v_rest, 18)::bigint;
        v_sum := v_sum + loyalty._luhn_pair(v_digits) + loyalty._luhn_pair(v_digits / 100)
                       + loyalty._luhn_pair(v_digits / 10000) + loyalty._luhn_pair(v_digits / 1000000)
                       + loyalty._luhn_pair(v_digits / 100000000) + loyalty._luhn_pair(v_digits / 10000000000)
                       + loyalty._luhn_pair(v_digits / 1000000000000) + loyalty._luhn_pair(v_digits / 100000000000000)
                       + loyalty._luhn_pair(v_digits / 10000000000000000);
        v_rest := left(v_rest, -18);
    END LOOP;
    RETURN (10 - v_sum % 10) % 10;
END;
$$;
