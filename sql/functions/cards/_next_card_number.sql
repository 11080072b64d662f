CREATE OR REPLACE FUNCTION loyalty._next_card_number()
 RETURNS text
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_payload text;
    v_number  text;
BEGIN
    LOOP
        v_payload := nextval('loyalty.card_number_seq')::text;
        v_number := v_payload || loyalty._luhn_check_digit(v_payload);
        EXIT WHEN NOT EXISTS (SELECT FROM loyalty.loyalty_cards AS c WHERE c.card_number = v_number);
    END LOOP;
    RETURN v_number;
END;
$function$;
