-- The Luhn sum of the two rightmost digits of p_digits: the last doubled (a doubled digit over 9
-- counts its two digits, so 2d % 10 + 2d / 10), the one before it as it is. Inlined into
-- _luhn_check_digit (SQL, IMMUTABLE).
CREATE OR REPLACE FUNCTION loyalty._luhn_pair(p_digits bigint)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT ((2 * (p_digits % 10)) % 10 + (2 * (p_digits % 10)) / 10 + p_digits / 10 % 10)::integer
$$;
