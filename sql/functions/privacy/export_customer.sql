-- Everything loyaltydb holds about a customer, as one jsonb document (contract "Personal data"):
-- the user and customer rows, enrollments, cards with their numbers and legacy aliases,
-- relationships, the ledger, redemptions, requests and invitations (messages included),
-- deduction requests, the notifications of either feed kept with them, and their events. Each
-- list is ordered by id. An id that is no user and no customer is UserNotFound (LY003). For the
-- loyalty_privacy role; on a cluster one hop (everything of a customer is on their worker).
CREATE OR REPLACE FUNCTION loyalty.export_customer(p_customer_id bigint)
RETURNS jsonb
LANGUAGE plpgsql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET enable_seqscan = off
AS $$
DECLARE
    v_document jsonb;
BEGIN
    IF p_customer_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', MESSAGE = 'customer_id must not be NULL';
    END IF;
    SELECT jsonb_build_object(
               'customer_id', p_customer_id,
               'exported_at', now(),
               'user', (SELECT to_jsonb(u) FROM loyalty.users AS u WHERE u.id = p_customer_id),
               'customer', (SELECT to_jsonb(c) FROM loyalty.customers AS c WHERE c.id = p_customer_id),
               'erased', (SELECT to_jsonb(x) FROM loyalty.erased_customers AS x WHERE x.customer_id = p_customer_id),
               'enrollments', (SELECT coalesce(jsonb_agg(to_jsonb(e) ORDER BY e.id), '[]')
                                 FROM loyalty.program_enrollments AS e WHERE e.customer_id = p_customer_id),
               'cards', (SELECT coalesce(jsonb_agg(to_jsonb(k) ORDER BY k.id), '[]')
                           FROM loyalty.loyalty_cards AS k WHERE k.customer_id = p_customer_id),
               'card_aliases', (SELECT coalesce(jsonb_agg(to_jsonb(a) ORDER BY a.card_number), '[]')
                                  FROM loyalty.card_aliases AS a WHERE a.customer_id = p_customer_id),
               'relationships', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.id), '[]')
                                   FROM loyalty.customer_business_relationships AS r WHERE r.customer_id = p_customer_id),
               'ledger', (SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]')
                            FROM loyalty.point_transactions AS t WHERE t.customer_id = p_customer_id),
               'redemptions', (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.created_at, d.id), '[]')
                                 FROM loyalty.redemptions AS d WHERE d.customer_id = p_customer_id),
               'requests', (SELECT coalesce(jsonb_agg(to_jsonb(r) ORDER BY r.requested_at, r.id), '[]')
                              FROM loyalty.customer_approval_requests AS r WHERE r.customer_id = p_customer_id),
               'deduction_requests', (SELECT coalesce(jsonb_agg(to_jsonb(d) ORDER BY d.requested_at, d.id), '[]')
                                        FROM loyalty.points_deductions AS d WHERE d.customer_id = p_customer_id),
               'notifications', (SELECT coalesce(jsonb_agg(to_jsonb(n) ORDER BY n.created_at, n.id), '[]')
                                   FROM loyalty.customer_notifications AS n WHERE n.customer_id = p_customer_id),
               'events', (SELECT coalesce(jsonb_agg(to_jsonb(v) ORDER BY v.id), '[]')
                            FROM loyalty.events AS v WHERE v.customer_id = p_customer_id))
      INTO v_document;
    IF v_document -> 'user' = 'null'::jsonb AND v_document -> 'customer' = 'null'::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'LY003',
            MESSAGE = format('No user or customer %s: nothing is held about that id', p_customer_id);
    END IF;
    RETURN v_document;
END;
$$;
