-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- 0018's constraint again, before the function it no longer needs goes.
ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT customer_approval_requests_id_carries_its_customer;
ALTER TABLE loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_id_carries_its_customer
    CHECK (loyalty._request_customer(id) IS NULL OR loyalty._request_customer(id) = customer_id) NOT VALID;

DROP FUNCTION loyalty._id_carries_customer(uuid,bigint);
