-- The card a number names: its loyaltydb number, or a number it carried in the replaced system
-- (loyalty.card_aliases, written by `loyaltydb import-legacy`). Compared exactly: the numbers are
-- printed on plastic and encoded in QR codes as they are. No row when no card has that number.
-- loyaltydb numbers are digits only and every legacy format holds a letter or a dash, so the two
-- lookups never answer for the same number.
CREATE OR REPLACE FUNCTION loyalty.find_card(p_card_number text)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql STABLE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.card_number = p_card_number;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT d.*
              FROM loyalty.card_aliases AS a
              JOIN loyalty.card_details AS d ON d.customer_id = a.customer_id AND d.id = a.card_id
             WHERE a.card_number = p_card_number;
    END IF;
END;
$$;
