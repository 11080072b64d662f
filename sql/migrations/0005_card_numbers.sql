-- Card numbers: 16 digits, a 15-digit sequence value followed by its Luhn check digit.
-- depends: 0004_enrollments

-- Fifteen digits, never reused: the sequence never cycles, and the column is UNIQUE as well.
CREATE SEQUENCE loyalty.card_number_seq
    AS bigint MINVALUE 100000000000000 MAXVALUE 999999999999999 NO CYCLE;

-- The Luhn (ISO/IEC 7812-1) check digit of a string of digits. plpgsql, not SQL: a SQL
-- function that cannot be inlined is planned again on every call (a default, a CHECK).
CREATE FUNCTION loyalty.luhn_check_digit(p_payload text)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
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
$$;

-- True when the number is all digits and its last digit is the Luhn check digit of the rest.
CREATE FUNCTION loyalty.card_number_is_valid(p_card_number text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
BEGIN
    RETURN p_card_number ~ '^[0-9]{2,}$'
       AND loyalty.luhn_check_digit(left(p_card_number, -1)) = right(p_card_number, 1)::integer;
END;
$$;

CREATE FUNCTION loyalty.next_card_number()
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_payload text := nextval('loyalty.card_number_seq')::text;
BEGIN
    RETURN v_payload || loyalty.luhn_check_digit(v_payload);
END;
$$;

ALTER TABLE loyalty.loyalty_cards
    ALTER COLUMN card_number SET DEFAULT loyalty.next_card_number(),
    ADD CONSTRAINT loyalty_cards_card_number_check CHECK (loyalty.card_number_is_valid(card_number));
