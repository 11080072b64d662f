-- What every redemption change does besides its own update (contract "Rewards"): the customer
-- told by name, the business too when it did not make the change itself (a redemption, or a
-- customer's cancellation), and the event, in the caller's transaction. p_event is
-- reward.redeemed, redemption.fulfilled or redemption.cancelled; p_balance_after is the card's
-- balance after the REDEEM or REFUND row (NULL for a fulfilment); p_by who cancelled.
-- Returns the redemption.
CREATE OR REPLACE FUNCTION loyalty._redemption_changed(
    p_customer_id   bigint,
    p_redemption_id uuid,
    p_event         text,
    p_balance_after bigint,
    p_by            text DEFAULT NULL
)
RETURNS loyalty.redemption_details
LANGUAGE plpgsql
SET enable_seqscan = off
AS $$
DECLARE
    v_done     loyalty.redemption_details := loyalty._redemption_details(p_customer_id, p_redemption_id);
    v_program  loyalty._program_info := loyalty._program_info(v_done.program_id);
    v_customer record;
    v_data     jsonb;
    v_told     loyalty._notice;
    v_business loyalty._notice;
BEGIN
    SELECT c.name, c.notification_preferences INTO v_customer FROM loyalty.customers AS c WHERE c.id = p_customer_id;
    v_data := jsonb_strip_nulls(jsonb_build_object(
        'customer_name', v_customer.name, 'program_name', v_program.name, 'business_name', v_program.business_name,
        'reward_name', v_done.reward_name, 'redemption_id', v_done.redemption_id, 'reward_id', v_done.reward_id,
        'program_id', v_done.program_id, 'card_id', v_done.card_id, 'code', v_done.code, 'points', v_done.points,
        'balance_after', p_balance_after, 'cancelled_by', p_by));

    IF p_event = 'reward.redeemed' THEN
        v_told := ROW('REWARD_REDEEMED', format('You redeemed %s at %s', v_done.reward_name, v_program.name),
                      format('Show code %s at %s to get %s. %s points were deducted from your %s card; your balance '
                             'is %s points.', v_done.code, v_program.business_name, v_done.reward_name, v_done.points,
                             v_program.name, p_balance_after));
        v_business := ROW('REWARD_REDEEMED', format('%s redeemed %s', v_customer.name, v_done.reward_name),
                          format('%s redeemed %s for %s points of %s; code %s.', v_customer.name, v_done.reward_name,
                                 v_done.points, v_program.name, v_done.code));
    ELSIF p_event = 'redemption.fulfilled' THEN
        v_told := ROW('REDEMPTION_FULFILLED', format('Enjoy your %s', v_done.reward_name),
                      format('%s handed over %s (code %s).', v_program.business_name, v_done.reward_name,
                             v_done.code));
    ELSE
        v_told := ROW('REDEMPTION_CANCELLED', format('Your %s redemption was cancelled', v_done.reward_name),
                      format('%s%s points were refunded to your %s card; your balance is %s points.',
                             CASE WHEN p_by = 'BUSINESS' THEN v_program.business_name || ' cancelled it. ' END,
                             v_done.points, v_program.name, p_balance_after));
        IF p_by = 'CUSTOMER' THEN
            v_business := ROW('REDEMPTION_CANCELLED',
                              format('%s cancelled their %s redemption', v_customer.name, v_done.reward_name),
                              format('%s cancelled the redemption of %s (code %s); its %s points were refunded.',
                                     v_customer.name, v_done.reward_name, v_done.code, v_done.points));
        END IF;
    END IF;
    INSERT INTO loyalty.customer_notifications (customer_id, business_id, type, title, message, data, card_id)
    VALUES (p_customer_id, v_program.business_id, v_told.type, v_told.title, v_told.message, v_data, v_done.card_id);
    -- The business hears of what the customer did, on the customer's shard (one hop).
    IF v_business.type IS NOT NULL THEN
        INSERT INTO loyalty.customer_notifications (customer_id, business_id, audience, type, title, message, data,
                                                    card_id)
        VALUES (p_customer_id, v_program.business_id, 'BUSINESS', v_business.type, v_business.title,
                v_business.message, v_data, v_done.card_id);
    END IF;

    INSERT INTO loyalty.events (customer_id, business_id, type, payload)
    VALUES (p_customer_id, v_program.business_id, p_event,
            v_data || jsonb_build_object('channels',
                                         loyalty._event_channels(v_customer.notification_preferences, 'rewards')));
    RETURN v_done;
END;
$$;
