-- Every card that breaks a ledger invariant, one row each (none on a healthy database): its
-- balance is not the sum of its ledger rows, or its enrollment's current_points is not its
-- balance, or (since 0036) what is left of its credits does not add up to its balance.
-- `loyaltydb status --check` fails when this returns a row.
CREATE OR REPLACE FUNCTION loyalty.verify_points()
RETURNS TABLE (customer_id bigint, program_id bigint, card_id bigint, points_balance integer, ledger_sum bigint,
               enrollment_points integer, problem text)
LANGUAGE sql STABLE
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.customer_id, k.program_id, k.id, k.points_balance, coalesce(s.total, 0), e.current_points,
           concat_ws('; ',
                     CASE WHEN k.points_balance <> coalesce(s.total, 0)
                          THEN format('balance %s is not the ledger''s sum %s', k.points_balance, coalesce(s.total, 0)) END,
                     CASE WHEN e.current_points IS DISTINCT FROM k.points_balance AND e.id IS NOT NULL
                          THEN format('the enrollment says %s points', e.current_points) END,
                     CASE WHEN k.points_balance <> coalesce(s.left_over, 0)
                          THEN format('what is left of its credits is %s', coalesce(s.left_over, 0)) END)
      FROM loyalty.loyalty_cards AS k
      LEFT JOIN (SELECT t.customer_id, t.card_id, sum(t.points) AS total,
                        sum(t.points - t.consumed) FILTER (WHERE t.points > 0) AS left_over
                   FROM loyalty.point_transactions AS t GROUP BY t.customer_id, t.card_id) AS s
             ON s.customer_id = k.customer_id AND s.card_id = k.id
      LEFT JOIN loyalty.program_enrollments AS e ON e.customer_id = k.customer_id AND e.program_id = k.program_id
     WHERE k.points_balance <> coalesce(s.total, 0)
        OR (e.id IS NOT NULL AND e.current_points IS DISTINCT FROM k.points_balance)
        OR k.points_balance <> coalesce(s.left_over, 0)
     ORDER BY k.customer_id, k.id
$$;
