ALTER TABLE loyalty.loyalty_cards
    DROP CONSTRAINT loyalty_cards_card_number_check,
    ALTER COLUMN card_number DROP DEFAULT;

DROP FUNCTION loyalty.next_card_number(), loyalty.card_number_is_valid(text), loyalty.luhn_check_digit(text);

DROP SEQUENCE loyalty.card_number_seq;
