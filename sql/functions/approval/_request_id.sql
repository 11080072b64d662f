-- Request ids that carry their customer: a UUIDv8 whose hex digits hold the customer id
-- (1-12, 14-16 and 18), the version (13: '8'), the variant (17: 8-b), a marker (19: 'c') and 54
-- random bits. A call can then be routed to the customer's worker from the id alone.
CREATE OR REPLACE FUNCTION loyalty._request_id(p_customer_id bigint)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_customer text := lpad(to_hex(p_customer_id), 16, '0');
    v_random   text := replace(gen_random_uuid()::text, '-', '');
BEGIN
    RETURN (substr(v_customer, 1, 12) || '8' || substr(v_customer, 13, 3)
            || substr('89ab', 1 + ascii(substr(v_random, 1, 1)) % 4, 1)
            || substr(v_customer, 16, 1) || 'c' || substr(v_random, 2, 13))::uuid;
END;
$$;
