-- Card numbers: 16 digits, a 15-digit sequence value followed by its Luhn check digit.
-- depends: 0004_enrollments

-- Fifteen digits, never reused: the sequence never cycles, and the column is UNIQUE as well.
CREATE SEQUENCE loyalty.card_number_seq
    AS bigint MINVALUE 100000000000000 MAXVALUE 999999999999999 NO CYCLE;

-- The Luhn (ISO/IEC 7812-1) check digit of a string of digits.
CREATE FUNCTION loyalty.luhn_check_digit(p_payload text)
RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT (10 - sum(
               -- Double every second digit counting from the right; 12 counts as 1 + 2 = 3.
               CASE WHEN position % 2 = 1
                    THEN digit * 2 - CASE WHEN digit > 4 THEN 9 ELSE 0 END
                    ELSE digit
               END) % 10) % 10
      FROM (SELECT substr(reverse(p_payload), position, 1)::integer AS digit, position
              FROM generate_series(1, length(p_payload)) AS position) AS digits
$$;

-- True when the number is all digits and its last digit is the Luhn check digit of the rest.
CREATE FUNCTION loyalty.card_number_is_valid(p_card_number text)
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT p_card_number ~ '^[0-9]{2,}$'
       AND loyalty.luhn_check_digit(left(p_card_number, -1)) = right(p_card_number, 1)::integer
$$;

CREATE FUNCTION loyalty.next_card_number()
RETURNS text
LANGUAGE sql VOLATILE
AS $$
    SELECT payload || loyalty.luhn_check_digit(payload)
      FROM (SELECT nextval('loyalty.card_number_seq')::text AS payload) AS next_value
$$;

ALTER TABLE loyalty.loyalty_cards
    ALTER COLUMN card_number SET DEFAULT loyalty.next_card_number(),
    ADD CONSTRAINT loyalty_cards_card_number_check CHECK (loyalty.card_number_is_valid(card_number));
