-- 0039_rewards: rewards and redemptions (contract "Rewards, deduction requests, ..."; issue 29):
-- a program's catalogue with stock (create_reward, update_reward, program_rewards), and
-- redeem_reward, which spends the cost as a REDEEM ledger row in the same transaction as the
-- redemption and one less in stock, with an 8-character code the business types at the counter
-- (fulfil_redemption); cancel_redemption refunds once (a REFUND row) and gives the stock back.
-- The ledger's writer leaves a redemption's notifications and event to these functions; the
-- points sweep (expire_points) probes the programs by key, never scanning them.
-- depends: 0038_batch_points_fixup_when_needed

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;
-- On a distributed database, Citus creates functions after distributing a table in one
-- transaction only over one connection per worker (as 0014). (On one server: a placeholder.)
SET LOCAL citus.multi_shard_modify_mode TO 'sequential';

-- A program's catalogue: reference data beside the programs on a cluster (every node reads it).
CREATE TABLE loyalty.rewards (
    id          bigserial PRIMARY KEY,
    program_id  bigint NOT NULL,
    business_id bigint NOT NULL,
    name        text NOT NULL,
    points_cost integer NOT NULL,
    status      loyalty.active_status NOT NULL DEFAULT 'ACTIVE',
    stock       integer,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT rewards_points_cost_check CHECK (points_cost > 0),
    CONSTRAINT rewards_stock_check CHECK (stock >= 0)
);
CREATE INDEX rewards_program_idx ON loyalty.rewards (program_id);

-- Redemption numbers, one per redemption, from which its code is made (_redemption_code). On a
-- cluster each worker's copy of a sequence behind a distributed table's default starts at its
-- node group << 48, so the codes of two workers never meet. (Owned by no column: Citus cannot
-- alter a distributed sequence; the rollback drops it.)
CREATE SEQUENCE loyalty.redemption_number_seq;

-- One row a redemption, with its customer (distributed by the customer on a cluster).
CREATE TABLE loyalty.redemptions (
    customer_id     bigint NOT NULL,
    id              uuid NOT NULL,
    reward_id       bigint NOT NULL,
    card_id         bigint NOT NULL,
    program_id      bigint NOT NULL,
    business_id     bigint NOT NULL,
    points          integer NOT NULL,
    code            text NOT NULL,
    number          bigint NOT NULL DEFAULT nextval('loyalty.redemption_number_seq'),
    status          text NOT NULL DEFAULT 'PENDING',
    idempotency_key text NOT NULL,
    transaction_id  bigint NOT NULL,
    refund_id       bigint,
    cancelled_by    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    CONSTRAINT redemptions_pkey PRIMARY KEY (customer_id, id),
    CONSTRAINT redemptions_points_check CHECK (points > 0),
    -- A CHECK, not a domain as 0030's statuses: Citus 13 then fails to make the sequence of the
    -- default on the workers when the table is distributed in the same transaction.
    CONSTRAINT redemptions_status_check CHECK (status IN ('PENDING', 'FULFILLED', 'CANCELLED')),
    CONSTRAINT redemptions_cancelled_by_check CHECK (cancelled_by IN ('CUSTOMER', 'BUSINESS'))
);
-- A key redeems once a card (as the ledger's keys); the business finds a redemption by its code.
CREATE UNIQUE INDEX redemptions_key ON loyalty.redemptions (customer_id, card_id, idempotency_key);
CREATE UNIQUE INDEX redemptions_code_key ON loyalty.redemptions (code, program_id);
DO $$
BEGIN
    -- Already distributed: the catalogue joins the reference tables and the redemptions the
    -- customer's shards now (distribute does it later for a database distributed after this).
    -- A code is unique by construction; no index spans the workers, so each shard's is plain.
    IF loyalty._distributed() THEN
        DROP INDEX loyalty.redemptions_code_key;
        CREATE INDEX redemptions_code_idx ON loyalty.redemptions (code, program_id);
        PERFORM create_reference_table('loyalty.rewards');
        PERFORM create_distributed_table('loyalty.redemptions', 'customer_id', colocate_with => 'loyalty.users');
    END IF;
END
$$;
ALTER TABLE loyalty.rewards
    ADD CONSTRAINT rewards_program_fkey FOREIGN KEY (program_id) REFERENCES loyalty.loyalty_programs (id);
ALTER TABLE loyalty.redemptions
    ADD CONSTRAINT redemptions_card_fkey FOREIGN KEY (customer_id, card_id)
    REFERENCES loyalty.loyalty_cards (customer_id, id);
ALTER TABLE loyalty.redemptions
    ADD CONSTRAINT redemptions_reward_fkey FOREIGN KEY (reward_id) REFERENCES loyalty.rewards (id);

-- What the catalogue calls return, and a redemption as its decisions return it.
CREATE TYPE loyalty.reward_details AS (
    reward_id   bigint,
    program_id  bigint,
    name        text,
    points_cost integer,
    status      text,
    stock       integer
);
CREATE TYPE loyalty.redemption_result AS (
    redemption_id uuid,
    code          text,
    status        text,
    reward_id     bigint,
    points        integer,
    balance_after integer,
    replayed      boolean
);
CREATE TYPE loyalty.redemption_details AS (
    redemption_id uuid,
    customer_id   bigint,
    reward_id     bigint,
    reward_name   text,
    program_id    bigint,
    card_id       bigint,
    points        integer,
    code          text,
    status        text,
    created_at    timestamptz,
    decided_at    timestamptz
);
-- A notification's type, title and message, as _redemption_changed chooses them.
CREATE TYPE loyalty._notice AS (type text, title text, message text);

-- sql/functions/_check_reward.sql
-- A reward's fields as create_reward and update_reward take them (NULL: not given): a name of 1
-- to 200 characters, a positive cost, a stock of zero or more, a status ACTIVE or INACTIVE;
-- else InvalidInput (22023) naming the argument.
CREATE OR REPLACE FUNCTION loyalty._check_reward(p_name text, p_points_cost integer, p_stock integer, p_status text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $$
BEGIN
    IF p_name IS NOT NULL AND length(loyalty._trim_space(p_name)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('name must be 1 to 200 characters, not %s', length(loyalty._trim_space(p_name)));
    END IF;
    IF p_points_cost IS NOT NULL THEN
        PERFORM loyalty._check_points(p_points_cost, 'points_cost', false);
    END IF;
    IF p_stock < 0 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('stock must be zero or more (or NULL: unlimited), not %s', p_stock);
    END IF;
    IF p_status NOT IN ('ACTIVE', 'INACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('status must be ACTIVE or INACTIVE, not %s', quote_literal(p_status));
    END IF;
END;
$$;

-- sql/functions/_redemption_changed.sql
-- What every redemption change does besides its own update (contract "Rewards"): the customer
-- told by name, the business too when it did not make the change itself (a redemption, or a
-- customer's cancellation), and the event, in the caller's transaction. p_event is
-- reward.redeemed, redemption.fulfilled or redemption.cancelled; p_balance_after is the card's
-- balance after the REDEEM or REFUND row (NULL for a fulfilment); p_by who cancelled.
-- Returns the redemption.
CREATE OR REPLACE FUNCTION loyalty._redemption_changed(
    p_customer_id   bigint,
    p_redemption_id uuid,
    p_event         text,
    p_balance_after bigint,
    p_by            text DEFAULT NULL
)
RETURNS loyalty.redemption_details
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_done     loyalty.redemption_details := loyalty._redemption_details(p_customer_id, p_redemption_id);
    v_program  loyalty._program_info := loyalty._program_info(v_done.program_id);
    v_customer record;
    v_data     jsonb;
    v_told     loyalty._notice;
    v_business loyalty._notice;
BEGIN
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    v_data := jsonb_strip_nulls(jsonb_build_object(
        'customer_name', v_customer.name, 'program_name', v_program.name, 'business_name', v_program.business_name,
        'reward_name', v_done.reward_name, 'redemption_id', v_done.redemption_id, 'reward_id', v_done.reward_id,
        'program_id', v_done.program_id, 'card_id', v_done.card_id, 'code', v_done.code, 'points', v_done.points,
        'balance_after', p_balance_after, 'cancelled_by', p_by));

    IF p_event = 'reward.redeemed' THEN
        v_told := ROW('REWARD_REDEEMED', format('You redeemed %s at %s', v_done.reward_name, v_program.name),
                      format('Show code %s at %s to get %s. %s points were deducted from your %s card; your balance '
                             'is %s points.', v_done.code, v_program.business_name, v_done.reward_name, v_done.points,
                             v_program.name, p_balance_after));
        v_business := ROW('REWARD_REDEEMED', format('%s redeemed %s', v_customer.name, v_done.reward_name),
                          format('%s redeemed %s for %s points of %s; code %s.', v_customer.name, v_done.reward_name,
                                 v_done.points, v_program.name, v_done.code));
    ELSIF p_event = 'redemption.fulfilled' THEN
        v_told := ROW('REDEMPTION_FULFILLED', format('Enjoy your %s', v_done.reward_name),
                      format('%s handed over %s (code %s).', v_program.business_name, v_done.reward_name,
                             v_done.code));
    ELSE
        v_told := ROW('REDEMPTION_CANCELLED', format('Your %s redemption was cancelled', v_done.reward_name),
                      format('%s%s points were refunded to your %s card; your balance is %s points.',
                             CASE WHEN p_by = 'BUSINESS' THEN v_program.business_name || ' cancelled it. ' END,
                             v_done.points, v_program.name, p_balance_after));
        IF p_by = 'CUSTOMER' THEN
            v_business := ROW('REDEMPTION_CANCELLED',
                              format('%s cancelled their %s redemption', v_customer.name, v_done.reward_name),
                              format('%s cancelled the redemption of %s (code %s); its %s points were refunded.',
                                     v_customer.name, v_done.reward_name, v_done.code, v_done.points));
        END IF;
    END IF;
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data, card_id)
    VALUES (p_customer_id, v_program.business_id, v_told.type, v_told.title, v_told.message, v_data, v_done.card_id);
    -- The business hears of what the customer did, on the customer's shard (one hop).
    IF v_business.type IS NOT NULL THEN
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data,
                                                    card_id)
        VALUES (p_customer_id, v_program.business_id, 'BUSINESS', v_business.type, v_business.title,
                v_business.message, v_data, v_done.card_id);
    END IF;

    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_program.business_id, p_event,
            v_data || jsonb_build_object('channels',
                                         loyalty._event_channels(v_customer.notification_preferences, 'rewards')));
    RETURN v_done;
END;
$$;

-- sql/functions/_redemption_code.sql
-- The code a business types at the counter for redemption number p_number: 8 characters of an
-- alphabet without look-alikes (no 0, O, 1, I or L: 31 symbols). Unique by construction: the
-- number's node group (its top 16 bits: 0 on one server, the worker's group on a cluster, whose
-- sequences start at group << 48) and the node's own count (below 2^32) make 39 bits, scrambled
-- by a bijection (odd multipliers and xor-shifts modulo 2^39) so that consecutive codes do not
-- look consecutive, then written in base 31 (31^8 > 2^39). No two numbers share a code.
CREATE OR REPLACE FUNCTION loyalty._redemption_code(p_number bigint)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    c_alphabet constant text := 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
    c_mask     constant bigint := 549755813887;  -- 2^39 - 1
    v_group    bigint := p_number >> 48;
    v_count    bigint := p_number & 281474976710655;  -- 2^48 - 1
    v_x        bigint;
    v_code     text := '';
BEGIN
    IF p_number IS NULL OR p_number < 1 OR v_group > 127 OR v_count >= 4294967296 THEN
        RAISE EXCEPTION USING ERRCODE = '54000',
            MESSAGE = format('No redemption code for number %s: codes need node groups up to 127 and at most '
                             '4294967295 redemptions a node', p_number);
    END IF;
    v_x := (v_group << 32) | v_count;
    -- Each step is a bijection of 39-bit numbers; products stay below 2^63.
    v_x := (v_x * 11400713) & c_mask;
    v_x := v_x # (v_x >> 20);
    v_x := (v_x * 7046029) & c_mask;
    v_x := v_x # (v_x >> 18);
    FOR i IN 1..8 LOOP
        v_code := substr(c_alphabet, (v_x % 31)::integer + 1, 1) || v_code;
        v_x := v_x / 31;
    END LOOP;
    RETURN v_code;
END;
$$;

-- sql/functions/_redemption_details.sql
-- A redemption as fulfil_redemption and cancel_redemption return it, with its reward's name.
-- (plpgsql: Citus plans no parameterised statement of a SQL-language function.)
CREATE OR REPLACE FUNCTION loyalty._redemption_details(p_customer_id bigint, p_redemption_id uuid)
RETURNS loyalty.redemption_details
LANGUAGE plpgsql STABLE
SET enable_seqscan = off
AS $$
DECLARE
    v_done loyalty.redemption_details;
BEGIN
    SELECT d.id, d.customer_id, d.reward_id, r.name, d.program_id, d.card_id, d.points, d.code, d.status::text,
           d.created_at, d.decided_at
      INTO v_done
      FROM loyalty.redemptions AS d
      JOIN loyalty.rewards AS r ON r.id = d.reward_id
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN v_done;
END;
$$;

-- sql/functions/cancel_redemption.sql
-- Cancel a PENDING redemption: the customer's own (p_business_id NULL), or, with p_business_id,
-- one of that business's programs. In ONE transaction its points come back as a REFUND ledger
-- row (keyed by the redemption, so never twice), a limited stock gets its item back, the
-- redemption becomes CANCELLED, the other side is told and redemption.cancelled is published.
-- Cancelling again returns it; a fulfilled one is RedemptionNotPending (LY018); an id that is
-- not that customer's is RedemptionNotFound (LY021); another business's is NotAuthorized (LY006).
CREATE OR REPLACE FUNCTION loyalty.cancel_redemption(
    p_customer_id   bigint,
    p_redemption_id uuid,
    p_business_id   bigint DEFAULT NULL
)
RETURNS SETOF loyalty.redemption_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_found  loyalty.redemptions;
    v_refund loyalty.point_result;
BEGIN
    IF p_customer_id IS NULL OR p_redemption_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and redemption_id must not be NULL';
    END IF;
    -- Every decision on one redemption is serialised here; a waiter sees the decided row.
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('Redemption %s is not one of customer %s''s', p_redemption_id, p_customer_id);
    ELSIF p_business_id IS NOT NULL AND p_business_id <> v_found.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not cancel redemption %s: it is another business''s', p_business_id,
                             p_redemption_id);
    ELSIF v_found.status = 'FULFILLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was fulfilled; it cannot be cancelled', p_redemption_id,
                             v_found.code);
    ELSIF v_found.status = 'CANCELLED' THEN
        RETURN NEXT loyalty._redemption_details(p_customer_id, p_redemption_id);
        RETURN;
    END IF;
    v_refund := loyalty._change_points(p_customer_id, v_found.program_id, v_found.points, 'REFUND',
                                       'refund:' || p_redemption_id, NULL, 'redemption:' || p_redemption_id, NULL);
    -- A limited stock gets its item back (on a cluster a write of every node; none for unlimited).
    IF (SELECT r.stock FROM loyalty.rewards AS r WHERE r.id = v_found.reward_id) IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock + 1, updated_at = now() WHERE r.id = v_found.reward_id;
    END IF;
    UPDATE loyalty.redemptions AS d
       SET status = 'CANCELLED', decided_at = now(), refund_id = v_refund.transaction_id,
           cancelled_by = CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END
     WHERE d.customer_id = p_customer_id AND d.id = p_redemption_id;
    RETURN NEXT loyalty._redemption_changed(p_customer_id, p_redemption_id, 'redemption.cancelled',
                                            v_refund.balance_after,
                                            CASE WHEN p_business_id IS NULL THEN 'CUSTOMER' ELSE 'BUSINESS' END);
END;
$$;

-- sql/functions/create_reward.sql
-- A reward in the catalogue of one of the business's programs: a name (1 to 200 characters), a
-- cost in points (positive) and a stock (NULL: unlimited; else how many are left, never below
-- zero). Returns its id. Errors: 22023 (a field), LY004 (no such program), LY006 (another
-- business's program).
CREATE OR REPLACE FUNCTION loyalty.create_reward(
    p_business_id bigint,
    p_program_id  bigint,
    p_name        text,
    p_points_cost integer,
    p_stock       integer DEFAULT NULL
)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_program loyalty._program_info;
    v_id      bigint;
BEGIN
    IF p_name IS NULL OR p_points_cost IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a reward needs a name and a points_cost, not NULL';
    END IF;
    PERFORM loyalty._check_reward(p_name, p_points_cost, p_stock, NULL);
    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF p_business_id IS DISTINCT FROM v_program.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not add rewards to program %s: it is another business''s',
                             p_business_id, p_program_id);
    END IF;
    INSERT INTO loyalty.rewards AS r (program_id, business_id, name, points_cost, stock)
    VALUES (p_program_id, p_business_id, loyalty._trim_space(p_name), p_points_cost, p_stock)
    RETURNING r.id INTO v_id;
    RETURN v_id;
END;
$$;

-- sql/functions/fulfil_redemption.sql
-- The business hands the reward over: the PENDING redemption with that code in one of its
-- programs becomes FULFILLED, the customer is told and redemption.fulfilled is published. The
-- code is read without case, spaces or dashes ("abcd-2345" finds ABCD2345). Fulfilling it
-- again returns it; a cancelled one is RedemptionNotPending (LY018); a code none of the
-- business's programs issued is RedemptionNotFound (LY021). A code names no customer: on a
-- cluster it is looked up on every worker (an index probe each), then the row is the customer's.
CREATE OR REPLACE FUNCTION loyalty.fulfil_redemption(p_business_id bigint, p_code text)
RETURNS SETOF loyalty.redemption_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_code  text := upper(translate(p_code, E' -\t', ''));
    v_found loyalty.redemptions;
BEGIN
    IF p_business_id IS NULL OR p_code IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'business_id and code must not be NULL';
    END IF;
    SELECT d.* INTO v_found FROM loyalty.redemptions AS d WHERE d.code = v_code AND d.business_id = p_business_id;
    IF FOUND THEN
        -- Every decision on one redemption is serialised here; a waiter sees the decided row.
        SELECT d.* INTO v_found FROM loyalty.redemptions AS d
         WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id
           FOR UPDATE;
    END IF;
    IF v_found.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY021',
            MESSAGE = format('No redemption with code %s in the programs of business %s', quote_literal(v_code),
                             p_business_id);
    ELSIF v_found.status = 'CANCELLED' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY018',
            MESSAGE = format('Redemption %s (code %s) was cancelled; it cannot be fulfilled', v_found.id, v_code);
    ELSIF v_found.status = 'FULFILLED' THEN
        RETURN NEXT loyalty._redemption_details(v_found.customer_id, v_found.id);
        RETURN;
    END IF;
    UPDATE loyalty.redemptions AS d SET status = 'FULFILLED', decided_at = now()
     WHERE d.customer_id = v_found.customer_id AND d.id = v_found.id;
    RETURN NEXT loyalty._redemption_changed(v_found.customer_id, v_found.id, 'redemption.fulfilled', NULL);
END;
$$;

-- sql/functions/program_rewards.sql
-- What a customer of the program can redeem now: its ACTIVE rewards with stock left, cheapest
-- first. A program that does not exist is LY004 (an empty catalogue is an empty result).
CREATE OR REPLACE FUNCTION loyalty.program_rewards(p_program_id bigint)
RETURNS SETOF loyalty.reward_details
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM loyalty.loyalty_programs AS p WHERE p.id = p_program_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    END IF;
    RETURN QUERY
    SELECT r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock
      FROM loyalty.rewards AS r
     WHERE r.program_id = p_program_id AND r.status = 'ACTIVE' AND (r.stock IS NULL OR r.stock > 0)
     ORDER BY r.points_cost, r.id;
END;
$$;

-- sql/functions/redeem_reward.sql
-- The customer redeems a reward with the card of the reward's program: in ONE transaction the
-- cost is spent as a REDEEM ledger row (the ledger's writer: never below zero, InsufficientPoints,
-- LY011; a card not ACTIVE is CardNotActive, LY013), one is taken from a limited stock, and the
-- redemption is recorded PENDING with the code the business types at the counter; both sides are
-- told by name and reward.redeemed is published. The reward must be ACTIVE with stock left, else
-- RewardUnavailable (LY017); the card must exist (CardNotFound, LY012). A key the card has seen
-- for this reward replays the redemption (replayed true); for anything else it is LY014.
CREATE OR REPLACE FUNCTION loyalty.redeem_reward(
    p_customer_id     bigint,
    p_reward_id       bigint,
    p_idempotency_key text
)
RETURNS loyalty.redemption_result
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_reward loyalty.rewards;
    v_card   loyalty._locked_card;
    v_stored loyalty.redemptions;
    v_spent  loyalty.point_result;
    v_id     uuid;
    v_code   text;
BEGIN
    IF p_customer_id IS NULL OR p_reward_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id and reward_id must not be NULL';
    ELSIF p_idempotency_key IS NULL OR length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('idempotency_key must be 1 to 200 characters, not %s',
                             coalesce(length(p_idempotency_key)::text || ' characters', 'NULL'));
    END IF;
    SELECT r.* INTO v_reward FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    END IF;
    -- The card's lock, as every writer of the card takes it: a second call with the same key
    -- waits here, then finds the first one's redemption.
    v_card := loyalty._lock_card(p_customer_id, v_reward.program_id, NULL);
    SELECT d.* INTO v_stored FROM loyalty.redemptions AS d
     WHERE d.customer_id = p_customer_id AND d.card_id = v_card.id AND d.idempotency_key = p_idempotency_key;
    IF FOUND THEN
        IF v_stored.reward_id <> p_reward_id THEN
            RAISE EXCEPTION USING ERRCODE = 'LY014',
                MESSAGE = format('Idempotency key %s was used on card %s to redeem reward %s; this call redeems %s',
                                 quote_literal(p_idempotency_key), v_card.id, v_stored.reward_id, p_reward_id);
        END IF;
        RETURN ROW(v_stored.id, v_stored.code, v_stored.status::text, v_stored.reward_id, v_stored.points,
                   (SELECT t.balance_after FROM loyalty.point_transactions AS t
                     WHERE t.customer_id = p_customer_id AND t.id = v_stored.transaction_id), true)::loyalty.redemption_result;
    END IF;
    IF v_reward.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is not active', v_reward.name);
    END IF;
    -- One less of a limited stock, or none left. The row lock makes concurrent redeemers of the
    -- last items take turns, each seeing the stock the one before left. (On a cluster the
    -- catalogue is reference data: this write reaches every node in this transaction; an
    -- unlimited reward writes nothing there and stays on the customer's worker.)
    IF v_reward.stock IS NOT NULL THEN
        UPDATE loyalty.rewards AS r SET stock = r.stock - 1, updated_at = now()
         WHERE r.id = p_reward_id AND r.stock > 0 AND r.status = 'ACTIVE';
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward "%s" is out of stock', v_reward.name);
        END IF;
    END IF;
    -- The spend; on any error from here, the stock taken above rolls back with it.
    v_spent := loyalty._change_points(p_customer_id, v_reward.program_id, -v_reward.points_cost, 'REDEEM',
                                      p_idempotency_key, NULL, 'reward:' || p_reward_id, v_reward.name);
    v_id := loyalty._request_id(p_customer_id);
    v_code := loyalty._redemption_code(nextval('loyalty.redemption_number_seq'));
    INSERT INTO loyalty.redemptions (customer_id, id, reward_id, card_id, program_id, business_id, points, code,
                                     idempotency_key, transaction_id)
    VALUES (p_customer_id, v_id, p_reward_id, v_card.id, v_reward.program_id, v_reward.business_id,
            v_reward.points_cost, v_code, p_idempotency_key, v_spent.transaction_id);
    PERFORM loyalty._redemption_changed(p_customer_id, v_id, 'reward.redeemed', v_spent.balance_after);
    RETURN ROW(v_id, v_code, 'PENDING', p_reward_id, v_reward.points_cost, v_spent.balance_after,
               false)::loyalty.redemption_result;
END;
$$;

-- sql/functions/update_reward.sql
-- Change one of the business's rewards: its status (ACTIVE or INACTIVE), its cost, its stock
-- (how many are left from now on); NULL leaves a field as it is, so a limited stock stays
-- limited (a new reward is unlimited when created so). Returns the reward. Redemptions made
-- before keep the cost they paid. Errors: 22023 (a field), LY017 (no such reward), LY006
-- (another business's reward).
CREATE OR REPLACE FUNCTION loyalty.update_reward(
    p_business_id bigint,
    p_reward_id   bigint,
    p_status      text DEFAULT NULL,
    p_points_cost integer DEFAULT NULL,
    p_stock       integer DEFAULT NULL
)
RETURNS SETOF loyalty.reward_details
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_owner bigint;
BEGIN
    PERFORM loyalty._check_reward(NULL, p_points_cost, p_stock, p_status);
    SELECT r.business_id INTO v_owner FROM loyalty.rewards AS r WHERE r.id = p_reward_id;
    IF v_owner IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY017', MESSAGE = format('Reward %s not found', p_reward_id);
    ELSIF p_business_id IS DISTINCT FROM v_owner THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not change reward %s: it is another business''s', p_business_id,
                             p_reward_id);
    END IF;
    RETURN QUERY
    UPDATE loyalty.rewards AS r
       SET status = coalesce(p_status, r.status), points_cost = coalesce(p_points_cost, r.points_cost),
           stock = coalesce(p_stock, r.stock), updated_at = now()
     WHERE r.id = p_reward_id
    RETURNING r.id, r.program_id, r.name, r.points_cost, r.status::text, r.stock;
END;
$$;

-- sql/functions/_change_points.sql
-- The one writer of the points ledger (contract "Points"): earn, spend, adjust and reverse all
-- come here. In ONE transaction, under the row locks of the (customer, program)'s enrollment and
-- card (_lock_card: in that order, as an approval takes them, so the two never deadlock), it writes the
-- ledger row, the card's balance and the enrollment's copy of it, the customer's notification
-- and the event; or it writes nothing and raises. A key the card has seen replays the stored row
-- (same operation and arguments) or raises IdempotencyKeyReused (LY014): the lock makes a second
-- session with the same key wait, then find the first one's row. p_points is signed.
CREATE OR REPLACE FUNCTION loyalty._change_points(
    p_customer_id     bigint,
    p_program_id      bigint,
    p_points          integer,
    p_reason          text,
    p_idempotency_key text,
    p_business_id     bigint,
    p_reference       text,
    p_note            text,
    p_reverses_id     bigint DEFAULT NULL
)
RETURNS loyalty.point_result
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_card       loyalty._locked_card;
    v_stored     loyalty.point_transactions;
    v_program    loyalty._program_info;
    v_customer   record;
    v_balance    bigint;
    v_row        loyalty.point_transactions;
    v_type       text;
    v_credit     boolean := p_points > 0;
    v_reversal   bigint;
BEGIN
    IF p_idempotency_key IS NULL OR length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('idempotency_key must be 1 to 200 characters, not %s',
                             coalesce(length(p_idempotency_key)::text || ' characters', 'NULL'));
    END IF;
    IF length(p_reference) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('reference must be at most 200 characters, not %s', length(p_reference));
    END IF;
    v_card := loyalty._lock_card(p_customer_id, p_program_id, p_business_id);

    -- A key the card has seen: the stored row when the call is the same one, else LY014.
    SELECT t.* INTO v_stored
      FROM loyalty.point_transactions AS t
     WHERE t.customer_id = p_customer_id AND t.card_id = v_card.id AND t.idempotency_key = p_idempotency_key;
    IF v_stored.id IS NOT NULL THEN
        IF (v_stored.reason::text, v_stored.points, v_stored.reference, v_stored.note, v_stored.reverses_id)
           IS NOT DISTINCT FROM (p_reason, p_points, p_reference, p_note, p_reverses_id) THEN
            RETURN ROW(v_stored.id, v_stored.customer_id, v_stored.program_id, v_stored.card_id, v_stored.points,
                       v_stored.balance_after, v_stored.reason::text, v_stored.created_at, true)::loyalty.point_result;
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'LY014',
            MESSAGE = format('Idempotency key %s was used on card %s for %s %s points; this call is another',
                             quote_literal(p_idempotency_key), v_card.id, v_stored.reason, v_stored.points);
    END IF;

    -- One reversal a transaction: any writer of this card holds its lock, so this check is safe.
    IF p_reverses_id IS NOT NULL THEN
        SELECT t.id INTO v_reversal FROM loyalty.point_transactions AS t
         WHERE t.customer_id = p_customer_id AND t.reverses_id = p_reverses_id;
        IF v_reversal IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'LY016',
                MESSAGE = format('Transaction %s was reversed already (by transaction %s)', p_reverses_id, v_reversal);
        END IF;
    END IF;

    v_program := loyalty._program_info(p_program_id);
    -- Earning and spending (a deduction and a redemption are spends) need the card, its
    -- enrollment and its program ACTIVE; corrections (adjustments, reversals, refunds) do not.
    IF p_reason IN ('EARN', 'SPEND', 'DEDUCTION', 'REDEEM') AND (v_card.status <> 'ACTIVE' OR v_card.enrollment_status IS DISTINCT FROM 'ACTIVE'
                                           OR v_program.status <> 'ACTIVE') THEN
        RAISE EXCEPTION USING ERRCODE = 'LY013',
            MESSAGE = format('Card %s is not active (card %s, enrollment %s, program %s)', v_card.id, v_card.status,
                             coalesce(v_card.enrollment_status, 'missing'), v_program.status);
    END IF;

    v_balance := v_card.points_balance::bigint + p_points;
    IF v_balance > 2147483647 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY015',
            MESSAGE = format('Card %s would hold %s points, more than a card holds (2147483647)', v_card.id, v_balance);
    ELSIF v_balance < 0 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY011',
            MESSAGE = format('Insufficient points: card %s has %s points, %s needs %s', v_card.id,
                             v_card.points_balance, lower(p_reason), -p_points);
    END IF;

    INSERT INTO loyalty.point_transactions AS t
           (customer_id, card_id, program_id, business_id, points, reason, idempotency_key, reference, note,
            balance_after, reverses_id)
    VALUES (p_customer_id, v_card.id, p_program_id, v_card.business_id, p_points, p_reason, p_idempotency_key,
            p_reference, p_note, v_balance, p_reverses_id)
    RETURNING t.* INTO v_row;
    -- A debit uses the card's credits that expire soonest first (0036): those that can expire
    -- oldest first (a card's credits share its program's points_ttl), then the ones that never do
    -- (OPENING, IMPORT); each credit's consumed grows by what this debit takes of it. Oldest by
    -- created_at, the order the sweep expires them in (0039; by id before: a transaction that
    -- started first but took the card's lock second has the later id and the earlier time).
    IF p_points < 0 THEN
        UPDATE loyalty.point_transactions AS t
           SET consumed = t.consumed + a.take
          FROM (SELECT c.id,
                       least(c.points - c.consumed,
                             greatest(0, -p_points - coalesce(sum(c.points - c.consumed) OVER (
                                 ORDER BY c.reason::text IN ('OPENING', 'IMPORT'), c.created_at, c.id
                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0))) AS take
                  FROM loyalty.point_transactions AS c
                 WHERE c.customer_id = p_customer_id AND c.card_id = v_card.id AND c.points > c.consumed) AS a
         WHERE t.customer_id = p_customer_id AND t.id = a.id AND a.take > 0;
    END IF;
    UPDATE loyalty.loyalty_cards AS k
       SET points_balance = v_balance, updated_at = now()
     WHERE k.customer_id = p_customer_id AND k.id = v_card.id;
    IF v_card.enrollment_id IS NOT NULL THEN
        UPDATE loyalty.program_enrollments AS e
           SET current_points = v_balance, updated_at = now()
         WHERE e.customer_id = p_customer_id AND e.id = v_card.enrollment_id;
    END IF;

    -- The customer is told by name, and the change published, in this transaction; a redemption's
    -- spend and refund are told and published by redeem_reward and cancel_redemption, with the reward.
    IF p_reason NOT IN ('REDEEM', 'REFUND') THEN
        SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data)
        VALUES (p_customer_id, v_card.business_id, CASE WHEN v_credit THEN 'POINTS_ADDED' ELSE 'POINTS_DEDUCTED' END,
                loyalty._points_title(p_points, v_program.name),
                loyalty._points_message(p_points, p_reason, v_program.name, v_program.business_name, v_balance::integer),
                loyalty._points_notification_data(v_customer.name, v_program.name, v_program.business_name, v_card.id,
                                                  v_row.id, p_points, v_balance, p_reason));
        v_type := CASE p_reason WHEN 'EARN' THEN 'points.earned' WHEN 'SPEND' THEN 'points.spent'
                                WHEN 'ADJUST' THEN 'points.adjusted' WHEN 'REVERSAL' THEN 'points.reversed'
                                WHEN 'DEDUCTION' THEN 'points.deducted' WHEN 'EXPIRE' THEN 'points.expired'
                                ELSE 'points.' || lower(p_reason) END;
        INSERT INTO loyalty.events (customer_id, business_id, type, payload)
        VALUES (p_customer_id, v_card.business_id, v_type,
                loyalty._points_event_payload(v_customer.name, v_program.name, v_program.business_name, p_program_id,
                                              v_card.id, v_card.card_number, v_row.id, p_points, v_balance,
                                              p_reverses_id, v_customer.notification_preferences));
    END IF;

    RETURN ROW(v_row.id, v_row.customer_id, v_row.program_id, v_row.card_id, v_row.points, v_row.balance_after,
               v_row.reason::text, v_row.created_at, false)::loyalty.point_result;
END;
$$;

-- sql/functions/expire_points.sql
-- Expire what is left of overdue credits (contract "Points expiry"): a credit (EARN, WELCOME,
-- REFUND, a positive ADJUST or REVERSAL) of a program with a points_ttl expires that long after
-- it was made; OPENING and IMPORT rows never do. At most p_limit credits, oldest first; for each,
-- under its card's locks (the ledger's own), what is left of it NOW is written off as an EXPIRE
-- row through the ledger's writer, which takes it from the credits that expire soonest: this one
-- (the card's oldest open credit that can expire). So a point spent meanwhile is never expired,
-- and two sweeps at once expire a credit once (the second finds nothing left, or its key).
-- Returns how many credits it expired; call it until it returns less than p_limit. (No
-- sequential scan, even of a one-program catalogue: a key probe, since 0039.)
CREATE OR REPLACE FUNCTION loyalty.expire_points(p_limit integer DEFAULT 1000)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_due     record;
    v_left    integer;
    v_expired integer := 0;
BEGIN
    IF p_limit IS NULL OR p_limit NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = format('limit must be from 1 to 100000, not %s', p_limit);
    END IF;
    FOR v_due IN
        SELECT t.customer_id, t.program_id, t.id
          FROM loyalty.point_transactions AS t
          JOIN loyalty.loyalty_programs AS g ON g.id = t.program_id
         WHERE t.points > t.consumed AND t.reason::text NOT IN ('OPENING', 'IMPORT')
           AND g.points_ttl IS NOT NULL AND t.created_at <= now() - g.points_ttl
         ORDER BY t.created_at, t.customer_id, t.id
         LIMIT p_limit
    LOOP
        PERFORM loyalty._lock_card(v_due.customer_id, v_due.program_id, NULL);
        SELECT t.points - t.consumed INTO v_left FROM loyalty.point_transactions AS t
         WHERE t.customer_id = v_due.customer_id AND t.id = v_due.id;
        IF v_left > 0 THEN
            -- (A replay wrote nothing: not counted, so a caller looping until less than p_limit
            -- comes back can never loop on it.)
            IF NOT (loyalty._change_points(v_due.customer_id, v_due.program_id, -v_left, 'EXPIRE',
                                           'expire:' || v_due.id, NULL, NULL, NULL)).replayed THEN
                v_expired := v_expired + 1;
            END IF;
        END IF;
    END LOOP;
    RETURN v_expired;
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.cancel_redemption(bigint,uuid,bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.create_reward(bigint,bigint,text,integer,integer) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.fulfil_redemption(bigint,text) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.program_rewards(bigint) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.redeem_reward(bigint,bigint,text) TO loyalty_app;

GRANT EXECUTE ON FUNCTION loyalty.update_reward(bigint,bigint,text,integer,integer) TO loyalty_app;
