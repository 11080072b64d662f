-- The current snapshot as a position to store: pg_current_snapshot(), except that the caller's
-- own transaction counts as still in progress. pg_current_snapshot() leaves a transaction's own
-- xid out of its list of transactions in progress, so a position stored by a transaction that
-- goes on to write events (a consumer that fetches, approves and acks in one transaction) would
-- count those events as seen, and no later fetch would queue them (issue 27). The own xid is
-- added to that list (and xmin lowered to it) when it is below xmax; at or above xmax it already
-- counts as not yet committed.
CREATE OR REPLACE FUNCTION loyalty._position_now()
RETURNS pg_snapshot
LANGUAGE sql VOLATILE
AS $$
    SELECT CASE WHEN c.me IS NULL OR c.me >= pg_snapshot_xmax(c.now) THEN c.now
                ELSE format('%s:%s:%s', least(pg_snapshot_xmin(c.now), c.me), pg_snapshot_xmax(c.now),
                            (SELECT string_agg(x.xid::text, ',' ORDER BY x.xid)
                               FROM (SELECT pg_snapshot_xip(c.now) UNION SELECT c.me) AS x(xid)))::pg_snapshot
           END
      FROM (SELECT pg_current_snapshot() AS now, pg_current_xact_id_if_assigned() AS me) AS c
$$;
