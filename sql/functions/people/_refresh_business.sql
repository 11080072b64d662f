CREATE OR REPLACE FUNCTION loyalty._refresh_business()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE loyalty.businesses AS b SET name = NEW.name, email = NEW.email, updated_at = now() WHERE b.id = NEW.id;
    RETURN NULL;
END;
$$;
