-- 0025_events_schema: the transactional outbox (issue 19; the contract's "Events"). Every
-- change writes a row of loyalty.events in its own transaction (the functions, in 0026). A
-- consumer is a name and a position, a transaction snapshot (docs/events.md: why not an id);
-- event_deliveries holds what a consumer has been given and not acknowledged, each with the time
-- it may be given again (the visibility timeout).
-- depends: 0024_legacy_import

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- On a distributed database: one connection per worker for this transaction's DDL (as in 0020).
DO $$
BEGIN
    IF loyalty._distributed() THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
END
$$;

-- An event: what happened, to whom, and the transaction that wrote it (xid: what a consumer's
-- snapshot position is compared with). On a cluster it lives on its customer's shard.
CREATE TABLE loyalty.events (
    customer_id bigint NOT NULL,
    id          bigserial NOT NULL,
    type        text NOT NULL,
    business_id bigint,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL DEFAULT '{}',
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT events_pkey PRIMARY KEY (customer_id, id)
);
CREATE INDEX events_xid_idx ON loyalty.events (xid);
COMMENT ON TABLE loyalty.events IS
    'Every change, written by its own transaction (docs/events.md); read through loyalty.fetch_events.';

-- A consumer: its name and position (the snapshot its last fetch moved it to).
CREATE TABLE loyalty.event_consumers (
    name          text PRIMARY KEY,
    position      pg_snapshot NOT NULL,
    registered_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- What a consumer has been given and not acknowledged; visible_at: when a worker may take it
-- (again: a worker that took it and did not ack within the timeout lost it).
CREATE TABLE loyalty.event_deliveries (
    consumer    text NOT NULL REFERENCES loyalty.event_consumers (name) ON DELETE CASCADE,
    event_id    bigint NOT NULL,
    customer_id bigint NOT NULL,
    visible_at  timestamptz NOT NULL DEFAULT '-infinity',
    deliveries  integer NOT NULL DEFAULT 0,
    CONSTRAINT event_deliveries_pkey PRIMARY KEY (consumer, event_id)
);
CREATE INDEX event_deliveries_due_idx ON loyalty.event_deliveries (consumer, visible_at, event_id);

-- What fetch_events returns (the contract's Event).
CREATE TYPE loyalty.event AS (
    id          bigint,
    type        text,
    customer_id bigint,
    business_id bigint,
    occurred_at timestamptz,
    payload     jsonb
);

DO $$
BEGIN
    -- Already distributed: the events join their customer's shards (distribute does it later
    -- for a database distributed after this migration).
    IF loyalty._distributed() THEN
        PERFORM create_distributed_table('loyalty.events', 'customer_id', colocate_with => 'loyalty.users');
    END IF;
END
$$;
