-- The rule of CHECK customer_approval_requests_id_carries_its_customer (0018): an id made by
-- loyalty._request_id names the row's customer. plpgsql on purpose: a CHECK that calls the SQL
-- function _request_customer directly has it inlined, which parses its body again at every
-- statement that writes a request (measured in 0022: 0.5 ms an approval); here its expression is
-- planned once a session.
CREATE OR REPLACE FUNCTION loyalty._id_carries_customer(p_request_id uuid, p_customer_id bigint)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN coalesce(loyalty._request_customer(p_request_id) = p_customer_id, true);
END;
$$;
