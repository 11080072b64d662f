ALTER TABLE loyalty.customer_notifications DROP COLUMN card_id;

DROP TABLE loyalty.customer_business_relationships, loyalty.loyalty_cards, loyalty.program_enrollments;
