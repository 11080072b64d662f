-- The import's mapping from the replaced system's tables to loyaltydb's (docs/legacy.md), one
-- named step a statement or a few, run in this order by loyaltydb/legacy/_import.py in ONE
-- transaction of the target database after the source's rows were copied into the temporary
-- tables legacy_<table> (loyaltydb/legacy/_source.py). Every SELECT that feeds an INSERT reads
-- temporary tables only (snapshots of the target where it needs them), so the same statements
-- run on one server and on a Citus coordinator. Every INSERT is ON CONFLICT DO NOTHING: a second
-- run writes nothing, and a row the target already holds is never overwritten. The driver
-- ANALYZEs each temporary table a step creates (autovacuum never sees them), so that the next
-- steps are planned from its real size.

-- name: helpers
-- A legacy text id ('12', ' 12 ', '-5', 'abc'): its number, or NULL when it is none. A sign is
-- part of a number: the same id in an INTEGER column (a card's customer_id) is read as one.
CREATE FUNCTION pg_temp.legacy_id(p_text text) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN loyalty._trim_space(p_text) ~ '^[+-]?[0-9]{1,18}$' THEN loyalty._trim_space(p_text)::bigint END
$$;
-- The loyaltydb number of an imported card whose customer id is outside the card-number scheme
-- (negative ids): '8', the card's id in 14 digits, the Luhn digit. Derived from the card alone, so
-- a dry run or a killed run takes no number from card_number_seq and every run gives the same
-- numbers; no customer-scheme number starts with 8, and the sequence skips a number a card holds.
CREATE FUNCTION pg_temp.legacy_card_number(p_card_id bigint) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN p_card_id BETWEEN 0 AND 99999999999999
                THEN '8' || lpad(p_card_id::text, 14, '0') || loyalty._luhn_check_digit('8' || lpad(p_card_id::text, 14, '0'))::text
           END
$$;
-- A legacy status ('ACTIVE', ' active', 'INACTIVE', garbage) and is_active flag: active or not.
CREATE FUNCTION pg_temp.legacy_active(p_status text, p_is_active boolean) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
    SELECT upper(loyalty._trim_space(coalesce(p_status, 'ACTIVE'))) = 'ACTIVE' AND p_is_active IS NOT FALSE
$$;
-- What the report lists: every row skipped, merged or created, with its reason.
CREATE TEMP TABLE legacy_report (
    table_name text NOT NULL,
    legacy_id  text NOT NULL,
    action     text NOT NULL,
    reason     text NOT NULL
);

-- name: users
-- Users keep their ids, names and emails; a business user's display name is its business_name.
INSERT INTO loyalty.users AS u (id, name, email, created_at)
SELECT l.id, coalesce(nullif(loyalty._trim_space(l.business_name), ''), l.name), l.email,
       coalesce(l.created_at, now())
  FROM legacy_users AS l
 -- An erased person (erase_customer) comes back from no source, not even as a user.
 WHERE l.id NOT IN (SELECT x.customer_id FROM loyalty.erased_customers AS x)
ON CONFLICT DO NOTHING;

-- name: target_users
-- The target's users (the source's among them now), read once: every later step joins these.
CREATE TEMP TABLE target_users AS SELECT u.id, u.name, u.email, u.created_at FROM loyalty.users AS u;
ALTER TABLE target_users ADD PRIMARY KEY (id);


-- name: people
-- The user each legacy customer id stands for. A customers row: its user_id when that user
-- exists, else the one user with exactly its email, else none (reported). An id with no
-- customers row: the user of that id (the replaced system's bug: a row naming a customer that was
-- never created). An id that is neither is absent here, and every row naming it is skipped.
CREATE TEMP TABLE legacy_people AS
SELECT c.id AS legacy_id,
       coalesce(by_id.id, by_email.id) AS user_id,
       CASE WHEN by_id.id IS NULL AND by_email.id IS NULL THEN
           format('customer %s has no user: user_id %s names no user and no single user has email %s',
                  c.id, coalesce(c.user_id::text, 'NULL'), coalesce(c.email, 'NULL'))
       END AS reason
  FROM legacy_customers AS c
  LEFT JOIN target_users AS by_id ON by_id.id = c.user_id
  LEFT JOIN (SELECT u.email, min(u.id) AS id FROM target_users AS u GROUP BY u.email HAVING count(*) = 1) AS by_email
         ON by_id.id IS NULL AND by_email.email = c.email
UNION ALL
SELECT u.id, u.id, NULL
  FROM target_users AS u
 WHERE NOT EXISTS (SELECT FROM legacy_customers AS c WHERE c.id = u.id);
ALTER TABLE legacy_people ADD PRIMARY KEY (legacy_id);
-- An erased customer (erase_customer) comes back from no source: every row naming it is skipped.
-- (The tombstones copied first: on a cluster an UPDATE of a temporary table that reads a
-- distributed one is planned by Citus, which refuses format() over its columns.)
CREATE TEMP TABLE legacy_erased AS SELECT x.customer_id FROM loyalty.erased_customers AS x;
UPDATE legacy_people AS p
   SET user_id = NULL,
       reason = format('customer %s is user %s, who was erased (CustomerErased, LY019): nothing of it is imported',
                       p.legacy_id, p.user_id)
 WHERE p.user_id IN (SELECT e.customer_id FROM legacy_erased AS e);


-- name: customers_ranked
-- One customer per user: of the legacy customers rows of one user, the one whose id is the
-- user's is kept, else the one whose user_id names it, else the lowest id; the others merge in.
CREATE TEMP TABLE legacy_customers_ranked AS
SELECT c.*, p.user_id AS customer_user,
       row_number() OVER (PARTITION BY p.user_id
                          ORDER BY c.id = p.user_id DESC, c.user_id IS NOT DISTINCT FROM p.user_id DESC, c.id) AS rank,
       first_value(c.id) OVER (PARTITION BY p.user_id
                               ORDER BY c.id = p.user_id DESC, c.user_id IS NOT DISTINCT FROM p.user_id DESC, c.id) AS kept_id
  FROM legacy_customers AS c
  JOIN legacy_people AS p ON p.legacy_id = c.id
 WHERE p.user_id IS NOT NULL;
INSERT INTO legacy_report
SELECT 'customers', p.legacy_id::text, 'skipped', p.reason
  FROM legacy_people AS p WHERE p.reason IS NOT NULL;
INSERT INTO legacy_report
SELECT 'customers', r.id::text, 'merged',
       format('merged into customer %s (legacy customer %s): both are user %s', r.customer_user, r.kept_id, r.customer_user)
  FROM legacy_customers_ranked AS r WHERE r.rank > 1;

-- name: target_rows
-- The target's programs, businesses, enrollments, cards and relationships before this run adds any.
CREATE TEMP TABLE target_programs AS SELECT g.id, g.business_id FROM loyalty.loyalty_programs AS g;
CREATE TEMP TABLE target_businesses AS SELECT b.id FROM loyalty.businesses AS b;
CREATE TEMP TABLE target_enrollments AS SELECT e.customer_id, e.id FROM loyalty.program_enrollments AS e;
CREATE INDEX ON target_enrollments (id);
CREATE TEMP TABLE target_cards AS
SELECT k.customer_id, k.id, k.program_id, k.points_balance::integer AS points_balance FROM loyalty.loyalty_cards AS k;
CREATE INDEX ON target_cards (id);
-- The target's cards that are none of the source's (an approval made them): a legacy card of
-- the same (customer, program) is not imported over one (cards_resolved).
CREATE TEMP TABLE target_own_cards AS
SELECT t.customer_id, t.program_id, t.id FROM target_cards AS t
 WHERE NOT EXISTS (SELECT FROM legacy_cards AS o WHERE o.id = t.id AND o.program_id = t.program_id);
ALTER TABLE target_own_cards ADD PRIMARY KEY (customer_id, program_id);
CREATE TEMP TABLE target_relationships AS SELECT r.customer_id, r.id FROM loyalty.customer_business_relationships AS r;
CREATE INDEX ON target_relationships (id);

-- name: programs_resolved
-- A program's business must be a user; its status is ACTIVE only when both status and is_active
-- say so; negative welcome points (the card service ignored them) are none.
CREATE TEMP TABLE legacy_programs_resolved AS
SELECT l.*, pg_temp.legacy_active(l.status, l.is_active) AS active,
       CASE WHEN u.id IS NULL THEN format('its business %s is no user', l.business_id) END AS reason
  FROM legacy_programs AS l
  LEFT JOIN target_users AS u ON u.id = l.business_id;
INSERT INTO legacy_report
SELECT 'loyalty_programs', r.id::text, 'skipped', r.reason FROM legacy_programs_resolved AS r WHERE r.reason IS NOT NULL;
-- The programs the rest of the import may name: the target's and the ones imported now.
INSERT INTO target_programs
SELECT r.id, r.business_id FROM legacy_programs_resolved AS r
 WHERE r.reason IS NULL AND NOT EXISTS (SELECT FROM target_programs AS t WHERE t.id = r.id);
ALTER TABLE target_programs ADD PRIMARY KEY (id);


-- name: enrollments_resolved
-- Each enrollment's customer (through legacy_people) and program, or why it is skipped.
CREATE TEMP TABLE legacy_enrollments_resolved AS
SELECT e.*, p.user_id,
       CASE WHEN e.customer IS NULL THEN format('customer_id %L is not a number', e.customer_id)
            WHEN p.legacy_id IS NULL THEN format('customer %s is neither a customer nor a user', e.customer)
            WHEN p.user_id IS NULL THEN p.reason
            WHEN g.id IS NULL THEN format('program %s was not imported', e.program_id)
            -- Ids stay unique across customers: one a loyaltydb enrollment has is not taken.
            WHEN EXISTS (SELECT FROM target_enrollments AS t WHERE t.id = e.id AND t.customer_id <> p.user_id)
                THEN format('id %s is another customer''s enrollment in loyaltydb', e.id)
       END AS reason
  -- OFFSET 0 keeps the subquery apart, so each row's id is parsed once, not once a mention.
  FROM (SELECT l.*, pg_temp.legacy_id(l.customer_id) AS customer FROM legacy_enrollments AS l OFFSET 0) AS e
  LEFT JOIN legacy_people AS p ON p.legacy_id = e.customer
  LEFT JOIN target_programs AS g ON g.id = e.program_id;
INSERT INTO legacy_report
SELECT 'program_enrollments', r.id::text, 'skipped', r.reason FROM legacy_enrollments_resolved AS r WHERE r.reason IS NOT NULL;
-- Duplicates of one (customer, program) merge into the lowest id. Their points are copies, not
-- separate balances (docs/legacy.md): the kept enrollment has the largest of them.
CREATE TEMP TABLE legacy_enrollments_merged AS
SELECT min(r.id) AS id, r.user_id, r.program_id,
       bool_or(pg_temp.legacy_active(r.status, NULL)) AS active,
       max(coalesce(r.current_points, 0)) AS current_points,
       min(r.enrolled_at) AS enrolled_at, max(r.last_activity) AS last_activity
  FROM legacy_enrollments_resolved AS r
 WHERE r.reason IS NULL
 GROUP BY r.user_id, r.program_id;
INSERT INTO legacy_report
SELECT 'program_enrollments', r.id::text, 'merged',
       format('merged into enrollment %s (customer %s, program %s): its %s points are a copy of the kept %s',
              m.id, m.user_id, m.program_id, coalesce(r.current_points, 0), m.current_points)
  FROM legacy_enrollments_resolved AS r
  JOIN legacy_enrollments_merged AS m ON m.user_id = r.user_id AND m.program_id = r.program_id
 WHERE r.reason IS NULL AND r.id <> m.id;

-- name: cards_resolved
-- Each card's customer and program, or why it is skipped. A card whose (customer, program)
-- loyaltydb already gives a card of its own (an approval made it after an earlier run, or before
-- the first) is not imported, and its points are named in the report, never dropped unsaid: they
-- are the operator's to credit (docs/legacy.md). Its numbers still find that card (below).
CREATE TEMP TABLE legacy_cards_resolved AS
SELECT k.*, p.user_id, g.business_id AS program_business,
       -- A card's balance: the larger of its two columns (versions of the card service wrote one
       -- or the other, or both with the same figure), never their sum.
       greatest(coalesce(k.points, 0), coalesce(k.points_balance, 0)) AS balance,
       CASE WHEN p.legacy_id IS NULL THEN format('customer %s is neither a customer nor a user', k.customer_id)
            WHEN p.user_id IS NULL THEN p.reason
            WHEN g.id IS NULL THEN format('program %s was not imported', k.program_id)
            WHEN EXISTS (SELECT FROM target_cards AS t WHERE t.id = k.id AND t.customer_id <> p.user_id)
                THEN format('id %s is another customer''s card in loyaltydb', k.id)
            WHEN p.user_id NOT BETWEEN 0 AND 9999999999 AND pg_temp.legacy_card_number(k.id) IS NULL
                THEN format('no card number for card %s of customer %s: an id outside 0 to 99999999999999', k.id, p.user_id)
       END AS reason,
       own.id AS target_card
  FROM legacy_cards AS k
  LEFT JOIN legacy_people AS p ON p.legacy_id = k.customer_id
  LEFT JOIN target_programs AS g ON g.id = k.program_id
  LEFT JOIN target_own_cards AS own ON own.customer_id = p.user_id AND own.program_id = k.program_id;
-- A (customer, program) whose cards hold more points together than a card can (an integer):
-- each of its cards is skipped, named with the others and the total, not imported in part.
UPDATE legacy_cards_resolved AS r
   SET reason = format('cards %s of customer %s in program %s hold %s points together, more than a card holds (2147483647)',
                       o.cards, r.user_id, r.program_id, o.total)
  FROM (SELECT g.user_id, g.program_id, string_agg(g.id::text, ', ' ORDER BY g.id) AS cards, sum(g.balance) AS total
          FROM legacy_cards_resolved AS g
         WHERE g.reason IS NULL AND g.target_card IS NULL
         GROUP BY g.user_id, g.program_id
        HAVING sum(g.balance) > 2147483647) AS o
 WHERE r.reason IS NULL AND r.target_card IS NULL AND o.user_id = r.user_id AND o.program_id = r.program_id;
INSERT INTO legacy_report
SELECT 'loyalty_cards', r.id::text, 'skipped', r.reason FROM legacy_cards_resolved AS r WHERE r.reason IS NOT NULL;
INSERT INTO legacy_report
SELECT 'loyalty_cards', r.id::text, 'skipped',
       format('customer %s already has card %s in program %s in loyaltydb: this card''s %s points were not added to it'
              ' (credit them there if they are owed); its number finds card %s', r.user_id, r.target_card, r.program_id,
              r.balance, r.target_card)
  FROM legacy_cards_resolved AS r WHERE r.reason IS NULL AND r.target_card IS NOT NULL;
-- Duplicate cards of one (customer, program) merge into the lowest id; their balances add up
-- (each plastic card was scanned on its own), and every number stays an alias of the kept card.
CREATE TEMP TABLE legacy_cards_merged AS
SELECT min(r.id) AS id, r.user_id, r.program_id, min(r.program_business) AS business_id,
       sum(r.balance) AS points_balance,
       bool_or(pg_temp.legacy_active(r.status, r.is_active)) AS active,
       min(r.created_at) AS issued_at, max(r.updated_at) AS updated_at
  FROM legacy_cards_resolved AS r
 WHERE r.reason IS NULL AND r.target_card IS NULL
 GROUP BY r.user_id, r.program_id;
INSERT INTO legacy_report
SELECT 'loyalty_cards', r.id::text, 'merged',
       format('merged into card %s (customer %s, program %s): its %s points are in the kept card''s %s',
              m.id, m.user_id, m.program_id, r.balance, m.points_balance)
  FROM legacy_cards_resolved AS r
  JOIN legacy_cards_merged AS m ON m.user_id = r.user_id AND m.program_id = r.program_id
 WHERE r.reason IS NULL AND r.target_card IS NULL AND r.id <> m.id;

-- name: relationships_resolved
-- Each relationship's customer and business (both text ids in some databases), or why skipped.
CREATE TEMP TABLE legacy_relationships_resolved AS
SELECT l.*, p.user_id,
       CASE WHEN l.customer IS NULL THEN format('customer_id %L is not a number', l.customer_id)
            WHEN l.business IS NULL THEN format('business_id %L is not a number', l.business_id)
            WHEN p.legacy_id IS NULL THEN format('customer %s is neither a customer nor a user', l.customer)
            WHEN p.user_id IS NULL THEN p.reason
            WHEN b.id IS NULL THEN format('business %s is no user', l.business)
            WHEN EXISTS (SELECT FROM target_relationships AS t WHERE t.id = l.id AND t.customer_id <> p.user_id)
                THEN format('id %s is another customer''s relationship in loyaltydb', l.id)
       END AS reason
  FROM (SELECT r.*, pg_temp.legacy_id(r.customer_id) AS customer, pg_temp.legacy_id(r.business_id) AS business
          FROM legacy_relationships AS r OFFSET 0) AS l
  LEFT JOIN legacy_people AS p ON p.legacy_id = l.customer
  LEFT JOIN target_users AS b ON b.id = l.business;
INSERT INTO legacy_report
SELECT 'customer_business_relationships', r.id::text, 'skipped', r.reason
  FROM legacy_relationships_resolved AS r WHERE r.reason IS NOT NULL;
-- Two legacy customers of one user may each have had a relationship with the business: one row.
CREATE TEMP TABLE legacy_relationships_merged AS
SELECT min(r.id) AS id, r.user_id, r.business,
       bool_or(pg_temp.legacy_active(r.status, NULL)) AS active,
       min(r.created_at) AS created_at, max(r.updated_at) AS updated_at
  FROM legacy_relationships_resolved AS r
 WHERE r.reason IS NULL
 GROUP BY r.user_id, r.business;
INSERT INTO legacy_report
SELECT 'customer_business_relationships', r.id::text, 'merged',
       format('merged into relationship %s (customer %s, business %s)', m.id, m.user_id, m.business)
  FROM legacy_relationships_resolved AS r
  JOIN legacy_relationships_merged AS m ON m.user_id = r.user_id AND m.business = r.business
 WHERE r.reason IS NULL AND r.id <> m.id;

-- name: customers
-- The kept legacy customers, under their user's id, with their settings over the defaults (the
-- defaults of loyalty.customers' own columns, read through a row of a table LIKE it).
CREATE TEMP TABLE customer_defaults (LIKE loyalty.customers INCLUDING DEFAULTS);
INSERT INTO customer_defaults (id, user_id, name) VALUES (0, 0, '');
INSERT INTO loyalty.customers AS c (id, user_id, name, email, phone, notification_preferences, regional_settings,
                                    joined_at, created_at, updated_at)
SELECT r.customer_user, r.customer_user,
       coalesce(nullif(loyalty._trim_space(r.name), ''), loyalty._display_name(u.id, u.name, u.email)),
       coalesce(r.email, u.email), r.phone,
       d.notification_preferences
           || CASE WHEN jsonb_typeof(r.notification_preferences) = 'object' THEN r.notification_preferences ELSE '{}' END,
       d.regional_settings
           || CASE WHEN jsonb_typeof(r.regional_settings) = 'object' THEN r.regional_settings ELSE '{}' END,
       coalesce(r.joined_at, r.created_at, now()), coalesce(r.created_at, now()),
       coalesce(r.updated_at, r.created_at, now())
  FROM legacy_customers_ranked AS r
  JOIN target_users AS u ON u.id = r.customer_user
 CROSS JOIN customer_defaults AS d
 WHERE r.rank = 1
ON CONFLICT DO NOTHING;

-- name: customers_created
-- The replaced system's bug repaired: a user that an enrollment, card or relationship names
-- without a customers row becomes a customer as an approval makes one (loyalty._ensure_customer:
-- the same name, email and defaults), joined when its first such row was made.
CREATE TEMP TABLE legacy_customers_created AS
SELECT n.user_id, min(n.since) AS since, string_agg(DISTINCT n.what, ', ') AS named_by
  FROM (SELECT e.user_id, e.enrolled_at AS since, 'program_enrollments' AS what FROM legacy_enrollments_resolved AS e WHERE e.reason IS NULL
        UNION ALL
        SELECT k.user_id, k.created_at, 'loyalty_cards' FROM legacy_cards_resolved AS k WHERE k.reason IS NULL
        UNION ALL
        SELECT r.user_id, r.created_at, 'customer_business_relationships' FROM legacy_relationships_resolved AS r WHERE r.reason IS NULL
       ) AS n
 WHERE NOT EXISTS (SELECT FROM legacy_customers_ranked AS c WHERE c.customer_user = n.user_id)
 GROUP BY n.user_id;
INSERT INTO loyalty.customers AS c (id, user_id, name, email, joined_at, created_at, updated_at)
SELECT u.id, u.id, loyalty._display_name(u.id, u.name, u.email), u.email,
       coalesce(n.since, now()), coalesce(n.since, now()), coalesce(n.since, now())
  FROM legacy_customers_created AS n
  JOIN target_users AS u ON u.id = n.user_id
ON CONFLICT DO NOTHING;
INSERT INTO legacy_report
SELECT 'customers', n.user_id::text, 'created',
       format('created from user %s: %s named it without a customers row', n.user_id, n.named_by)
  FROM legacy_customers_created AS n;

-- name: businesses
-- Every business a program or relationship names, registered as loyalty.register_business
-- does (on one server the programs' trigger would; on a cluster nothing else does).
INSERT INTO loyalty.businesses AS b (id, name, email, updated_at)
SELECT u.id, u.name, u.email, coalesce(u.created_at, now())
  FROM target_users AS u
 WHERE (u.id IN (SELECT r.business_id FROM legacy_programs_resolved AS r WHERE r.reason IS NULL)
        OR u.id IN (SELECT r.business FROM legacy_relationships_merged AS r))
   AND NOT EXISTS (SELECT FROM target_businesses AS t WHERE t.id = u.id)
ON CONFLICT DO NOTHING;

-- name: programs
INSERT INTO loyalty.loyalty_programs AS g (id, business_id, name, description, status, welcome_points,
                                           created_at, updated_at)
SELECT r.id, r.business_id, r.name, r.description, CASE WHEN r.active THEN 'ACTIVE' ELSE 'INACTIVE' END,
       greatest(coalesce(r.welcome_points, 0), 0), coalesce(r.created_at, now()), coalesce(r.updated_at, r.created_at, now())
  FROM legacy_programs_resolved AS r
 WHERE r.reason IS NULL
ON CONFLICT DO NOTHING;

-- name: enrollments
-- An enrollment whose (customer, program) has a card carries that card's balance (contract
-- "Points": one figure in two places; the card is the truth, the replaced system's copies
-- disagreed). One without a card keeps its points, which become its card's OPENING row when an
-- approval makes the card.
INSERT INTO loyalty.program_enrollments AS e (id, customer_id, program_id, status, current_points, enrolled_at, updated_at)
SELECT m.id, m.user_id, m.program_id, CASE WHEN m.active THEN 'ACTIVE' ELSE 'INACTIVE' END,
       coalesce(c.points_balance::integer, t.points_balance, m.current_points),
       coalesce(m.enrolled_at, now()), coalesce(m.last_activity, m.enrolled_at, now())
  FROM legacy_enrollments_merged AS m
  LEFT JOIN legacy_cards_merged AS c ON c.user_id = m.user_id AND c.program_id = m.program_id
  LEFT JOIN target_cards AS t ON t.customer_id = m.user_id AND t.program_id = m.program_id
ON CONFLICT DO NOTHING;

-- name: cards
-- A kept card keeps its id and gets a loyaltydb number (with its check digit): the customer's
-- next ordinals after the cards it has, in the order of the legacy ids, so a run gives the same
-- numbers as any other run from the same state. The legacy numbers become aliases below.
INSERT INTO loyalty.loyalty_cards AS k (id, customer_id, program_id, business_id, card_number, status,
                                        points_balance, issued_at, updated_at)
SELECT m.id, m.user_id, m.program_id, m.business_id,
       coalesce(loyalty._card_number_for(m.user_id, coalesce(t.cards, 0)
                                         + row_number() OVER (PARTITION BY m.user_id ORDER BY m.id)),
                pg_temp.legacy_card_number(m.id)),
       CASE WHEN m.active THEN 'ACTIVE' ELSE 'INACTIVE' END, m.points_balance,
       coalesce(m.issued_at, now()), coalesce(m.updated_at, m.issued_at, now())
  FROM legacy_cards_merged AS m
  LEFT JOIN (SELECT c.customer_id, count(*) AS cards FROM target_cards AS c GROUP BY c.customer_id) AS t
         ON t.customer_id = m.user_id
 WHERE NOT EXISTS (SELECT FROM target_cards AS c WHERE c.customer_id = m.user_id AND c.id = m.id)
ON CONFLICT DO NOTHING;

-- name: final_cards
-- The cards and enrollments as they now are: what aliases and approved requests point to (a card
-- the target already had for the customer and program stands for the legacy ones).
CREATE TEMP TABLE final_cards AS SELECT k.customer_id, k.program_id, k.id, k.card_number FROM loyalty.loyalty_cards AS k;
ALTER TABLE final_cards ADD PRIMARY KEY (customer_id, program_id);
CREATE TEMP TABLE final_enrollments AS SELECT e.customer_id, e.program_id, e.id FROM loyalty.program_enrollments AS e;
ALTER TABLE final_enrollments ADD PRIMARY KEY (customer_id, program_id);
CREATE TEMP TABLE target_aliases AS SELECT a.card_number, a.customer_id, a.card_id FROM loyalty.card_aliases AS a;
-- Looked up by number once a legacy number: without it a second run compares every pair.
CREATE INDEX ON target_aliases (card_number);
CREATE INDEX ON final_cards (card_number);


-- name: card_ledger
-- Each card this run imported has its balance in the ledger: one IMPORT row (none for 0 points),
-- keyed, so that no run writes it twice.
INSERT INTO loyalty.point_transactions AS p (customer_id, card_id, program_id, business_id, points, reason,
                                             idempotency_key, balance_after)
SELECT m.user_id, m.id, m.program_id, m.business_id, m.points_balance, 'IMPORT', 'legacy-import', m.points_balance
  FROM legacy_cards_merged AS m
  JOIN final_cards AS f ON f.customer_id = m.user_id AND f.program_id = m.program_id AND f.id = m.id
 WHERE m.points_balance > 0
   AND NOT EXISTS (SELECT FROM target_cards AS t WHERE t.customer_id = m.user_id AND t.id = m.id)
ON CONFLICT DO NOTHING;

-- name: card_numbers_resolved
-- Every legacy number of a card that was imported (kept or merged) or stands for a card the
-- target had already, compared exactly. A number that two different cards carried stays with the
-- one of the lowest legacy id; a number the target already gives another card (or alias) is left
-- with that one. A number loyaltydb itself could issue (16 digits with a valid check digit: every
-- number it issues is one) is not kept: a card issued later would answer to it too.
CREATE TEMP TABLE legacy_numbers AS
SELECT r.card_number, r.id AS legacy_card_id, f.customer_id, f.id AS card_id,
       first_value(f.customer_id) OVER w AS first_customer, first_value(f.id) OVER w AS first_card,
       first_value(r.id) OVER w AS first_legacy,
       r.card_number ~ '^[0-9]{16}$' AND loyalty._card_number_is_valid(r.card_number) AS issuable
  FROM legacy_cards_resolved AS r
  JOIN final_cards AS f ON f.customer_id = r.user_id AND f.program_id = r.program_id
 WHERE r.reason IS NULL AND r.card_number <> ''
WINDOW w AS (PARTITION BY r.card_number ORDER BY r.id);
INSERT INTO legacy_report
SELECT 'card_numbers', n.legacy_card_id::text, 'skipped',
       CASE WHEN n.card_id <> n.first_card OR n.customer_id <> n.first_customer
            THEN format('card number %L is also carried by legacy card %s, which keeps it', n.card_number, n.first_legacy)
            WHEN n.issuable
            THEN format('card number %L is one loyaltydb issues (16 digits and a valid check digit): another card could get it', n.card_number)
            ELSE format('card number %L is already another card''s', n.card_number) END
  FROM legacy_numbers AS n
 WHERE n.card_id <> n.first_card OR n.customer_id <> n.first_customer OR n.issuable
    OR EXISTS (SELECT FROM final_cards AS f WHERE f.card_number = n.card_number)
    OR EXISTS (SELECT FROM target_aliases AS a WHERE a.card_number = n.card_number
                  AND (a.customer_id, a.card_id) <> (n.customer_id, n.card_id));
-- The same number on two legacy cards that became one card: one alias, the other row merged.
INSERT INTO legacy_report
SELECT 'card_numbers', n.legacy_card_id::text, 'merged',
       format('card number %L is also legacy card %s''s, and both are card %s now', n.card_number, n.first_legacy, n.card_id)
  FROM legacy_numbers AS n
 WHERE n.legacy_card_id <> n.first_legacy AND n.card_id = n.first_card AND n.customer_id = n.first_customer
   AND NOT n.issuable
   AND NOT EXISTS (SELECT FROM final_cards AS f WHERE f.card_number = n.card_number)
   AND NOT EXISTS (SELECT FROM target_aliases AS a WHERE a.card_number = n.card_number
                      AND (a.customer_id, a.card_id) <> (n.customer_id, n.card_id));

-- name: card_aliases
INSERT INTO loyalty.card_aliases AS a (customer_id, card_number, card_id, legacy_card_id)
SELECT n.customer_id, n.card_number, n.card_id, n.legacy_card_id
  FROM legacy_numbers AS n
 WHERE n.legacy_card_id = n.first_legacy AND NOT n.issuable
   AND NOT EXISTS (SELECT FROM final_cards AS f WHERE f.card_number = n.card_number)
   AND NOT EXISTS (SELECT FROM target_aliases AS t WHERE t.card_number = n.card_number)
ON CONFLICT DO NOTHING;

-- name: relationships
INSERT INTO loyalty.customer_business_relationships AS r (id, customer_id, business_id, status, created_at, updated_at)
SELECT m.id, m.user_id, m.business, CASE WHEN m.active THEN 'ACTIVE' ELSE 'INACTIVE' END,
       coalesce(m.created_at, now()), coalesce(m.updated_at, m.created_at, now())
  FROM legacy_relationships_merged AS m
ON CONFLICT DO NOTHING;

-- name: notifications_resolved
-- Notifications are history, each under its customer's user (no customers row is needed).
CREATE TEMP TABLE legacy_notifications_resolved AS
SELECT n.*, p.user_id,
       CASE WHEN p.legacy_id IS NULL THEN format('customer %s is neither a customer nor a user', n.customer_id)
            WHEN p.user_id IS NULL THEN p.reason
       END AS reason
  FROM legacy_notifications AS n
  LEFT JOIN legacy_people AS p ON p.legacy_id = n.customer_id;
INSERT INTO legacy_report
SELECT 'customer_notifications', r.id::text, 'skipped', r.reason
  FROM legacy_notifications_resolved AS r WHERE r.reason IS NOT NULL;

-- name: notifications
INSERT INTO loyalty.customer_notifications AS n (id, customer_id, business_id, type, title, message, data,
                                                 requires_action, action_taken, is_read, created_at, audience)
SELECT r.id, r.user_id, r.business_id, r.type, r.title, r.message, coalesce(r.data, '{}'),
       coalesce(r.requires_action, false), coalesce(r.action_taken, false), coalesce(r.is_read, false),
       coalesce(r.created_at, now()), 'CUSTOMER'
  FROM legacy_notifications_resolved AS r
 WHERE r.reason IS NULL
ON CONFLICT DO NOTHING;

-- name: requests_resolved
-- Enrollment requests only (the others, POINTS_DEDUCTION, are left out and counted). They were
-- the businesses' invitations: INVITATION, decided by the customer. The program decides the
-- business; a PENDING one already overdue is EXPIRED.
CREATE TEMP TABLE legacy_requests_resolved AS
SELECT q.*, p.user_id, g.id AS program_id, g.business_id AS program_business,
       upper(loyalty._trim_space(coalesce(q.request_type, ''))) = 'ENROLLMENT' AS enrollment,
       CASE WHEN upper(loyalty._trim_space(coalesce(q.status, 'PENDING'))) = 'PENDING' AND q.expires_at <= now()
            THEN 'EXPIRED' ELSE upper(loyalty._trim_space(coalesce(q.status, 'PENDING'))) END AS new_status,
       CASE WHEN p.legacy_id IS NULL THEN format('customer %s is neither a customer nor a user', q.customer_id)
            WHEN p.user_id IS NULL THEN p.reason
            WHEN q.program IS NULL THEN format('entity_id %L is not a program id', q.entity_id)
            WHEN g.id IS NULL THEN format('program %s was not imported', q.program)
            WHEN upper(loyalty._trim_space(coalesce(q.status, 'PENDING'))) NOT IN ('PENDING', 'APPROVED', 'REJECTED')
                THEN format('status %L is none of PENDING, APPROVED, REJECTED', q.status)
            WHEN loyalty._request_customer(q.id) <> p.user_id THEN format('its id names customer %s', loyalty._request_customer(q.id))
       END AS reason
  FROM (SELECT r.*, pg_temp.legacy_id(r.entity_id) AS program FROM legacy_requests AS r OFFSET 0) AS q
  LEFT JOIN legacy_people AS p ON p.legacy_id = q.customer_id
  LEFT JOIN target_programs AS g ON g.id = q.program;
INSERT INTO legacy_report
SELECT 'customer_approval_requests', r.id::text, 'skipped', r.reason
  FROM legacy_requests_resolved AS r WHERE r.enrollment AND r.reason IS NOT NULL;
-- One PENDING invitation per (customer, program), as loyaltydb keeps: the latest sent is kept.
CREATE TEMP TABLE legacy_requests_ranked AS
SELECT r.*,
       CASE WHEN r.new_status = 'PENDING'
            THEN row_number() OVER (PARTITION BY r.user_id, r.program_id, r.new_status = 'PENDING'
                                    ORDER BY r.requested_at DESC NULLS LAST, r.id DESC) ELSE 1 END AS rank,
       first_value(r.id) OVER (PARTITION BY r.user_id, r.program_id, r.new_status = 'PENDING'
                               ORDER BY r.requested_at DESC NULLS LAST, r.id DESC) AS kept_id
  FROM legacy_requests_resolved AS r
 WHERE r.enrollment AND r.reason IS NULL;
INSERT INTO legacy_report
SELECT 'customer_approval_requests', r.id::text, 'merged',
       format('merged into invitation %s, the latest pending one of customer %s for program %s', r.kept_id, r.user_id, r.program_id)
  FROM legacy_requests_ranked AS r WHERE r.rank > 1;

-- name: requests
-- An APPROVED request points at its customer's enrollment and card (the replay of its result);
-- its link to its notification is kept when that notification was imported for the same customer.
INSERT INTO loyalty.customer_approval_requests AS q (id, customer_id, program_id, business_id, status, kind,
                                                     notification_id, message, rejection_reason,
                                                     requested_at, response_at, expires_at,
                                                     enrollment_id, card_id, customer_created)
SELECT r.id, r.user_id, r.program_id, r.program_business, r.new_status, 'INVITATION',
       n.id,
       CASE WHEN jsonb_typeof(r.data -> 'message') = 'string' THEN r.data ->> 'message' END,
       CASE WHEN r.new_status = 'REJECTED' AND jsonb_typeof(r.data -> 'reason') = 'string' THEN r.data ->> 'reason' END,
       coalesce(r.requested_at, now()), r.response_at, r.expires_at,
       CASE WHEN r.new_status = 'APPROVED' THEN e.id END,
       CASE WHEN r.new_status = 'APPROVED' THEN k.id END,
       CASE WHEN r.new_status = 'APPROVED' THEN false END
  FROM legacy_requests_ranked AS r
  LEFT JOIN legacy_notifications_resolved AS n ON n.id = r.notification_id AND n.user_id = r.user_id AND n.reason IS NULL
  LEFT JOIN final_enrollments AS e ON e.customer_id = r.user_id AND e.program_id = r.program_id
  LEFT JOIN final_cards AS k ON k.customer_id = r.user_id AND k.program_id = r.program_id
 WHERE r.rank = 1
ON CONFLICT DO NOTHING;

-- name: deductions_resolved
-- The replaced system's PENDING POINTS_DEDUCTION requests become deduction requests (contract
-- "Deduction requests"); decided ones deducted nothing there and stay left out. Its rows say
-- nothing fixed of their amount and program, so each is taken from its data, never guessed: the
-- points from data.points, the program from data.program_id, else the one program of the
-- request's business in which the customer has a card; the reason from data.reason or
-- data.message. An overdue one is EXPIRED.
CREATE TEMP TABLE legacy_deductions_resolved AS
SELECT q.id, q.customer_id AS legacy_customer, q.notification_id, q.requested_at, q.expires_at, q.business_id,
       p.user_id, q.points,
       coalesce(q.program, (SELECT min(f.program_id) FROM final_cards AS f JOIN target_programs AS g ON g.id = f.program_id
                             WHERE f.customer_id = p.user_id AND g.business_id = q.business_id
                            HAVING count(*) = 1)) AS program_id,
       coalesce(nullif(loyalty._trim_space(q.data ->> 'reason'), ''), nullif(loyalty._trim_space(q.data ->> 'message'), ''),
                'a points deduction asked for in the replaced system') AS reason,
       CASE WHEN q.expires_at <= now() THEN 'EXPIRED' ELSE 'PENDING' END AS new_status
  FROM (SELECT r.*, pg_temp.legacy_id(r.data ->> 'program_id') AS program,
               CASE WHEN loyalty._trim_space(r.data ->> 'points') ~ '^[0-9]{1,9}$'
                    THEN loyalty._trim_space(r.data ->> 'points')::integer END AS points
          FROM legacy_requests AS r
         WHERE upper(loyalty._trim_space(coalesce(r.request_type, ''))) = 'POINTS_DEDUCTION'
           AND upper(loyalty._trim_space(coalesce(r.status, 'PENDING'))) = 'PENDING'
        OFFSET 0) AS q
  LEFT JOIN legacy_people AS p ON p.legacy_id = q.customer_id;
ALTER TABLE legacy_deductions_resolved ADD COLUMN reason_skipped text;
UPDATE legacy_deductions_resolved AS d
   SET reason_skipped = CASE
           WHEN d.user_id IS NULL THEN format('customer %s is neither a customer nor a user', d.legacy_customer)
           WHEN d.points IS NULL OR d.points = 0 THEN 'its data names no points (data.points, a positive integer)'
           WHEN d.program_id IS NULL THEN format('its data names no program, and business %s has no single program'
                                                 ' in which customer %s has a card', d.business_id, d.user_id)
           WHEN NOT EXISTS (SELECT FROM final_cards AS f WHERE f.customer_id = d.user_id AND f.program_id = d.program_id)
               THEN format('customer %s has no card in program %s', d.user_id, d.program_id)
           WHEN NOT EXISTS (SELECT FROM target_programs AS g WHERE g.id = d.program_id AND g.business_id = d.business_id)
               THEN format('program %s is not business %s''s', d.program_id, d.business_id)
       END;
INSERT INTO legacy_report
SELECT 'points_deductions', d.id::text, 'skipped', d.reason_skipped
  FROM legacy_deductions_resolved AS d WHERE d.reason_skipped IS NOT NULL;

-- name: deductions
INSERT INTO loyalty.points_deductions AS x (customer_id, id, program_id, business_id, card_id, points, reason, status,
                                            notification_id, requested_at, expires_at)
SELECT d.user_id, d.id, d.program_id, d.business_id, f.id, d.points, d.reason, d.new_status, n.id,
       coalesce(d.requested_at, now()), d.expires_at
  FROM legacy_deductions_resolved AS d
  JOIN final_cards AS f ON f.customer_id = d.user_id AND f.program_id = d.program_id
  LEFT JOIN legacy_notifications_resolved AS n ON n.id = d.notification_id AND n.user_id = d.user_id AND n.reason IS NULL
 WHERE d.reason_skipped IS NULL
ON CONFLICT DO NOTHING;
