-- 0020_invitations_schema: the tables of the replaced system's own flow (issue 17; the contract's
-- "Invitations, expiry, and both sides told" and "Welcome points"). Requests gain a kind
-- ('REQUEST' or 'INVITATION') and an expiry; programs a request lifetime and welcome points; a
-- points ledger; notifications an audience, so that each side reads its own feed. Rows that exist
-- keep working: they are requests, never expire, and the request notifications they made become
-- the business's to read. The functions that use all this come in 0021.
-- depends: 0019_cluster_lock_timeout

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- On a distributed database: one connection per worker for this transaction's DDL (Citus cannot
-- create the ledger's distributed table after parallel DDL in the same transaction).
DO $$
BEGIN
    IF loyalty._distributed() THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
END
$$;

-- A program's request lifetime (NULL: requests and invitations never expire) and welcome points.
ALTER TABLE loyalty.loyalty_programs ADD COLUMN request_ttl interval DEFAULT '7 days';
ALTER TABLE loyalty.loyalty_programs ADD COLUMN welcome_points integer NOT NULL DEFAULT 0;
ALTER TABLE loyalty.loyalty_programs
    ADD CONSTRAINT loyalty_programs_request_ttl_check CHECK (request_ttl > interval '0');
ALTER TABLE loyalty.loyalty_programs
    ADD CONSTRAINT loyalty_programs_welcome_points_check CHECK (welcome_points >= 0);

-- Who decides a row (the business a REQUEST, the customer an INVITATION), and until when.
ALTER TABLE loyalty.customer_approval_requests ADD COLUMN kind text NOT NULL DEFAULT 'REQUEST';
ALTER TABLE loyalty.customer_approval_requests ADD COLUMN expires_at timestamptz;
ALTER TABLE loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_kind_check CHECK (kind IN ('REQUEST', 'INVITATION'));
ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT customer_approval_requests_status_check;
ALTER TABLE loyalty.customer_approval_requests
    ADD CONSTRAINT customer_approval_requests_status_check
    CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'EXPIRED'));
-- One PENDING invitation per customer and program: concurrent invitations converge on it.
CREATE UNIQUE INDEX customer_approval_requests_one_invitation_key
    ON loyalty.customer_approval_requests (customer_id, program_id)
    WHERE kind = 'INVITATION' AND status = 'PENDING';
-- The customer's inbox of invitations, oldest first.
CREATE INDEX customer_approval_requests_invitations_idx
    ON loyalty.customer_approval_requests (customer_id, requested_at, id)
    WHERE kind = 'INVITATION' AND status = 'PENDING';
-- The expiry sweep: the overdue PENDING rows, soonest first.
CREATE INDEX customer_approval_requests_expiry_idx
    ON loyalty.customer_approval_requests (expires_at)
    WHERE status = 'PENDING' AND expires_at IS NOT NULL;

-- Whose feed a notification is in. Business notifications stay on their customer's shard, so a
-- decision never writes on a second worker; the business's feed reads every worker.
ALTER TABLE loyalty.customer_notifications ADD COLUMN audience text NOT NULL DEFAULT 'CUSTOMER';
ALTER TABLE loyalty.customer_notifications
    ADD CONSTRAINT customer_notifications_audience_check CHECK (audience IN ('CUSTOMER', 'BUSINESS'));
-- A request to join was always meant for the business (it was stored as the customer's).
UPDATE loyalty.customer_notifications SET audience = 'BUSINESS' WHERE type = 'ENROLLMENT_REQUEST';
DROP INDEX loyalty.customer_notifications_customer_id_idx;
CREATE INDEX customer_notifications_customer_feed_idx
    ON loyalty.customer_notifications (customer_id, created_at DESC, id DESC)
    WHERE audience = 'CUSTOMER';
CREATE INDEX customer_notifications_business_feed_idx
    ON loyalty.customer_notifications (business_id, created_at DESC, id DESC)
    WHERE audience = 'BUSINESS';
-- A business's notifications by id (its read marks, its feed's cursor).
CREATE INDEX customer_notifications_business_id_idx
    ON loyalty.customer_notifications (business_id, id)
    WHERE audience = 'BUSINESS';

-- The points ledger: what a card was credited and why. One WELCOME row a card, whatever path
-- created it (the unique key, not a check in a function, makes that so).
CREATE TABLE loyalty.point_transactions (
    customer_id bigint NOT NULL,
    id          bigserial NOT NULL,
    card_id     bigint NOT NULL,
    program_id  bigint NOT NULL,
    points      integer NOT NULL,
    reason      text NOT NULL,
    request_id  uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT point_transactions_pkey PRIMARY KEY (customer_id, id),
    CONSTRAINT point_transactions_points_check CHECK (points <> 0),
    CONSTRAINT point_transactions_reason_check CHECK (reason <> '')
);
CREATE UNIQUE INDEX point_transactions_welcome_key ON loyalty.point_transactions (customer_id, card_id)
    WHERE reason = 'WELCOME';
DO $$
BEGIN
    -- Already distributed: the ledger joins the customer's shards now (distribute does it later
    -- for a database distributed after this migration).
    IF loyalty._distributed() THEN
        PERFORM create_distributed_table('loyalty.point_transactions', 'customer_id', colocate_with => 'loyalty.users');
    END IF;
END
$$;
ALTER TABLE loyalty.point_transactions
    ADD CONSTRAINT point_transactions_card_fkey FOREIGN KEY (customer_id, card_id)
    REFERENCES loyalty.loyalty_cards (customer_id, id);

-- What the new functions return, and a program's welcome points and lifetime where they read it.
ALTER TYPE loyalty._program_info ADD ATTRIBUTE welcome_points integer;
ALTER TYPE loyalty._program_info ADD ATTRIBUTE request_ttl interval;
CREATE TYPE loyalty.pending_invitation AS (
    request_id    uuid,
    business_id   bigint,
    business_name text,
    program_id    bigint,
    program_name  text,
    requested_at  timestamptz,
    expires_at    timestamptz
);
CREATE TYPE loyalty.notification AS (
    id              uuid,
    type            text,
    title           text,
    message         text,
    data            jsonb,
    requires_action boolean,
    action_taken    boolean,
    is_read         boolean,
    created_at      timestamptz
);
