-- The events whose transactions committed between two positions: visible in p_to and not in
-- p_from (transactions below p_from's xmin were all visible to it, so only the ones above are
-- looked at, through events_xid_idx). The one statement of "never skipped", for fetch_events
-- and for `loyaltydb events tail` as an observer. Inlined into its caller (SQL, STABLE).
CREATE OR REPLACE FUNCTION loyalty._events_between(p_from pg_snapshot, p_to pg_snapshot)
RETURNS SETOF loyalty.events
LANGUAGE sql STABLE
AS $$
    SELECT e.*
      FROM loyalty.events AS e
     WHERE e.xid >= pg_snapshot_xmin(p_from)
       AND NOT pg_visible_in_snapshot(e.xid, p_from)
       AND pg_visible_in_snapshot(e.xid, p_to)
$$;
