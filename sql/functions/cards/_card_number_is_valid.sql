CREATE OR REPLACE FUNCTION loyalty._card_number_is_valid(p_card_number text)
 RETURNS boolean
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE STRICT
AS $function$
BEGIN
    RETURN p_card_number ~ '^[0-9]{2,}$'
       AND loyalty._luhn_check_digit(left(p_card_number, -1)) = right(p_card_number, 1)::integer;
END;
$function$;
