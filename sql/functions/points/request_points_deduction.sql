-- A business asks to deduct p_points from the customer's card in its program (the replaced
-- system's POINTS_DEDUCTION, which never deducted anything): the customer is told by name, with
-- a notification that requires action, and answers with answer_points_deduction before the
-- program's request_ttl runs out. Nothing is deducted yet. The id carries the customer (as a
-- request's does), so the answer is one hop on a cluster. Errors: 22023 (points, reason), LY004,
-- LY005, LY006 (another business's program), LY008 (a reason over 1,000 characters), LY012.
CREATE OR REPLACE FUNCTION loyalty.request_points_deduction(
    p_business_id bigint,
    p_customer_id bigint,
    p_program_id  bigint,
    p_points      integer,
    p_reason      text
)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_program     loyalty._program_info;
    v_card_id     bigint;
    v_customer    record;
    v_id          uuid := loyalty._request_id(p_customer_id);
    v_notified    uuid;
BEGIN
    PERFORM loyalty._check_points(p_points, 'points', false);
    IF p_reason IS NULL OR loyalty._trim_space(p_reason) = '' THEN
        RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'a deduction needs a reason the customer reads, not none';
    ELSIF length(p_reason) > 1000 THEN
        RAISE EXCEPTION USING ERRCODE = 'LY008',
            MESSAGE = format('A reason is at most 1000 characters, not %s', length(p_reason));
    END IF;
    v_program := loyalty._program_info(p_program_id);
    IF v_program.id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY004', MESSAGE = format('Loyalty program not found: %s', p_program_id);
    ELSIF p_business_id IS DISTINCT FROM v_program.business_id THEN
        RAISE EXCEPTION USING ERRCODE = 'LY006',
            MESSAGE = format('Business %s may not ask for points of program %s: it is another business''s',
                             p_business_id, p_program_id);
    ELSIF v_program.status <> 'ACTIVE' THEN
        RAISE EXCEPTION USING ERRCODE = 'LY005',
            MESSAGE = format('Loyalty program "%s" is not active (status %s)', v_program.name, v_program.status);
    END IF;
    PERFORM loyalty._refuse_erased(p_customer_id);  -- 0041: nothing is asked of an erased customer
    SELECT k.id INTO v_card_id FROM loyalty.loyalty_cards AS k
     WHERE k.customer_id = p_customer_id AND k.program_id = p_program_id;
    IF v_card_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'LY012',
            MESSAGE = format('Customer %s has no card in program %s', p_customer_id, p_program_id);
    END IF;
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;

    INSERT INTO loyalty.customer_notifications AS n
           (customer_id, business_id, type, title, message, data, requires_action, card_id)
    VALUES (p_customer_id, p_business_id, 'POINTS_DEDUCTION_REQUEST',
            format('%s asks to deduct %s points', v_program.business_name, p_points),
            format('%s would like to deduct %s points from your %s card: %s. Do you agree?',
                   v_program.business_name, p_points, v_program.name, p_reason),
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', v_id, 'points', p_points,
                               'reason', p_reason, 'card_id', v_card_id),
            true, v_card_id)
    RETURNING n.id INTO v_notified;
    INSERT INTO loyalty.points_deductions (customer_id, id, program_id, business_id, card_id, points, reason,
                                           notification_id, expires_at)
    VALUES (p_customer_id, v_id, p_program_id, p_business_id, v_card_id, p_points, p_reason, v_notified,
            now() + v_program.request_ttl);
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, p_business_id, 'points.deduction_requested',
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_program.name,
                               'business_name', v_program.business_name, 'request_id', v_id,
                               'program_id', p_program_id, 'card_id', v_card_id, 'points', p_points,
                               'reason', p_reason,
                               'channels', loyalty._event_channels(v_customer.notification_preferences, 'system')));
    RETURN v_id;
END;
$$;
