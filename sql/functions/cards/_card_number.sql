-- A new card number, unique across workers by construction: '9', the customer id in 10 digits,
-- the customer's card ordinal in 4 digits, then the Luhn digit. The ordinal is one more than the
-- customer's cards, counted under a lock on the customer row (two of its programs approved at
-- once take turns). The old sequence's numbers start with 1, far below 9*10^14. Customer ids
-- outside 0..9,999,999,999 (or a 10,000th card) take the sequence on one server; on a cluster,
-- where the sequence is the coordinator's alone, they raise LY007.
CREATE OR REPLACE FUNCTION loyalty._card_number(p_customer_id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_ordinal integer;
    v_number  text;
BEGIN
    IF p_customer_id BETWEEN 0 AND 9999999999 THEN
        PERFORM FROM loyalty.customers AS c WHERE c.id = p_customer_id FOR NO KEY UPDATE;
        -- A replaced card used an ordinal for each number it had (0033): none is issued again.
        SELECT (count(*) + coalesce(sum(k.replacements), 0) + 1)::integer INTO v_ordinal
          FROM loyalty.loyalty_cards AS k WHERE k.customer_id = p_customer_id;
    END IF;
    LOOP
        IF v_ordinal IS NULL OR v_ordinal > 9999 THEN
            IF loyalty._distributed() THEN
                RAISE EXCEPTION USING
                    ERRCODE = 'LY007',
                    MESSAGE = format('No card number for customer %s: on a cluster card numbers need customer ids '
                                     'from 0 to 9999999999 and at most 9999 cards a customer', p_customer_id);
            END IF;
            RETURN loyalty._next_card_number();
        END IF;
        v_number := loyalty._card_number_for(p_customer_id, v_ordinal);
        -- A number a card has already (imported, or a deleted card's successor) is skipped: on
        -- one server every card is checked; on a cluster, where no index spans the workers, the
        -- customer's own cards.
        EXIT WHEN NOT EXISTS (SELECT FROM loyalty.loyalty_cards AS k
                               WHERE k.card_number = v_number
                                 AND (NOT loyalty._distributed() OR k.customer_id = p_customer_id));
        v_ordinal := v_ordinal + 1;
    END LOOP;
    RETURN v_number;
END;
$$;
