-- The card-number scheme: '9', the customer id in 10 digits, the customer's card ordinal in 4
-- digits, then the Luhn check digit; NULL outside the scheme's range (customer ids 0 to
-- 9,999,999,999, ordinals 1 to 9,999). Single and bulk numbering both call it. Inlinable SQL:
-- no FROM and no subquery, so the payload is spelt twice rather than bound once; and the check
-- digit cast to text, since text || integer is only STABLE and would stop the inlining (a SQL
-- function that is not inlined is planned again on every call).
CREATE OR REPLACE FUNCTION loyalty._card_number_for(p_customer_id bigint, p_ordinal bigint)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_customer_id BETWEEN 0 AND 9999999999 AND p_ordinal BETWEEN 1 AND 9999
                THEN '9' || lpad(p_customer_id::text, 10, '0') || lpad(p_ordinal::text, 4, '0')
                     || loyalty._luhn_check_digit('9' || lpad(p_customer_id::text, 10, '0') || lpad(p_ordinal::text, 4, '0'))::text
           END
$$;
