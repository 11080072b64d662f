-- The loyalty schema: every loyaltydb object lives here, nothing in public.
CREATE SCHEMA loyalty;

COMMENT ON SCHEMA loyalty IS 'loyaltydb: customer loyalty programs (tables, enrollment functions).';
