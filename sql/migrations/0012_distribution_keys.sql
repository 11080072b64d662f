-- Distribution-ready keys: the same schema serves one server and a Citus cluster sharded by the
-- customer (= user) id (docs/scaling.md). Every per-customer table keys on customer_id first;
-- what approvals read about businesses is reference data (loyalty.businesses); identity columns
-- become sequence defaults (Citus cannot distribute identity columns); request ids and card
-- numbers carry the customer, so they are unique across workers by construction.
-- depends: 0011_internal_names
--
-- Ids stay unique by construction in both modes (sequences and UUIDs, as on a cluster, where no
-- index can span the workers): no index is added to the approval's hot path. On one server
-- UNIQUE (card_number) stays (`loyaltydb distribute` drops it), and triggers keep
-- loyalty.businesses in step with loyalty.users.

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- True once `loyaltydb distribute` has run (it replaces this function): what differs on a
-- cluster (no row lock on reference data, card-number checks per customer) asks this.
CREATE FUNCTION loyalty._distributed()
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT false
$$;

-- Identity columns become plain sequence defaults, continuing where the identity stopped.
ALTER TABLE loyalty.program_enrollments ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE loyalty.program_enrollments_id_seq OWNED BY loyalty.program_enrollments.id;
DO $$ BEGIN PERFORM setval('loyalty.program_enrollments_id_seq', coalesce(max(id), 0) + 1, false) FROM loyalty.program_enrollments; END $$;
ALTER TABLE loyalty.program_enrollments ALTER COLUMN id SET DEFAULT nextval('loyalty.program_enrollments_id_seq');

ALTER TABLE loyalty.loyalty_cards ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE loyalty.loyalty_cards_id_seq OWNED BY loyalty.loyalty_cards.id;
DO $$ BEGIN PERFORM setval('loyalty.loyalty_cards_id_seq', coalesce(max(id), 0) + 1, false) FROM loyalty.loyalty_cards; END $$;
ALTER TABLE loyalty.loyalty_cards ALTER COLUMN id SET DEFAULT nextval('loyalty.loyalty_cards_id_seq');

ALTER TABLE loyalty.customer_business_relationships ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE loyalty.customer_business_relationships_id_seq OWNED BY loyalty.customer_business_relationships.id;
DO $$ BEGIN PERFORM setval('loyalty.customer_business_relationships_id_seq', coalesce(max(id), 0) + 1, false)
  FROM loyalty.customer_business_relationships; END $$;
ALTER TABLE loyalty.customer_business_relationships
    ALTER COLUMN id SET DEFAULT nextval('loyalty.customer_business_relationships_id_seq');

ALTER TABLE loyalty.loyalty_programs ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE loyalty.loyalty_programs_id_seq OWNED BY loyalty.loyalty_programs.id;
DO $$ BEGIN PERFORM setval('loyalty.loyalty_programs_id_seq', coalesce(max(id), 0) + 1, false) FROM loyalty.loyalty_programs; END $$;
ALTER TABLE loyalty.loyalty_programs ALTER COLUMN id SET DEFAULT nextval('loyalty.loyalty_programs_id_seq');

-- What the functions need about a business, as reference data (a copy of its users row).
CREATE TABLE loyalty.businesses (
    id         bigint PRIMARY KEY CONSTRAINT businesses_id_fkey REFERENCES loyalty.users (id),
    name       text,
    email      text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE loyalty.businesses IS
    'Businesses (users that run programs) as reference data: kept in step with users by triggers on one server, by loyalty.register_business on a cluster.';

INSERT INTO loyalty.businesses (id, name, email)
SELECT u.id, u.name, u.email
  FROM loyalty.users AS u
 WHERE u.id IN (SELECT p.business_id FROM loyalty.loyalty_programs AS p
                UNION SELECT r.business_id FROM loyalty.customer_business_relationships AS r);

-- Copy (or refresh) a business's users row into loyalty.businesses. On a cluster, where no
-- trigger can do it, call this after inserting or renaming a business's user.
CREATE FUNCTION loyalty.register_business(p_business_id bigint)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO loyalty.businesses AS b (id, name, email)
    SELECT u.id, u.name, u.email FROM loyalty.users AS u WHERE u.id = p_business_id
    ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003', MESSAGE = format('User not found for business_id: %s. Cannot register the business.', p_business_id);
    END IF;
END;
$$;

-- On one server, a program naming a business registers it, and renaming the user refreshes it.
CREATE FUNCTION loyalty._register_program_business()
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

CREATE TRIGGER loyalty_programs_register_business
    BEFORE INSERT OR UPDATE OF business_id ON loyalty.loyalty_programs
    FOR EACH ROW EXECUTE FUNCTION loyalty._register_program_business();

CREATE FUNCTION loyalty._refresh_business()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE loyalty.businesses AS b SET name = NEW.name, email = NEW.email, updated_at = now() WHERE b.id = NEW.id;
    RETURN NULL;
END;
$$;

CREATE TRIGGER users_refresh_business
    AFTER UPDATE OF name, email ON loyalty.users
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email)
    EXECUTE FUNCTION loyalty._refresh_business();

-- Programs and relationships name their business through the reference table.
ALTER TABLE loyalty.loyalty_programs
    DROP CONSTRAINT loyalty_programs_business_id_fkey,
    ADD CONSTRAINT loyalty_programs_business_id_fkey FOREIGN KEY (business_id) REFERENCES loyalty.businesses (id);
ALTER TABLE loyalty.customer_business_relationships
    DROP CONSTRAINT customer_business_relationships_business_id_fkey,
    ADD CONSTRAINT customer_business_relationships_business_id_fkey
        FOREIGN KEY (business_id) REFERENCES loyalty.businesses (id);

-- Customers: the key into users on the distribution column. One customer per user is the
-- primary key with CHECK (id = user_id), so UNIQUE (user_id) only repeated it.
ALTER TABLE loyalty.customers
    DROP CONSTRAINT customers_user_id_fkey,
    DROP CONSTRAINT customers_user_id_key,
    ADD CONSTRAINT customers_user_id_fkey FOREIGN KEY (id) REFERENCES loyalty.users (id);

-- Per-customer tables: (customer_id, id) primary keys and foreign keys through customer_id.
ALTER TABLE loyalty.customer_approval_requests DROP CONSTRAINT customer_approval_requests_notification_id_fkey;
ALTER TABLE loyalty.customer_notifications DROP CONSTRAINT customer_notifications_card_id_fkey;

ALTER TABLE loyalty.customer_notifications
    DROP CONSTRAINT customer_notifications_pkey,
    ADD CONSTRAINT customer_notifications_pkey PRIMARY KEY (customer_id, id);
DROP INDEX loyalty.customer_notifications_card_created_key;
CREATE UNIQUE INDEX customer_notifications_card_created_key
    ON loyalty.customer_notifications (customer_id, card_id) WHERE type = 'CARD_CREATED';

ALTER TABLE loyalty.customer_approval_requests
    DROP CONSTRAINT customer_approval_requests_pkey,
    ADD CONSTRAINT customer_approval_requests_pkey PRIMARY KEY (customer_id, id),
    ADD CONSTRAINT customer_approval_requests_notification_id_fkey
        FOREIGN KEY (customer_id, notification_id) REFERENCES loyalty.customer_notifications (customer_id, id)
        ON DELETE SET NULL (notification_id);
-- The primary key leads with customer_id now; a request is also found by its id alone (an id
-- not made by request_enrollment carries no customer, and batches lock their requests by id).
DROP INDEX loyalty.customer_approval_requests_customer_id_idx;
CREATE INDEX customer_approval_requests_id_idx ON loyalty.customer_approval_requests (id);

ALTER TABLE loyalty.program_enrollments
    DROP CONSTRAINT program_enrollments_pkey,
    ADD CONSTRAINT program_enrollments_pkey PRIMARY KEY (customer_id, id);

ALTER TABLE loyalty.loyalty_cards
    DROP CONSTRAINT loyalty_cards_pkey,
    ADD CONSTRAINT loyalty_cards_pkey PRIMARY KEY (customer_id, id);

ALTER TABLE loyalty.customer_business_relationships
    DROP CONSTRAINT customer_business_relationships_pkey,
    ADD CONSTRAINT customer_business_relationships_pkey PRIMARY KEY (customer_id, id);

ALTER TABLE loyalty.customer_notifications
    ADD CONSTRAINT customer_notifications_card_id_fkey
        FOREIGN KEY (customer_id, card_id) REFERENCES loyalty.loyalty_cards (customer_id, id);

-- Request ids that carry their customer: a UUIDv8 whose hex digits hold the customer id
-- (1-12, 14-16 and 18), the version (13: '8'), the variant (17: 8-b), a marker (19: 'c') and 54
-- random bits. A call can then be routed to the customer's worker from the id alone.
CREATE FUNCTION loyalty._request_id(p_customer_id bigint)
RETURNS uuid
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_customer text := lpad(to_hex(p_customer_id), 16, '0');
    v_random   text := replace(gen_random_uuid()::text, '-', '');
BEGIN
    RETURN (substr(v_customer, 1, 12) || '8' || substr(v_customer, 13, 3)
            || substr('89ab', 1 + ascii(substr(v_random, 1, 1)) % 4, 1)
            || substr(v_customer, 16, 1) || 'c' || substr(v_random, 2, 13))::uuid;
END;
$$;

-- The customer a request id carries (see _request_id), or NULL for any other uuid.
CREATE FUNCTION loyalty._request_customer(p_request_id uuid)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    v_hex text := replace(p_request_id::text, '-', '');
BEGIN
    IF substr(v_hex, 13, 1) = '8' AND substr(v_hex, 17, 1) IN ('8', '9', 'a', 'b') AND substr(v_hex, 19, 1) = 'c' THEN
        RETURN ('x' || substr(v_hex, 1, 12) || substr(v_hex, 14, 3) || substr(v_hex, 18, 1))::bit(64)::bigint;
    END IF;
    RETURN NULL;
END;
$$;

-- A new card number, unique across workers by construction: '9', the customer id in 10 digits,
-- the customer's card ordinal in 4 digits, then the Luhn digit. The ordinal is one more than the
-- customer's cards, counted under a lock on the customer row (two of its programs approved at
-- once take turns). The old sequence's numbers start with 1, far below 9*10^14. Customer ids
-- outside 0..9,999,999,999 (or a 10,000th card) take the sequence on one server; on a cluster,
-- where the sequence is the coordinator's alone, they raise LY007.
CREATE FUNCTION loyalty._card_number(p_customer_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_ordinal integer;
    v_payload text;
    v_number  text;
BEGIN
    IF p_customer_id BETWEEN 0 AND 9999999999 THEN
        PERFORM FROM loyalty.customers AS c WHERE c.id = p_customer_id FOR NO KEY UPDATE;
        SELECT (count(*) + 1)::integer INTO v_ordinal FROM loyalty.loyalty_cards AS k WHERE k.customer_id = p_customer_id;
    END IF;
    LOOP
        IF v_ordinal IS NULL OR v_ordinal > 9999 THEN
            IF loyalty._distributed() THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'LY007',
                    MESSAGE = format('No card number for customer %s: on a cluster card numbers need customer ids '
                                     'from 0 to 9999999999 and at most 9999 cards a customer', p_customer_id);
            END IF;
            RETURN loyalty._next_card_number();
        END IF;
        v_payload := '9' || lpad(p_customer_id::text, 10, '0') || lpad(v_ordinal::text, 4, '0');
        v_number := v_payload || loyalty._luhn_check_digit(v_payload);
        -- A number a card has already (imported, or a deleted card's successor) is skipped: on
        -- one server every card is checked; on a cluster, where no index spans the workers, the
        -- customer's own cards.
        EXIT WHEN NOT EXISTS (SELECT FROM loyalty.loyalty_cards AS k
                               WHERE k.card_number = v_number
                                 AND (NOT loyalty._distributed() OR k.customer_id = p_customer_id));
        v_ordinal := v_ordinal + 1;
    END LOOP;
    RETURN v_number;
END;
$$;

-- A program with its business's display name (reference data only: local on every worker);
-- all fields NULL when the program does not exist.
CREATE OR REPLACE FUNCTION loyalty._program_info(p_program_id bigint)
RETURNS loyalty._program_info
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_program loyalty._program_info;
BEGIN
    SELECT p.id, p.name, p.status, p.business_id, loyalty._display_name(b.id, b.name, b.email, 'Business')
      INTO v_program
      FROM loyalty.loyalty_programs AS p
      JOIN loyalty.businesses AS b ON b.id = p.business_id
     WHERE p.id = p_program_id;
    RETURN v_program;
END;
$$;

-- Cards with their program's and business's names (reference data: no cross-shard join).
CREATE OR REPLACE VIEW loyalty.card_details AS
SELECT c.id, c.customer_id, c.program_id, p.name AS program_name, c.business_id,
       loyalty._display_name(b.id, b.name, b.email, 'Business') AS business_name,
       c.card_number, c.status, c.points_balance, c.issued_at
  FROM loyalty.loyalty_cards AS c
  JOIN loyalty.loyalty_programs AS p ON p.id = c.program_id
  JOIN loyalty.businesses AS b ON b.id = c.business_id;

-- A customer's cards with their program's and business's names. plpgsql, not SQL: Citus cannot
-- plan a SQL function's parameters.
CREATE OR REPLACE FUNCTION loyalty.customer_cards(p_customer_id bigint)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id ORDER BY d.id;
END;
$$;

-- The stored outcome of a decided request (its row holds it; the card number is the card's).
CREATE FUNCTION loyalty._stored_result(p_request loyalty.customer_approval_requests)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN ROW(p_request.id, p_request.status, p_request.customer_id, p_request.program_id, p_request.enrollment_id,
               p_request.card_id,
               (SELECT k.card_number FROM loyalty.loyalty_cards AS k
                 WHERE k.customer_id = p_request.customer_id AND k.id = p_request.card_id),
               coalesce(p_request.customer_created, false), p_request.result_notification_id)::loyalty.enrollment_result;
END;
$$;

-- Approve a PENDING request whose row the caller has locked: everything the customer needs.
-- Every statement names the customer: on a cluster each stays on the customer's worker.
CREATE OR REPLACE FUNCTION loyalty._approve_locked_request(p_request loyalty.customer_approval_requests)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_program         loyalty._program_info;
    v_customer        loyalty.customer_result;
    v_enrollment_id   bigint;
    v_card_id         bigint;
    v_card_number     text;
    v_notification_id uuid;
BEGIN
    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    -- Not on a cluster: there a row lock on reference data locks the whole shard.
    IF NOT loyalty._distributed() THEN
        PERFORM FROM loyalty.loyalty_programs AS p WHERE p.id = p_request.program_id FOR SHARE;
    END IF;
    v_program := loyalty._program_info(p_request.program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_request.program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;

    -- The customer first: every row below has a foreign key to it.
    v_customer := loyalty.ensure_customer(p_request.customer_id);

    -- The relationship before the (customer, program) rows: it is shared by all of a customer's
    -- programs at one business, so taking it first keeps bulk and single approvals deadlock-free.
    -- The WHERE keeps an already active relationship unwritten (the row is locked all the same).
    INSERT INTO loyalty.customer_business_relationships AS r (customer_id, business_id)
    VALUES (v_customer.id, v_program.business_id)
    ON CONFLICT (customer_id, business_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
     WHERE r.status <> 'ACTIVE';

    -- Create or re-activate; the unique key makes concurrent approvals converge on one row.
    INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id)
    VALUES (v_customer.id, v_program.id)
    ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
    RETURNING e.id INTO v_enrollment_id;

    -- The card that exists (duplicate request, returning customer), re-activated; else a new
    -- one. The enrollment row locked above serialises this check for the pair, so a card
    -- number is made only for a card that is really new.
    UPDATE loyalty.loyalty_cards AS c
       SET status = 'ACTIVE', updated_at = now()
     WHERE c.customer_id = v_customer.id AND c.program_id = v_program.id
    RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
    IF NOT FOUND THEN
        INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id, card_number)
        VALUES (v_customer.id, v_program.id, v_program.business_id, loyalty._card_number(v_customer.id))
        RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
    END IF;

    -- One CARD_CREATED notification per card (partial unique index); a reused card keeps its own.
    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, card_id)
    VALUES (v_customer.id, v_program.business_id, 'CARD_CREATED',
            format('Your %s card is ready', v_program.name),
            format('Welcome to %s at %s, %s! Your loyalty card is ready to use.',
                   v_program.name, v_program.business_name, v_customer.name),
            jsonb_build_object('customer_name', v_customer.name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'card_number', v_card_number,
                               'request_id', p_request.id),
            v_card_id)
    ON CONFLICT (customer_id, card_id) WHERE type = 'CARD_CREATED' DO NOTHING
    RETURNING n.id INTO v_notification_id;
    IF NOT FOUND THEN
        SELECT n.id INTO STRICT v_notification_id
          FROM loyalty.customer_notifications AS n
         WHERE n.customer_id = v_customer.id AND n.card_id = v_card_id AND n.type = 'CARD_CREATED';
    END IF;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.customer_id = p_request.customer_id AND n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'APPROVED', response_at = now(),
           enrollment_id = v_enrollment_id, card_id = v_card_id,
           customer_created = v_customer.created, result_notification_id = v_notification_id
     WHERE r.customer_id = p_request.customer_id AND r.id = p_request.id;

    RETURN ROW(p_request.id, 'APPROVED', v_customer.id, v_program.id, v_enrollment_id,
               v_card_id, v_card_number, v_customer.created, v_notification_id)::loyalty.enrollment_result;
END;
$function$;

-- Reject a PENDING request whose row (and its siblings') the caller has locked; statements by customer.
CREATE OR REPLACE FUNCTION loyalty._reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_program         loyalty._program_info;
    v_customer_name   text;
    v_is_member       boolean;
    v_notification_id uuid;
BEGIN
    v_program := loyalty._program_info(p_request.program_id);

    -- The person may not be a customer, nor even a user any more: name them as best we can.
    SELECT coalesce(
               (SELECT c.name FROM loyalty.customers AS c WHERE c.id = p_request.customer_id),
               (SELECT loyalty._display_name(u.id, u.name, u.email)
                  FROM loyalty.users AS u WHERE u.id = p_request.customer_id),
               loyalty._display_name(p_request.customer_id, NULL, NULL))
      INTO v_customer_name;

    -- Committed approvals of sibling requests are visible: the caller waited for their locks.
    v_is_member := EXISTS (SELECT FROM loyalty.program_enrollments AS e
                            WHERE e.customer_id = p_request.customer_id
                              AND e.program_id = p_request.program_id
                              AND e.status = 'ACTIVE');

    INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data)
    VALUES (p_request.customer_id, p_request.business_id,
            CASE WHEN v_is_member THEN 'ENROLLMENT_REQUEST_CLOSED' ELSE 'ENROLLMENT_REJECTED' END,
            format('Your request to join %s', v_program.name),
            CASE WHEN v_is_member
                 THEN format('%s, you are already a member of %s at %s, so your new request to join was closed.',
                             v_customer_name, v_program.name, v_program.business_name)
                 ELSE format('Sorry %s, %s did not approve your request to join %s.%s',
                             v_customer_name, v_program.business_name, v_program.name,
                             coalesce(' Reason: ' || p_reason, ''))
            END,
            jsonb_build_object('customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'reason', p_reason,
                               'request_id', p_request.id))
    RETURNING n.id INTO v_notification_id;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.customer_id = p_request.customer_id AND n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'REJECTED', response_at = now(), rejection_reason = p_reason,
           customer_created = false, result_notification_id = v_notification_id
     WHERE r.customer_id = p_request.customer_id AND r.id = p_request.id;

    RETURN ROW(p_request.id, 'REJECTED', p_request.customer_id, p_request.program_id, NULL,
               NULL, NULL, false, v_notification_id)::loyalty.enrollment_result;
END;
$function$;

-- Decide a locked request: authorisation, replay from its own row, refusal, or the decision.
CREATE OR REPLACE FUNCTION loyalty._decide_locked_request(p_request loyalty.customer_approval_requests, p_approved boolean, p_reason text, p_business_id bigint)
 RETURNS loyalty.enrollment_result
 LANGUAGE plpgsql
AS $function$
BEGIN
    -- Checked before anything else, replays included: another business learns nothing.
    PERFORM loyalty._check_business(p_request, p_business_id);

    IF p_request.status = (CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END) THEN
        -- Idempotent: the same decision again changes nothing and returns the same result.
        RETURN loyalty._stored_result(p_request);
    ELSIF p_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY002',
            MESSAGE = format('Enrollment request %s is already %s', p_request.id, p_request.status);
    ELSIF p_approved THEN
        RETURN loyalty._approve_locked_request(p_request);
    ELSE
        RETURN loyalty._reject_locked_request(p_request, p_reason);
    END IF;
END;
$function$;

DROP FUNCTION loyalty._decision_result(uuid);

-- Decide a request of a known customer: lock it (and, to reject, its siblings), then decide.
-- Every statement names the customer, so on a cluster all of it runs on that customer's worker.
CREATE FUNCTION loyalty._decide_request(
    p_customer_id bigint,
    p_request_id  uuid,
    p_approved    boolean,
    p_reason      text,
    p_business_id bigint
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_request loyalty.customer_approval_requests;
BEGIN
    -- A rejection first waits for every decision on the same customer and program (their
    -- requests, locked in id order like a batch's), so it sees an approval that beat it.
    IF NOT p_approved THEN
        PERFORM FROM loyalty.customer_approval_requests AS s
         WHERE s.customer_id = p_customer_id
           AND s.program_id = (SELECT r.program_id FROM loyalty.customer_approval_requests AS r
                                WHERE r.customer_id = p_customer_id AND r.id = p_request_id)
         ORDER BY s.id
           FOR UPDATE;
    END IF;

    -- Every decision on one request is serialised here; the waiter then sees the decided row.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.customer_id = p_customer_id AND r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;

    RETURN loyalty._decide_locked_request(v_request, p_approved, p_reason, p_business_id);
END;
$$;

-- Decide a join request of a known customer in one transaction: approve (the default) or
-- reject it. The overload a cluster delegates to the customer's worker. With p_business_id,
-- only that business may decide.
CREATE FUNCTION loyalty.process_enrollment_approval(
    p_customer_id bigint,
    p_request_id  uuid,
    p_approved    boolean DEFAULT true,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_customer_id IS NULL OR p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id, request id and approved must not be NULL';
    END IF;
    RETURN loyalty._decide_request(p_customer_id, p_request_id, p_approved, p_reason, p_business_id);
END;
$$;

-- The contract's entry point, by request id alone: the customer comes from the id (see
-- _request_id), or for an id made otherwise, from the request row.
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approval(
    p_request_id  uuid,
    p_approved    boolean DEFAULT true,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_customer_id bigint;
BEGIN
    IF p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and approved must not be NULL';
    END IF;
    v_customer_id := coalesce(loyalty._request_customer(p_request_id),
                              (SELECT r.customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = p_request_id));
    IF v_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;
    RETURN loyalty._decide_request(v_customer_id, p_request_id, p_approved, p_reason, p_business_id);
END;
$$;

GRANT EXECUTE ON FUNCTION
    loyalty.process_enrollment_approval(bigint, uuid, boolean, text, bigint),
    loyalty.register_business(bigint)
    TO loyalty_app;

-- Record a user's request to join a program; the request's id carries the customer.
CREATE OR REPLACE FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text DEFAULT NULL::text)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_program         loyalty._program_info;
    v_customer_name   text;
    v_request_id      uuid := loyalty._request_id(p_customer_id);
    v_notification_id uuid;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id and program id must not be NULL';
    END IF;

    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;

    SELECT loyalty._display_name(u.id, u.name, u.email) INTO v_customer_name
      FROM loyalty.users AS u
     WHERE u.id = p_customer_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY003',
            MESSAGE = format('User not found for customer_id: %s. Cannot request enrollment.', p_customer_id);
    END IF;

    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, requires_action)
    VALUES (p_customer_id, v_program.business_id, 'ENROLLMENT_REQUEST',
            format('%s wants to join %s', v_customer_name, v_program.name),
            format('%s asked to join %s at %s.', v_customer_name, v_program.name, v_program.business_name),
            jsonb_build_object('request_id', v_request_id,
                               'customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name),
            true)
    RETURNING n.id INTO v_notification_id;

    INSERT INTO loyalty.customer_approval_requests
           (id, customer_id, program_id, business_id, notification_id, message)
    VALUES (v_request_id, p_customer_id, p_program_id, v_program.business_id, v_notification_id, p_message);

    RETURN v_request_id;
END;
$function$;

-- Bulk approval on a cluster: each request decided in the caller's order by the per-customer
-- function, in the caller's transaction (Citus commits it on every worker with two-phase commit).
-- The results are one-by-one approval's by construction.
CREATE FUNCTION loyalty._approve_one_by_one(p_request_ids uuid[], p_business_id bigint)
RETURNS SETOF loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_id          uuid;
    v_customer_id bigint;
BEGIN
    FOREACH v_id IN ARRAY p_request_ids
    LOOP
        v_customer_id := coalesce(loyalty._request_customer(v_id),
                                  (SELECT r.customer_id FROM loyalty.customer_approval_requests AS r WHERE r.id = v_id));
        IF v_customer_id IS NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_id);
        END IF;
        RETURN NEXT loyalty._decide_request(v_customer_id, v_id, true, NULL, p_business_id);
    END LOOP;
END;
$$;

-- Approve many requests in one transaction, with the results of approving them one by one in
-- the given order (see 0010; here: new keys, card numbers, business names from reference data).
CREATE OR REPLACE FUNCTION loyalty.process_enrollment_approvals(p_request_ids uuid[], p_business_id bigint DEFAULT NULL::bigint)
 RETURNS SETOF loyalty.enrollment_result
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET enable_seqscan TO 'off'
AS $function$
DECLARE
    -- The batch's PENDING requests, each once, in the caller's order of first appearance.
    v_ids          uuid[];
    v_customers    bigint[];
    v_programs     bigint[];
    v_businesses   bigint[];
    v_request_note uuid[];
    -- Their customers that exist (locked), that are missing, and that this batch created.
    v_existing     bigint[];
    v_missing      bigint[];
    v_created      bigint[];
    -- Users of the missing customers that exist (locked), and the ids no user has.
    v_found        bigint[];
    v_no_user      bigint[];
    -- Per (customer, program) of those requests: enrollment, card and its notification.
    v_pair_customers     bigint[];
    v_pair_programs      bigint[];
    v_pair_enrollments   bigint[];
    v_pair_cards         bigint[];
    v_pair_card_numbers  text[];
    v_pair_notifications uuid[];
    -- The pairs whose card existed already (re-activated, no new number).
    v_new_card_customers bigint[];
    v_new_card_programs  bigint[];
    v_failure      record;
    v_customer     record;
BEGIN
    IF array_ndims(p_request_ids) > 1 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'request ids must be a one-dimensional array';
    END IF;
    IF p_request_ids IS NULL OR array_position(p_request_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request ids must not be NULL';
    END IF;

    -- On a cluster one statement cannot lock rows on several workers (FOR UPDATE is refused
    -- there): decide one by one, in the caller's order, each on its customer's shard.
    IF loyalty._distributed() THEN
        RETURN QUERY SELECT * FROM loyalty._approve_one_by_one(p_request_ids, p_business_id);
        RETURN;
    END IF;

    -- Every request, once, in id order: batches never wait on each other's requests in a circle.
    PERFORM FROM loyalty.customer_approval_requests AS r WHERE r.id = ANY (p_request_ids) ORDER BY r.id FOR UPDATE;

    SELECT array_agg(f.id ORDER BY f.position), array_agg(f.customer_id ORDER BY f.position),
           array_agg(f.program_id ORDER BY f.position), array_agg(f.business_id ORDER BY f.position),
           array_agg(f.notification_id ORDER BY f.position)
      INTO v_ids, v_customers, v_programs, v_businesses, v_request_note
      FROM (SELECT DISTINCT ON (r.id) r.id, r.customer_id, r.program_id, r.business_id, r.notification_id, t.position
              FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
              JOIN loyalty.customer_approval_requests AS r ON r.id = t.id
             WHERE r.status = 'PENDING'
             ORDER BY r.id, t.position) AS f;

    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    PERFORM FROM loyalty.loyalty_programs AS p WHERE p.id = ANY (v_programs) ORDER BY p.id FOR SHARE;

    -- KEY SHARE keeps existing customers until we commit (one deleted meanwhile is skipped here
    -- and created again below), and keeps the users of the missing ones.
    SELECT coalesce(array_agg(c.id), '{}') INTO v_existing
      FROM (SELECT c.id FROM loyalty.customers AS c WHERE c.id = ANY (v_customers) ORDER BY c.id FOR KEY SHARE) AS c;
    -- A set difference in memory (hashed): no probe of the customers table per request.
    v_missing := ARRAY(SELECT unnest(v_customers) EXCEPT SELECT unnest(v_existing));
    SELECT coalesce(array_agg(u.id), '{}') INTO v_found
      FROM (SELECT u.id FROM loyalty.users AS u WHERE u.id = ANY (v_missing) ORDER BY u.id FOR KEY SHARE) AS u;
    v_no_user := ARRAY(SELECT unnest(v_missing) EXCEPT SELECT unnest(v_found));

    -- The first request, in the caller's order, that one-by-one approval would fail on.
    SELECT t.id, r.id IS NULL AS missing, r.status, r.business_id, p.id AS program_id, p.name AS program_name,
           p.status AS program_status, r.program_id AS requested_program, r.customer_id
      INTO v_failure
      FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
      LEFT JOIN loyalty.customer_approval_requests AS r ON r.id = t.id
      LEFT JOIN loyalty.loyalty_programs AS p ON p.id = r.program_id
     WHERE r.id IS NULL
        OR r.business_id <> p_business_id
        OR r.status = 'REJECTED'
        OR (r.status = 'PENDING'
            AND (p.status IS DISTINCT FROM 'ACTIVE'
                 OR r.customer_id = ANY (v_no_user)))
     ORDER BY t.position
     LIMIT 1;
    IF FOUND THEN
        IF v_failure.missing THEN
            RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', v_failure.id);
        ELSIF v_failure.business_id <> p_business_id THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY006',
                MESSAGE = format('Business %s may not decide request %s: its program belongs to another business',
                                 p_business_id, v_failure.id);
        ELSIF v_failure.status = 'REJECTED' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY002', MESSAGE = format('Enrollment request %s is already REJECTED', v_failure.id);
        ELSIF v_failure.program_id IS NULL THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', v_failure.requested_program);
        ELSIF v_failure.program_status <> 'ACTIVE' THEN
            RAISE EXCEPTION USING
                ERRCODE = 'LY005',
                MESSAGE = format('Loyalty program "%s" is not active (status %s)',
                                 v_failure.program_name, v_failure.program_status);
        ELSE
            RAISE EXCEPTION USING
                ERRCODE = 'LY003',
                MESSAGE = format('User not found for customer_id: %s. Cannot create customer record.',
                                 v_failure.customer_id);
        END IF;
    END IF;

    IF v_ids IS NOT NULL THEN
        -- Customers from their users, in id order. A concurrent creator makes an insert wait
        -- for its commit and then do nothing: that customer was not created by this batch.
        WITH created AS (
            INSERT INTO loyalty.customers AS c (id, user_id, name, email)
            SELECT u.id, u.id, loyalty._display_name(u.id, u.name, u.email), u.email
              FROM loyalty.users AS u
             WHERE u.id = ANY (v_missing)
             ORDER BY u.id
            ON CONFLICT DO NOTHING
            RETURNING c.id, c.name
        )
        SELECT coalesce(array_agg(created.id), '{}') INTO v_created FROM created;
        FOR v_customer IN
            SELECT c.id, c.name FROM loyalty.customers AS c WHERE c.id = ANY (v_created) ORDER BY c.id
        LOOP
            RAISE NOTICE 'created customer % (%) from user %', v_customer.id, v_customer.name, v_customer.id;
        END LOOP;
        -- Missing customers that a concurrent transaction created (committed now, since our
        -- insert waited for it): kept until we commit, like the others.
        IF cardinality(v_created) < cardinality(v_missing) THEN
            PERFORM FROM loyalty.customers AS c WHERE c.id = ANY (v_customers) ORDER BY c.id FOR KEY SHARE;
        END IF;

        -- Relationships, then enrollments, then cards, each in key order (see the lock order).
        -- What each statement makes flows on in arrays, so later statements touch tables only
        -- by key, whatever the planner's statistics say about the rows this batch just added.
        INSERT INTO loyalty.customer_business_relationships AS r (customer_id, business_id)
        SELECT DISTINCT f.customer_id, f.business_id
          FROM unnest(v_customers, v_businesses) AS f (customer_id, business_id)
         ORDER BY f.customer_id, f.business_id
        ON CONFLICT (customer_id, business_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
         WHERE r.status <> 'ACTIVE';

        WITH enrolled AS (
            INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id)
            SELECT DISTINCT f.customer_id, f.program_id
              FROM unnest(v_customers, v_programs) AS f (customer_id, program_id)
             ORDER BY f.customer_id, f.program_id
            ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE', updated_at = EXCLUDED.updated_at
            RETURNING e.customer_id, e.program_id, e.id
        )
        SELECT array_agg(enrolled.customer_id), array_agg(enrolled.program_id), array_agg(enrolled.id)
          INTO v_pair_customers, v_pair_programs, v_pair_enrollments
          FROM enrolled;

        -- Cards that exist (duplicates, returning customers) re-activated; then new cards, with
        -- numbers made only for them (the enrollment rows locked above serialise each pair).
        WITH reused AS (
            UPDATE loyalty.loyalty_cards AS c
               SET status = 'ACTIVE', updated_at = now()
              FROM unnest(v_pair_customers, v_pair_programs) AS f (customer_id, program_id)
             WHERE c.customer_id = f.customer_id AND c.program_id = f.program_id
            RETURNING c.customer_id, c.program_id
        )
        SELECT array_agg(reused.customer_id), array_agg(reused.program_id)
          INTO v_new_card_customers, v_new_card_programs
          FROM reused;
        INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id, card_number)
        SELECT f.customer_id, f.program_id, p.business_id, loyalty._card_number(f.customer_id)
          FROM (SELECT * FROM unnest(v_pair_customers, v_pair_programs)
                EXCEPT ALL
                SELECT * FROM unnest(v_new_card_customers, v_new_card_programs)) AS f (customer_id, program_id)
          JOIN loyalty.loyalty_programs AS p ON p.id = f.program_id
         ORDER BY f.customer_id, f.program_id;
        -- LIMIT keeps each lookup a key probe per pair (the planner cannot turn it around).
        SELECT array_agg(k.id ORDER BY f.n), array_agg(k.card_number ORDER BY f.n)
          INTO v_pair_cards, v_pair_card_numbers
          FROM unnest(v_pair_customers, v_pair_programs) WITH ORDINALITY AS f (customer_id, program_id, n)
         CROSS JOIN LATERAL (SELECT k.id, k.card_number FROM loyalty.loyalty_cards AS k
                              WHERE k.customer_id = f.customer_id AND k.program_id = f.program_id LIMIT 1) AS k;

        -- One CARD_CREATED notification per card, naming everyone, for the card's first request.
        INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data, card_id)
        SELECT f.customer_id, p.business_id, 'CARD_CREATED',
               format('Your %s card is ready', p.name),
               format('Welcome to %s at %s, %s! Your loyalty card is ready to use.', p.name, p.business_name, cu.name),
               jsonb_build_object('customer_name', cu.name,
                                  'program_name', p.name,
                                  'business_name', p.business_name,
                                  'card_number', k.card_number,
                                  'request_id', f.id),
               k.id
          FROM (SELECT DISTINCT ON (f.customer_id, f.program_id) f.id, f.customer_id, f.program_id
                  FROM unnest(v_ids, v_customers, v_programs) WITH ORDINALITY AS f (id, customer_id, program_id, position)
                 ORDER BY f.customer_id, f.program_id, f.position) AS f
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_cards, v_pair_card_numbers)
               AS k (customer_id, program_id, id, card_number)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
          JOIN loyalty.customers AS cu ON cu.id = f.customer_id
          -- Each program's name and business's name once, not once per card.
          JOIN (SELECT p.id, p.name, p.business_id, loyalty._display_name(b.id, b.name, b.email, 'Business') AS business_name
                  FROM loyalty.loyalty_programs AS p
                  JOIN loyalty.businesses AS b ON b.id = p.business_id) AS p ON p.id = f.program_id
         ORDER BY k.id
        ON CONFLICT (customer_id, card_id) WHERE type = 'CARD_CREATED' DO NOTHING;
        SELECT array_agg(n.id ORDER BY f.n)
          INTO v_pair_notifications
          FROM unnest(v_pair_customers, v_pair_cards) WITH ORDINALITY AS f (customer_id, card_id, n)
         CROSS JOIN LATERAL (SELECT n.id FROM loyalty.customer_notifications AS n
                              WHERE n.customer_id = f.customer_id AND n.card_id = f.card_id
                                AND n.type = 'CARD_CREATED' LIMIT 1) AS n;

        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
          FROM unnest(v_customers, v_request_note) AS f (customer_id, id)
         WHERE n.customer_id = f.customer_id AND n.id = f.id;

        -- The outcome of each request, kept for replays. A customer created by this batch was
        -- created, one by one, by its first request in the caller's order.
        UPDATE loyalty.customer_approval_requests AS r
           SET status = 'APPROVED', response_at = now(),
               enrollment_id = k.enrollment_id, card_id = k.card_id, result_notification_id = k.notification_id,
               customer_created = f.created AND f.position = f.first_position
          FROM (SELECT f.*, min(f.position) OVER (PARTITION BY f.customer_id) AS first_position,
                       created.id IS NOT NULL AS created
                  FROM unnest(v_ids, v_customers, v_programs) WITH ORDINALITY
                       AS f (id, customer_id, program_id, position)
                  LEFT JOIN unnest(v_created) AS created (id) ON created.id = f.customer_id) AS f
          JOIN unnest(v_pair_customers, v_pair_programs, v_pair_enrollments, v_pair_cards, v_pair_notifications)
               AS k (customer_id, program_id, enrollment_id, card_id, notification_id)
            ON k.customer_id = f.customer_id AND k.program_id = f.program_id
         WHERE r.customer_id = f.customer_id AND r.id = f.id;
    END IF;

    -- Every request of the batch is APPROVED now: its stored outcome is its result.
    RETURN QUERY
        SELECT d.*
          FROM unnest(p_request_ids) WITH ORDINALITY AS t (id, position)
         CROSS JOIN LATERAL (SELECT r.id, r.status, r.customer_id, r.program_id, r.enrollment_id, r.card_id,
                                    k.card_number, coalesce(r.customer_created, false), r.result_notification_id
                               FROM loyalty.customer_approval_requests AS r
                               LEFT JOIN loyalty.loyalty_cards AS k ON k.customer_id = r.customer_id AND k.id = r.card_id
                              WHERE r.id = t.id
                              LIMIT 1) AS d
         ORDER BY t.position;
END;
$function$;
