-- `loyaltydb distribute` (docs/scaling.md): turn a migrated database on a Citus coordinator into
-- a distributed one. Idempotent: each step is skipped when it is done, so run it again after
-- migrations that add tables or functions. Runs as a superuser (Citus's functions need it).
DO $$
DECLARE
    v_table      text;
    v_column     text;
    v_colocate   text;
    v_constraint record;
    v_function   regprocedure;
    v_keys       text[] := ARRAY[]::text[];
BEGIN
    -- One connection per worker: foreign keys to reference tables are created in this same
    -- transaction as the distributed tables (Citus's advice for that case).
    PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);

    -- What a cluster cannot keep: triggers (Citus refuses them on its tables), the key from the
    -- businesses into users (reference data cannot point into distributed data), and the unique
    -- card number, which would have to span the workers (it is unique by construction).
    -- (Only when there: Citus refuses even DROP TRIGGER IF EXISTS on its tables.)
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = 'loyalty_programs_register_business') THEN
        DROP TRIGGER loyalty_programs_register_business ON loyalty.loyalty_programs;
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = 'users_refresh_business') THEN
        DROP TRIGGER users_refresh_business ON loyalty.users;
    END IF;
    IF EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = 'events_notify') THEN
        DROP TRIGGER events_notify ON loyalty.events;
    END IF;
    ALTER TABLE loyalty.businesses DROP CONSTRAINT IF EXISTS businesses_id_fkey;
    ALTER TABLE loyalty.loyalty_cards DROP CONSTRAINT IF EXISTS loyalty_cards_card_number_key;
    -- The same for the imported cards' legacy numbers (0024): looked up by an index of each shard.
    IF to_regclass('loyalty.card_aliases_card_number_key') IS NOT NULL THEN
        DROP INDEX loyalty.card_aliases_card_number_key;
        CREATE INDEX card_aliases_card_number_idx ON loyalty.card_aliases (card_number);
    END IF;
    -- And for the redemptions' codes (0039): unique by construction, found by each shard's index.
    IF to_regclass('loyalty.redemptions_code_key') IS NOT NULL THEN
        DROP INDEX loyalty.redemptions_code_key;
        CREATE INDEX redemptions_code_idx ON loyalty.redemptions (code, program_id);
    END IF;

    IF NOT EXISTS (SELECT FROM pg_catalog.pg_dist_partition WHERE logicalrelid = 'loyalty.users'::regclass) THEN
        -- Foreign keys are set aside while the tables move (Citus wants both ends distributed
        -- first) and put back after, when Citus creates them on every shard.
        FOR v_constraint IN
            SELECT c.conrelid::regclass AS tbl, c.conname, pg_catalog.pg_get_constraintdef(c.oid) AS def
              FROM pg_catalog.pg_constraint AS c
             WHERE c.contype = 'f' AND c.connamespace = 'loyalty'::regnamespace
        LOOP
            -- Citus refuses ON DELETE SET NULL on a key that holds the distribution column: on a
            -- cluster a request's link to its notification is no foreign key (README).
            IF v_constraint.conname <> 'customer_approval_requests_notification_id_fkey' THEN
                v_keys := v_keys || format('ALTER TABLE %s ADD CONSTRAINT %I %s',
                                           v_constraint.tbl, v_constraint.conname, v_constraint.def);
            END IF;
            EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', v_constraint.tbl, v_constraint.conname);
        END LOOP;

        -- Programs and businesses on every node; everything about a customer on one worker.
        PERFORM create_reference_table('loyalty.businesses');
        PERFORM create_reference_table('loyalty.loyalty_programs');
        IF to_regclass('loyalty.rewards') IS NOT NULL THEN  -- 0039
            PERFORM create_reference_table('loyalty.rewards');
        END IF;
        FOR v_table, v_column, v_colocate IN
            VALUES ('loyalty.users', 'id', 'none'),
                   ('loyalty.customers', 'id', 'loyalty.users'),
                   ('loyalty.program_enrollments', 'customer_id', 'loyalty.users'),
                   ('loyalty.loyalty_cards', 'customer_id', 'loyalty.users'),
                   ('loyalty.customer_business_relationships', 'customer_id', 'loyalty.users'),
                   ('loyalty.customer_notifications', 'customer_id', 'loyalty.users'),
                   ('loyalty.customer_approval_requests', 'customer_id', 'loyalty.users'),
                   ('loyalty.point_transactions', 'customer_id', 'loyalty.users'),
                   ('loyalty.card_aliases', 'customer_id', 'loyalty.users'),
                   ('loyalty.events', 'customer_id', 'loyalty.users'),
                   ('loyalty.points_deductions', 'customer_id', 'loyalty.users'),
                   ('loyalty.redemptions', 'customer_id', 'loyalty.users'),
                   ('loyalty.erased_customers', 'customer_id', 'loyalty.users')
        LOOP
            -- A table a later migration adds (distributed by that migration if it comes after this).
            CONTINUE WHEN to_regclass(v_table) IS NULL;
            PERFORM create_distributed_table(v_table, v_column, colocate_with => v_colocate);
            -- The rows now live in the shards; the coordinator's copy only takes room.
            PERFORM truncate_local_data_after_distributing_table(v_table);
        END LOOP;
        PERFORM truncate_local_data_after_distributing_table('loyalty.businesses');
        PERFORM truncate_local_data_after_distributing_table('loyalty.loyalty_programs');
        IF to_regclass('loyalty.rewards') IS NOT NULL THEN
            PERFORM truncate_local_data_after_distributing_table('loyalty.rewards');
        END IF;

        FOREACH v_table IN ARRAY v_keys LOOP
            EXECUTE v_table;
        END LOOP;
    END IF;

    -- Every function on every node; the API delegated to the worker that owns its customer.
    FOR v_function IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p WHERE p.pronamespace = 'loyalty'::regnamespace
    LOOP
        IF v_function::text IN ('loyalty.decide_enrollment(bigint,uuid,boolean,text,bigint)',
                                'loyalty._decide_request(bigint,uuid,boolean,text,bigint)',
                                'loyalty.request_enrollment(bigint,bigint,text)',
                                'loyalty.customer_cards(bigint)',
                                'loyalty.invite_customer(bigint,bigint,bigint,text)',
                                'loyalty.accept_invitation(uuid,bigint)',
                                'loyalty.decline_invitation(uuid,bigint,text)',
                                'loyalty.pending_invitations(bigint,integer,uuid)',
                                'loyalty.customer_notifications(bigint,boolean,integer,uuid)',
                                -- The points ledger (0032): a card is named by its customer.
                                'loyalty.earn_points(bigint,bigint,integer,text,bigint,text)',
                                'loyalty.spend_points(bigint,bigint,integer,text,bigint,text)',
                                'loyalty.adjust_points(bigint,bigint,integer,text,text,bigint)',
                                'loyalty.reverse_points(bigint,bigint,text,bigint)',
                                'loyalty.card_transactions(bigint,bigint,integer,bigint)',
                                -- The card lifecycle (0033).
                                'loyalty.block_card(bigint,bigint,text,bigint)',
                                'loyalty.unblock_card(bigint,bigint,text,bigint)',
                                'loyalty.replace_card(bigint,bigint,bigint)',
                                'loyalty.leave_program(bigint,bigint)',
                                -- Deduction requests (0034).
                                'loyalty.request_points_deduction(bigint,bigint,bigint,integer,text)',
                                'loyalty.answer_points_deduction(uuid,bigint,boolean)',
                                -- Redemptions (0039): a redemption is named by its customer.
                                'loyalty.redeem_reward(bigint,bigint,text)',
                                'loyalty.cancel_redemption(bigint,uuid,bigint)',
                                -- Personal data (0041): everything of a customer is on their worker.
                                'loyalty.export_customer(bigint)',
                                'loyalty.erase_customer(bigint,text)') THEN
            PERFORM create_distributed_function(v_function, 'p_customer_id', colocate_with => 'loyalty.users');
        ELSIF v_function::text IN ('loyalty.ensure_customer(bigint)', 'loyalty.ensure_customer_exists(bigint)') THEN
            PERFORM create_distributed_function(v_function, 'p_user_id', colocate_with => 'loyalty.users');
        ELSE
            PERFORM create_distributed_function(v_function);
        END IF;
        -- Citus makes a function on the workers with PostgreSQL's default privilege (EXECUTE
        -- for PUBLIC), not the coordinator's ACL (0008 revokes it): revoked here, and Citus
        -- sends the REVOKE to every worker. A delegated call is checked there, on the worker.
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', v_function);
    END LOOP;

    -- What differs on a cluster (no row lock on reference data, card-number checks per customer)
    -- asks this flag; replacing it here reaches every worker.
    CREATE OR REPLACE FUNCTION loyalty._distributed()
    RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS 'SELECT true';

    -- A function of an event row looks up its own node's position (_current_group's source says
    -- why it is a function).
    -- (Only once a migration has made it: replacing keeps its owner, creating would not.)
    IF to_regprocedure('loyalty._current_group()') IS NOT NULL THEN
        CREATE OR REPLACE FUNCTION loyalty._current_group()
        RETURNS integer
        LANGUAGE sql STABLE PARALLEL SAFE
        AS 'SELECT groupid FROM pg_catalog.pg_dist_local_group';
    END IF;

    -- Each event row carries the transaction number of the worker that writes it (_event_xid's
    -- source says why). A row trigger that touches only its own row is what Citus's "unsafe"
    -- triggers are safe for: it runs on the shard, on the worker.
    IF to_regprocedure('loyalty._event_xid()') IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = 'events_worker_xid') THEN
        PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
        CREATE TRIGGER events_worker_xid BEFORE INSERT ON loyalty.events
            FOR EACH ROW EXECUTE FUNCTION loyalty._event_xid();
    END IF;
END
$$;
