-- What every card lifecycle change does besides its own update (contract "Card lifecycle"): the
-- customer's notification (or, for p_audience 'BUSINESS', the business's), by name, and the
-- event, in the caller's transaction; returns the card as card_details. p_title and p_message are
-- format() strings of the customer's name (%1$s), the program's (%2$s), the business's (%3$s) and
-- p_detail (%4$s: a reason, a number), so no name or reason is read as a format. p_extra adds
-- to the notification's data and the event's payload.
CREATE OR REPLACE FUNCTION loyalty._card_changed(
    p_customer_id bigint,
    p_card_id     bigint,
    p_event       text,
    p_audience    text,
    p_type        text,
    p_title       text,
    p_message     text,
    p_detail      text,
    p_extra       jsonb
)
RETURNS loyalty.card_details
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_card     loyalty.card_details;
    v_customer record;
BEGIN
    SELECT d.* INTO v_card FROM loyalty.card_details AS d WHERE d.customer_id = p_customer_id AND d.id = p_card_id;
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data, card_id)
    VALUES (p_customer_id, v_card.business_id, p_audience, p_type,
            format(p_title, v_customer.name, v_card.program_name, v_card.business_name, p_detail),
            format(p_message, v_customer.name, v_card.program_name, v_card.business_name, p_detail),
            jsonb_build_object('customer_name', v_customer.name, 'program_name', v_card.program_name,
                               'business_name', v_card.business_name, 'card_id', v_card.id) || p_extra,
            v_card.id);
    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_card.business_id, p_event,
            jsonb_strip_nulls(jsonb_build_object(
                'customer_name', v_customer.name, 'program_name', v_card.program_name,
                'business_name', v_card.business_name, 'program_id', v_card.program_id, 'card_id', v_card.id,
                'card_number', v_card.card_number,
                'channels', CASE WHEN p_audience = 'CUSTOMER'
                                 THEN loyalty._event_channels(v_customer.notification_preferences, 'system') END)
                || p_extra));
    RETURN v_card;
END;
$$;
