-- As in 0012, as one SQL expression the planner inlines (from the hex of the uuid's bytes).
CREATE OR REPLACE FUNCTION loyalty._request_customer(p_request_id uuid)
RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN substr(encode(uuid_send(p_request_id), 'hex'), 13, 1) = '8'
                 AND substr(encode(uuid_send(p_request_id), 'hex'), 17, 1) IN ('8', '9', 'a', 'b')
                 AND substr(encode(uuid_send(p_request_id), 'hex'), 19, 1) = 'c'
                THEN ('x' || substr(encode(uuid_send(p_request_id), 'hex'), 1, 12)
                          || substr(encode(uuid_send(p_request_id), 'hex'), 14, 3)
                          || substr(encode(uuid_send(p_request_id), 'hex'), 18, 1))::bit(64)::bigint
           END
$$;
