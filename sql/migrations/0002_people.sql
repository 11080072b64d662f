-- People: users (identities that exist before anyone is a customer) and customers.
-- depends: 0001_schema

CREATE TABLE loyalty.users (
    id         bigint PRIMARY KEY,
    name       text,
    email      text,
    created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE loyalty.users IS 'Identities; id is the application''s own user id. Businesses are users too.';

CREATE TABLE loyalty.customers (
    id                       bigint PRIMARY KEY,
    user_id                  bigint NOT NULL
        CONSTRAINT customers_user_id_key UNIQUE
        CONSTRAINT customers_user_id_fkey REFERENCES loyalty.users (id),
    name                     text NOT NULL,
    email                    text,
    phone                    text,
    notification_preferences jsonb NOT NULL DEFAULT
        '{"email": true, "push": true, "sms": false, "promotions": true, "rewards": true, "system": true}',
    regional_settings        jsonb NOT NULL DEFAULT
        '{"language": "en", "country": "United States", "currency": "USD", "timezone": "UTC"}',
    joined_at                timestamptz NOT NULL DEFAULT now(),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    -- A customer is its user: one id for both, so no lookup table is ever needed.
    CONSTRAINT customers_id_is_user_id CHECK (id = user_id)
);

COMMENT ON TABLE loyalty.customers IS 'Customers; id = user_id, created from users on first approval.';
