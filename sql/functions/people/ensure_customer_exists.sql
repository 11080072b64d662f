-- The contract's entry point: the customer's id, creating the row from users when missing.
CREATE OR REPLACE FUNCTION loyalty.ensure_customer_exists(p_user_id bigint)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT (loyalty.ensure_customer(p_user_id)).id
$function$;
