-- The code a business types at the counter for redemption number p_number: 8 characters of an
-- alphabet without look-alikes (no 0, O, 1, I or L: 31 symbols). Unique by construction: the
-- number's node group (its top 16 bits: 0 on one server, the worker's group on a cluster, whose
-- sequences start at group << 48) and the node's own count (below 2^32) make 39 bits, scrambled
-- by a bijection (odd multipliers and xor-shifts modulo 2^39) so that consecutive codes do not
-- look consecutive, then written in base 31 (31^8 > 2^39). No two numbers share a code.
CREATE OR REPLACE FUNCTION loyalty._redemption_code(p_number bigint)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    c_alphabet constant text := 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
    c_mask     constant bigint := 549755813887;  -- 2^39 - 1
    v_group    bigint := p_number >> 48;
    v_count    bigint := p_number & 281474976710655;  -- 2^48 - 1
    v_x        bigint;
    v_code     text := '';
BEGIN
    IF p_number IS NULL OR p_number < 1 OR v_group > 127 OR v_count >= 4294967296 THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('No redemption code for number %s: codes need node groups up to 127 and at most '
                             '4294967295 redemptions a node', p_number);
    END IF;
    v_x := (v_group << 32) | v_count;
    -- Each step is a bijection of 39-bit numbers; products stay below 2^63.
    v_x := (v_x * 11400713) & c_mask;
    v_x := v_x # (v_x >> 20);
    v_x := (v_x * 7046029) & c_mask;
    v_x := v_x # (v_x >> 18);
    FOR i IN 1..8 LOOP
        v_code := substr(c_alphabet, (v_x % 31)::integer + 1, 1) || v_code;
        v_x := v_x / 31;
    END LOOP;
    RETURN v_code;
END;
$$;
