-- A business activates or deactivates one of its programs (contract "Who writes users and
-- programs"): 'ACTIVE' or 'INACTIVE' (22023 otherwise); another business's program is LY006,
-- an unknown one LY004. An INACTIVE program takes no request and earns and spends nothing
-- (ProgramNotActive, CardNotActive). Returns the program's status.
CREATE OR REPLACE FUNCTION loyalty.set_program_status(p_business_id bigint, p_program_id bigint, p_status text)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner bigint;
BEGIN
    IF p_status IS NULL OR p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('a program''s status is ACTIVE or INACTIVE, not %s', coalesce(quote_literal(p_status), 'NULL'));
    END IF;
    SELECT g.business_id INTO v_owner FROM loyalty.loyalty_programs AS g WHERE g.id = p_program_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF v_owner IS DISTINCT FROM p_business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change program %s: it is another business''s', p_business_id, p_program_id);
    END IF;
    UPDATE loyalty.loyalty_programs AS g SET status = p_status, updated_at = now()
     WHERE g.id = p_program_id AND g.status IS DISTINCT FROM p_status;
    RETURN p_status;
END;
$$;
