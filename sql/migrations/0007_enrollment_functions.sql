-- Enrollment: requesting to join a program, and approving or rejecting the request.
-- depends: 0006_customer_functions
--
-- SQLSTATEs raised here (class LY, see README): LY001 request not found, LY002 request already
-- decided, LY003 user not found, LY004 program not found, LY005 program not active,
-- LY006 not authorized (another business's request), 22004 NULL argument.
--
-- Lock order, the same in every path, so that no two approvals can deadlock:
--   request (FOR UPDATE) -> program (FOR SHARE) -> user (FOR KEY SHARE) -> customer
--   -> customer-business relationship -> enrollment -> card -> notifications.

CREATE TYPE loyalty.enrollment_result AS (
    request_id       uuid,
    status           text,
    customer_id      bigint,
    program_id       bigint,
    enrollment_id    bigint,
    card_id          bigint,
    card_number      text,
    customer_created boolean,
    notification_id  uuid
);

CREATE TYPE loyalty.program_info AS (
    id            bigint,
    name          text,
    status        text,
    business_id   bigint,
    business_name text
);

-- A program with its business's display name; all fields NULL when the program does not exist.
-- plpgsql so that its plan is cached (a SQL function returning a row is planned on each call).
CREATE FUNCTION loyalty.program_info(p_program_id bigint)
RETURNS loyalty.program_info
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_program loyalty.program_info;
BEGIN
    SELECT p.id, p.name, p.status, p.business_id, loyalty.display_name(b.id, b.name, b.email, 'Business')
      INTO v_program
      FROM loyalty.loyalty_programs AS p
      JOIN loyalty.users AS b ON b.id = p.business_id
     WHERE p.id = p_program_id;
    RETURN v_program;
END;
$$;

-- Record a user's request to join a program, with the notification the business acts on.
CREATE FUNCTION loyalty.request_enrollment(p_customer_id bigint, p_program_id bigint, p_message text DEFAULT NULL)
RETURNS uuid
LANGUAGE plpgsql
AS $$
DECLARE
    v_program         loyalty.program_info;
    v_customer_name   text;
    v_request_id      uuid := gen_random_uuid();
    v_notification_id uuid;
BEGIN
    IF p_customer_id IS NULL OR p_program_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer id and program id must not be NULL';
    END IF;

    v_program := loyalty.program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    IF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;

    SELECT loyalty.display_name(u.id, u.name, u.email) INTO v_customer_name
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
$$;

-- The stored outcome of a decided request: deciding it the same way again returns this.
CREATE FUNCTION loyalty.decision_result(p_request_id uuid)
RETURNS loyalty.enrollment_result
LANGUAGE sql STABLE
AS $$
    SELECT r.id, r.status, r.customer_id, r.program_id, r.enrollment_id, r.card_id, c.card_number,
           coalesce(r.customer_created, false), r.result_notification_id
      FROM loyalty.customer_approval_requests AS r
      LEFT JOIN loyalty.loyalty_cards AS c ON c.id = r.card_id
     WHERE r.id = p_request_id
$$;

-- Approve a PENDING request whose row the caller has locked: everything the customer needs.
CREATE FUNCTION loyalty.approve_locked_request(p_request loyalty.customer_approval_requests)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_program         loyalty.program_info;
    v_customer        loyalty.customer_result;
    v_enrollment_id   bigint;
    v_card_id         bigint;
    v_card_number     text;
    v_notification_id uuid;
BEGIN
    -- FOR SHARE: a deactivation in flight commits first (we then see INACTIVE) or waits for us.
    PERFORM FROM loyalty.loyalty_programs AS p WHERE p.id = p_request.program_id FOR SHARE;
    v_program := loyalty.program_info(p_request.program_id);
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
    ON CONFLICT (customer_id, business_id) DO UPDATE SET status = 'ACTIVE', updated_at = now()
     WHERE r.status <> 'ACTIVE';

    -- Create or re-activate; the unique key makes concurrent approvals converge on one row.
    INSERT INTO loyalty.program_enrollments AS e (customer_id, program_id)
    VALUES (v_customer.id, v_program.id)
    ON CONFLICT (customer_id, program_id) DO UPDATE SET status = 'ACTIVE', updated_at = now()
    RETURNING e.id INTO v_enrollment_id;

    -- A new card, or (duplicate request, returning customer) the one that exists, re-activated.
    INSERT INTO loyalty.loyalty_cards AS c (customer_id, program_id, business_id)
    VALUES (v_customer.id, v_program.id, v_program.business_id)
    ON CONFLICT (customer_id, program_id) DO NOTHING
    RETURNING c.id, c.card_number INTO v_card_id, v_card_number;
    IF NOT FOUND THEN
        UPDATE loyalty.loyalty_cards AS c
           SET status = 'ACTIVE', updated_at = now()
         WHERE c.customer_id = v_customer.id AND c.program_id = v_program.id
        RETURNING c.id, c.card_number INTO STRICT v_card_id, v_card_number;
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
    ON CONFLICT (card_id) WHERE type = 'CARD_CREATED' DO NOTHING
    RETURNING n.id INTO v_notification_id;
    IF NOT FOUND THEN
        SELECT n.id INTO STRICT v_notification_id
          FROM loyalty.customer_notifications AS n
         WHERE n.card_id = v_card_id AND n.type = 'CARD_CREATED';
    END IF;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'APPROVED', response_at = now(),
           enrollment_id = v_enrollment_id, card_id = v_card_id,
           customer_created = v_customer.created, result_notification_id = v_notification_id
     WHERE r.id = p_request.id;

    RETURN ROW(p_request.id, 'APPROVED', v_customer.id, v_program.id, v_enrollment_id,
               v_card_id, v_card_number, v_customer.created, v_notification_id)::loyalty.enrollment_result;
END;
$$;

-- Reject a PENDING request whose row the caller has locked; no customer is created.
CREATE FUNCTION loyalty.reject_locked_request(p_request loyalty.customer_approval_requests, p_reason text)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_program         loyalty.program_info;
    v_customer_name   text;
    v_notification_id uuid;
BEGIN
    v_program := loyalty.program_info(p_request.program_id);

    -- The person may not be a customer, nor even a user any more: name them as best we can.
    SELECT coalesce(
               (SELECT c.name FROM loyalty.customers AS c WHERE c.id = p_request.customer_id),
               (SELECT loyalty.display_name(u.id, u.name, u.email)
                  FROM loyalty.users AS u WHERE u.id = p_request.customer_id),
               loyalty.display_name(p_request.customer_id, NULL, NULL))
      INTO v_customer_name;

    INSERT INTO loyalty.customer_notifications AS n (customer_id, business_id, type, title, message, data)
    VALUES (p_request.customer_id, p_request.business_id, 'ENROLLMENT_REJECTED',
            format('Your request to join %s', v_program.name),
            format('Sorry %s, %s did not approve your request to join %s.%s',
                   v_customer_name, v_program.business_name, v_program.name,
                   coalesce(' Reason: ' || p_reason, '')),
            jsonb_build_object('customer_name', v_customer_name,
                               'program_name', v_program.name,
                               'business_name', v_program.business_name,
                               'reason', p_reason,
                               'request_id', p_request.id))
    RETURNING n.id INTO v_notification_id;

    IF p_request.notification_id IS NOT NULL THEN
        UPDATE loyalty.customer_notifications AS n
           SET action_taken = true, actioned_at = now()
         WHERE n.id = p_request.notification_id;
    END IF;

    UPDATE loyalty.customer_approval_requests AS r
       SET status = 'REJECTED', response_at = now(), rejection_reason = p_reason,
           customer_created = false, result_notification_id = v_notification_id
     WHERE r.id = p_request.id;

    RETURN ROW(p_request.id, 'REJECTED', p_request.customer_id, p_request.program_id, NULL,
               NULL, NULL, false, v_notification_id)::loyalty.enrollment_result;
END;
$$;

-- LY006 unless the business deciding (when given) is the request's program's business.
CREATE FUNCTION loyalty.check_business(p_request loyalty.customer_approval_requests, p_business_id bigint)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF p_business_id IS NOT NULL AND p_business_id <> p_request.business_id THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not decide request %s: its program belongs to another business',
                             p_business_id, p_request.id);
    END IF;
END;
$$;

-- Decide a request whose row the caller has locked and re-read: authorisation, replay of the
-- same decision, refusal of the other one, or the decision itself.
CREATE FUNCTION loyalty.decide_locked_request(
    p_request     loyalty.customer_approval_requests,
    p_approved    boolean,
    p_reason      text,
    p_business_id bigint
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
BEGIN
    -- Checked before anything else, replays included: another business learns nothing.
    PERFORM loyalty.check_business(p_request, p_business_id);

    IF p_request.status = (CASE WHEN p_approved THEN 'APPROVED' ELSE 'REJECTED' END) THEN
        -- Idempotent: the same decision again changes nothing and returns the same result.
        RETURN loyalty.decision_result(p_request.id);
    ELSIF p_request.status <> 'PENDING' THEN
        RAISE EXCEPTION USING
            ERRCODE = 'LY002',
            MESSAGE = format('Enrollment request %s is already %s', p_request.id, p_request.status);
    ELSIF p_approved THEN
        RETURN loyalty.approve_locked_request(p_request);
    ELSE
        RETURN loyalty.reject_locked_request(p_request, p_reason);
    END IF;
END;
$$;

-- Decide a join request in one transaction: approve (the default) or reject it. With
-- p_business_id, only that business may decide (its own programs' requests).
CREATE FUNCTION loyalty.process_enrollment_approval(
    p_request_id  uuid,
    p_approved    boolean DEFAULT true,
    p_reason      text DEFAULT NULL,
    p_business_id bigint DEFAULT NULL
)
RETURNS loyalty.enrollment_result
LANGUAGE plpgsql
AS $$
DECLARE
    v_request loyalty.customer_approval_requests;
BEGIN
    IF p_request_id IS NULL OR p_approved IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'request id and approved must not be NULL';
    END IF;

    -- Every decision on one request is serialised here; the waiter then sees the decided row.
    SELECT r.* INTO v_request
      FROM loyalty.customer_approval_requests AS r
     WHERE r.id = p_request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY001', MESSAGE = format('Enrollment request not found: %s', p_request_id);
    END IF;

    RETURN loyalty.decide_locked_request(v_request, p_approved, p_reason, p_business_id);
END;
$$;

-- Cards with their program's and business's names, for people rather than programs to read.
CREATE VIEW loyalty.card_details AS
SELECT c.id, c.customer_id, c.program_id, p.name AS program_name, c.business_id,
       loyalty.display_name(b.id, b.name, b.email, 'Business') AS business_name,
       c.card_number, c.status, c.points_balance, c.issued_at
  FROM loyalty.loyalty_cards AS c
  JOIN loyalty.loyalty_programs AS p ON p.id = c.program_id
  JOIN loyalty.users AS b ON b.id = c.business_id;

CREATE FUNCTION loyalty.customer_cards(p_customer_id bigint)
RETURNS SETOF loyalty.card_details
LANGUAGE sql STABLE
AS $$
    SELECT d.* FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id ORDER BY d.id
$$;
