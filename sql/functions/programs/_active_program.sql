-- The program a request or an invitation is made for, refused in one place: LY004 when it does
-- not exist, LY006 when p_business_id (given) is not its business, LY005 when it is not ACTIVE.
CREATE OR REPLACE FUNCTION loyalty._active_program(p_program_id bigint, p_business_id bigint DEFAULT NULL)
RETURNS loyalty._program_info
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_program loyalty._program_info := loyalty._program_info(p_program_id);
BEGIN
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    IF v_program.business_id <> p_business_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not invite to program %s: it belongs to another business',
                             p_business_id, p_program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;
    RETURN v_program;
END;
$$;
