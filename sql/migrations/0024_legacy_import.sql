-- 0024_legacy_import: moving in from the replaced system (issue 18; the contract's "Moving in
-- from the replaced system"). A card keeps answering to every number it carried there: those
-- numbers, which have no check digit and need not be unique, live beside the card in
-- loyalty.card_aliases (the card's own number stays a loyaltydb number with its Luhn digit), and
-- loyalty.find_card finds a card by either. `loyaltydb import-legacy` writes the aliases.
-- Written by tools/new_migration.py from sql/functions/, with the table by hand.
-- depends: 0023_approval_plans

-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

-- On a distributed database: one connection per worker for this transaction's DDL (as in 0020:
-- the new table has a key to the cards, which have keys to reference tables).
DO $$
BEGIN
    IF loyalty._distributed() THEN
        PERFORM set_config('citus.multi_shard_modify_mode', 'sequential', true);
    END IF;
END
$$;

-- A legacy number of an imported card: one card a number (unique on one server; on a cluster,
-- where no index spans the workers, by construction: the import never writes a number twice).
CREATE TABLE loyalty.card_aliases (
    customer_id    bigint NOT NULL,
    card_number    text NOT NULL,
    card_id        bigint NOT NULL,
    legacy_card_id bigint NOT NULL,
    CONSTRAINT card_aliases_pkey PRIMARY KEY (customer_id, card_number),
    CONSTRAINT card_aliases_card_fkey FOREIGN KEY (customer_id, card_id)
        REFERENCES loyalty.loyalty_cards (customer_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE loyalty.card_aliases IS
    'Card numbers an imported card carried in the replaced system; loyalty.find_card answers to them.';
DO $$
BEGIN
    -- Already distributed: the aliases join their customer's shards (distribute does it later
    -- for a database distributed after this migration) and keep no index across the workers.
    IF loyalty._distributed() THEN
        PERFORM create_distributed_table('loyalty.card_aliases', 'customer_id', colocate_with => 'loyalty.users');
        CREATE INDEX card_aliases_card_number_idx ON loyalty.card_aliases (card_number);
    ELSE
        CREATE UNIQUE INDEX card_aliases_card_number_key ON loyalty.card_aliases (card_number);
    END IF;
END
$$;

-- sql/functions/find_card.sql
-- The card a number names: its loyaltydb number, or a number it carried in the replaced system
-- (loyalty.card_aliases, written by `loyaltydb import-legacy`). Compared exactly: the numbers are
-- printed on plastic and encoded in QR codes as they are. No row when no card has that number.
-- loyaltydb numbers are digits only and every legacy format holds a letter or a dash, so the two
-- lookups never answer for the same number.
CREATE OR REPLACE FUNCTION loyalty.find_card(p_card_number text)
RETURNS SETOF loyalty.card_details
LANGUAGE plpgsql STABLE STRICT
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY SELECT d.* FROM loyalty.card_details AS d WHERE d.card_number = p_card_number;
    IF NOT FOUND THEN
        RETURN QUERY
            SELECT d.*
              FROM loyalty.card_aliases AS a
              JOIN loyalty.card_details AS d ON d.customer_id = a.customer_id AND d.id = a.card_id
             WHERE a.card_number = p_card_number;
    END IF;
END;
$$;

GRANT EXECUTE ON FUNCTION loyalty.find_card(text) TO loyalty_app;
