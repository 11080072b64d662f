-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP FUNCTION loyalty.find_card(text);

DROP TABLE loyalty.card_aliases;
