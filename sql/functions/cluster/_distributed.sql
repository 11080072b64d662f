-- True once `loyaltydb distribute` has run (it replaces this function): what differs on a
-- cluster (no row lock on reference data, card-number checks per customer) asks this.
CREATE OR REPLACE FUNCTION loyalty._distributed()
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT false
$$;
