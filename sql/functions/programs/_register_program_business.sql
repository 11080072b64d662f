-- On one server, a program naming a business registers it, and renaming the user refreshes it.
CREATE OR REPLACE FUNCTION loyalty._register_program_business()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- A business that is no user stays missing: the program's foreign key then names it.
    INSERT INTO loyalty.businesses (id, name, email)
    SELECT u.id, u.name, u.email FROM loyalty.users AS u WHERE u.id = NEW.business_id
    ON CONFLICT (id) DO NOTHING;
    RETURN NEW;
END;
$$;
