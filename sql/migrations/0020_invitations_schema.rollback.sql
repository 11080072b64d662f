-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP TYPE loyalty.notification;
DROP TYPE loyalty.pending_invitation;
ALTER TYPE loyalty._program_info DROP ATTRIBUTE request_ttl;
ALTER TYPE loyalty._program_info DROP ATTRIBUTE welcome_points;

DROP TABLE loyalty.point_transactions;

DROP INDEX loyalty.customer_notifications_business_id_idx;
DROP INDEX loyalty.customer_notifications_business_feed_idx;
DROP INDEX loyalty.customer_notifications_customer_feed_idx;
CREATE INDEX customer_notifications_customer_id_idx
    ON loyalty.customer_notifications (customer_id, created_at DESC);
ALTER TABLE loyalty.customer_notifications DROP COLUMN audience;

DROP INDEX loyalty.customer_approval_requests_expiry_idx;
DROP INDEX loyalty.customer_approval_requests_invitations_idx;
DROP INDEX loyalty.customer_approval_requests_one_invitation_key;
-- Invitations and expired rows have no place in 0019's schema.
DELETE FROM loyalty.customer_approval_requests WHERE kind = 'INVITATION' OR status = 'EXPIRED';
ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT customer_approval_requests_status_check;
ALTER TABLE loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_status_check CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED'));
ALTER TABLE loyalty.customer_approval_requests DROP COLUMN expires_at;
ALTER TABLE loyalty.customer_approval_requests DROP COLUMN kind;

ALTER TABLE loyalty.loyalty_programs DROP COLUMN welcome_points;
ALTER TABLE loyalty.loyalty_programs DROP COLUMN request_ttl;
