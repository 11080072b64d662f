-- Objects created from here on belong to loyalty_owner (see 0008_roles).
SET LOCAL ROLE loyalty_owner;

DROP TYPE loyalty.event;
DROP TABLE loyalty.event_deliveries;
DROP TABLE loyalty.event_consumers;
DROP TABLE loyalty.events;
