-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty.create_program(bigint,text,integer,interval,interval);

DROP FUNCTION loyalty.set_program_status(bigint,bigint,text);

DROP FUNCTION loyalty.upsert_user(bigint,text,text);

-- Undo this migration's table DDL here, if any (after the functions).
