-- Forget a customer (contract "Personal data"), in ONE transaction under the lock of their user
-- row (no other customer's row is locked): their name, email and phone go from the user and the
-- customer (renamed "Erased customer", settings back to the defaults); no notification of either
-- feed, no event (acknowledged or not) keeps a name, an email or a card number (_erased_json);
-- request, invitation and deduction messages, ledger references and notes, a block's reason are
-- cleared; the cards get numbers nothing issues ('7', the card id, a Luhn digit) and lose their
-- legacy aliases, so the old numbers find nothing; cards, enrollments and relationships become
-- INACTIVE. Ids, amounts, dates and statuses stay for the accounts. A loyalty.erased_customers row
-- (who asked, when) then makes every later write for that id CustomerErased (LY019), and one
-- customer.erased event carries ids only. Returns, for each table, how many rows it changed;
-- erasing again changes nothing and returns zeros. For the loyalty_privacy role.
CREATE OR REPLACE FUNCTION loyalty.erase_customer(p_customer_id bigint, p_requested_by text)
RETURNS TABLE (table_name text, rows_changed integer)
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    c_tables constant text[] := ARRAY['users', 'customers', 'program_enrollments', 'loyalty_cards', 'card_aliases',
                                      'customer_business_relationships', 'point_transactions',
                                      'customer_approval_requests', 'points_deductions', 'customer_notifications',
                                      'events', 'erased_customers'];
    v_counts integer[] := array_fill(0, ARRAY[12]);
    v_user   boolean;
    v_n      integer;
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id must not be NULL';
    ELSIF p_requested_by IS NULL OR length(loyalty._trim_space(p_requested_by)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = 'requested_by must say who asked for the erasure (1 to 200 characters)';
    END IF;
    -- The user's row lock serialises erasures of one customer with each other and with the
    -- creation of their customer row (which takes it KEY SHARE).
    PERFORM FROM loyalty.users AS u WHERE u.id = p_customer_id FOR UPDATE;
    v_user := FOUND;
    IF EXISTS (SELECT FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id) THEN
        RETURN QUERY SELECT t.name, 0 FROM unnest(c_tables) AS t (name);
        RETURN;
    END IF;
    IF NOT v_user AND NOT EXISTS (SELECT FROM loyalty.customers AS c WHERE c.id = p_customer_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'LY003',
            MESSAGE = format('No user or customer %s: nothing to erase', p_customer_id);
    END IF;

    UPDATE loyalty.users AS u SET name = NULL, email = NULL WHERE u.id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[1] := v_n;
    UPDATE loyalty.customers AS c
       SET name = 'Erased customer', email = NULL, phone = NULL, notification_preferences = DEFAULT,
           regional_settings = DEFAULT, updated_at = now()
     WHERE c.id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[2] := v_n;
    UPDATE loyalty.program_enrollments AS e SET status = 'INACTIVE', updated_at = now()
     WHERE e.customer_id = p_customer_id AND e.status <> 'INACTIVE';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[3] := v_n;
    -- A number from a range nothing issues (loyaltydb's start with 1, 8 or 9), unique as the id.
    UPDATE loyalty.loyalty_cards AS k
       SET status = 'INACTIVE', blocked_reason = NULL, updated_at = now(),
           card_number = '7' || lpad(k.id::text, 18, '0') || loyalty._luhn_check_digit('7' || lpad(k.id::text, 18, '0'))
     WHERE k.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[4] := v_n;
    DELETE FROM loyalty.card_aliases AS a WHERE a.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[5] := v_n;
    UPDATE loyalty.customer_business_relationships AS r SET status = 'INACTIVE', updated_at = now()
     WHERE r.customer_id = p_customer_id AND r.status <> 'INACTIVE';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[6] := v_n;
    UPDATE loyalty.point_transactions AS t SET reference = NULL, note = NULL
     WHERE t.customer_id = p_customer_id AND (t.reference IS NOT NULL OR t.note IS NOT NULL);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[7] := v_n;
    UPDATE loyalty.customer_approval_requests AS r SET message = NULL, rejection_reason = NULL
     WHERE r.customer_id = p_customer_id AND (r.message IS NOT NULL OR r.rejection_reason IS NOT NULL);
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[8] := v_n;
    UPDATE loyalty.points_deductions AS d SET reason = ''
     WHERE d.customer_id = p_customer_id AND d.reason <> '';
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[9] := v_n;
    UPDATE loyalty.customer_notifications AS n
       SET title = 'Erased', message = 'This notification concerned a customer whose data was erased.',
           data = loyalty._erased_json(n.data)
     WHERE n.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[10] := v_n;
    UPDATE loyalty.events AS v SET payload = loyalty._erased_json(v.payload) WHERE v.customer_id = p_customer_id;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    v_counts[11] := v_n;
    INSERT INTO loyalty.erased_customers (customer_id, requested_by) VALUES (p_customer_id, p_requested_by);
    v_counts[12] := 1;
    INSERT INTO loyalty.events (customer_id, type, payload)
    VALUES (p_customer_id, 'customer.erased', jsonb_build_object('customer_id', p_customer_id));
    RETURN QUERY SELECT t.name, v_counts[t.n::integer] FROM unnest(c_tables) WITH ORDINALITY AS t (name, n);
END;
$$;
