DROP FUNCTION loyalty.ensure_customer_exists(bigint), loyalty.ensure_customer(bigint);

DROP TYPE loyalty.customer_result;

DROP FUNCTION loyalty.display_name(bigint, text, text, text), loyalty.trim_space(text);
