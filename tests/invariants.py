"""The invariants of a loyaltydb database, as queries that count violations: one place for the
race tests, the fault tests and the stress run (``make stress``)."""

from __future__ import annotations

from typing import Any

import psycopg

#: Name -> a query counting the rows that break it (``%(first_user)s``: only users from there on).
#: Every join holds the customer id, so the queries run on a Citus cluster too.
INVARIANTS = {
    "approved requests missing customer, active enrollment or card": """
        SELECT count(*) FROM loyalty.customer_approval_requests AS r
         WHERE r.status = 'APPROVED' AND r.customer_id >= %(first_user)s AND NOT (
               EXISTS (SELECT FROM loyalty.customers AS c WHERE c.id = r.customer_id)
           AND EXISTS (SELECT FROM loyalty.program_enrollments AS e WHERE e.customer_id = r.customer_id
                          AND e.program_id = r.program_id AND e.status = 'ACTIVE')
           AND EXISTS (SELECT FROM loyalty.loyalty_cards AS k WHERE k.customer_id = r.customer_id
                          AND k.program_id = r.program_id))""",
    "cards without customer": """
        SELECT count(*) FROM loyalty.loyalty_cards AS k
         WHERE NOT EXISTS (SELECT FROM loyalty.customers AS c WHERE c.id = k.customer_id)""",
    "(customer, program) pairs with more than one enrollment": """
        SELECT count(*) FROM (SELECT FROM loyalty.program_enrollments
                               GROUP BY customer_id, program_id HAVING count(*) > 1) AS duplicates""",
    "(customer, program) pairs with more than one card": """
        SELECT count(*) FROM (SELECT FROM loyalty.loyalty_cards
                               GROUP BY customer_id, program_id HAVING count(*) > 1) AS duplicates""",
    "cards without exactly one CARD_CREATED notification": """
        SELECT count(*) FROM loyalty.loyalty_cards AS k
          LEFT JOIN (SELECT n.customer_id, n.card_id, count(*) AS notices FROM loyalty.customer_notifications AS n
                      WHERE n.type = 'CARD_CREATED' GROUP BY n.customer_id, n.card_id) AS n
            ON n.customer_id = k.customer_id AND n.card_id = k.id
         WHERE coalesce(n.notices, 0) <> 1""",
}


def violations(conn: psycopg.Connection[Any], first_user: int = -(2**63)) -> dict[str, int]:
    """Violations per invariant, all zero in a correct database; commits the read."""
    found = {}
    for name, query in INVARIANTS.items():
        row = conn.execute(query, {"first_user": first_user}).fetchone()
        found[name] = int(row[0]) if row else -1
    conn.commit()
    return found
