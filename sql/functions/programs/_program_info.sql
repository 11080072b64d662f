-- A program with its business's display name, welcome points and request lifetime (reference data only: local on every worker);
-- all fields NULL when the program does not exist. enable_seqscan off since 0023, as in
-- _approve_locked_request: a key probe of loyalty.businesses, not a read of all of it.
-- Since 0030 the status is read as text: the column is a domain (loyalty.active_status).
-- Since 0044 the business's display name is its row's stored column (a generated one).
CREATE OR REPLACE FUNCTION loyalty._program_info(p_program_id bigint)
RETURNS loyalty._program_info
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_program loyalty._program_info;
BEGIN
    SELECT p.id, p.name, p.status::text, p.business_id, b.display_name,
           p.welcome_points, p.request_ttl
      INTO v_program
      FROM loyalty.loyalty_programs AS p
      JOIN loyalty.businesses AS b ON b.id = p.business_id
     WHERE p.id = p_program_id;
    RETURN v_program;
END;
$$;
