"""Legacy source databases for the import's tests and benchmark: the replaced system's tables
from the project's own fixture, ``tests/fixtures/legacy_schema.sql`` (written from the facts
gathered about that system), filled with rows of our own that carry every quirk its header lists.
A clone of the repository alone has everything these tests read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

#: The replaced system's tables: the project's own fixture, inside the repository.
SCHEMA_SQL = Path(__file__).resolve().parent / "fixtures" / "legacy_schema.sql"

#: The legacy tables, in an order that rows can be inserted in.
LEGACY_TABLES = (
    "users",
    "customers",
    "loyalty_programs",
    "customer_notifications",
    "customer_approval_requests",
    "program_enrollments",
    "loyalty_cards",
    "customer_business_relationships",
)


def create_legacy_tables(conn: psycopg.Connection[Any], schema: str = "public", *, integer_ids: bool = False) -> None:
    """The replaced system's tables in ``schema`` (created when missing), from the fixture; with
    ``integer_ids``, the variant whose later script made the text ids INTEGER and added the
    unique key on enrollments."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
    conn.execute(SCHEMA_SQL.read_text())  # a trusted file of DDL
    if integer_ids:
        conn.execute(
            "ALTER TABLE program_enrollments ALTER customer_id TYPE integer USING customer_id::integer;"
            " ALTER TABLE program_enrollments ADD UNIQUE (customer_id, program_id);"
            " ALTER TABLE customer_business_relationships ALTER customer_id TYPE integer USING customer_id::integer,"
            " ALTER business_id TYPE integer USING business_id::integer"
        )
    conn.execute("RESET search_path")
    conn.commit()


def uuid(n: int) -> str:
    """A fixed random-looking (version 4) uuid: the replaced system's ids are gen_random_uuid()'s."""
    return f"{n:08x}-0000-4000-8000-{n:012x}"


#: Timestamps of the quirky world: far in the past and future, so "overdue" never changes.
PAST, FUTURE = "2024-01-01 12:00:00+00", "2099-01-01 00:00:00+00"


def fill_quirks(conn: psycopg.Connection[Any], schema: str = "public", *, text_garbage: bool = True) -> None:
    """Rows with every quirk of schema.sql's header (docs/legacy.md names what each becomes):
    business display names, customers whose id is not their user's or who have no user_id,
    duplicates, rows naming customers that were never created or users that do not exist,
    text ids with spaces or garbage (``text_garbage``; an INTEGER variant cannot hold them), the
    three card number formats, lower-case statuses, invitations pending, overdue and decided,
    and a request that is no enrollment."""
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
    at = PAST
    conn.execute(
        "INSERT INTO users (id, name, email, user_type, business_name, created_at) VALUES"
        " (1, 'Jane Owner', 'jane@bean.example', 'business', 'Bean There Coffee', %(at)s),"
        " (2, 'Bob''s Books', 'bob@books.example', 'business', NULL, %(at)s),"
        " (10, 'John Smith', 'john.smith@example.com', 'customer', NULL, %(at)s),"
        " (11, '  ', 'mary.jones@example.com', 'customer', NULL, %(at)s),"
        " (12, 'Pat Kim', 'pat@example.com', 'customer', NULL, %(at)s),"
        " (13, '', 'ann.lee@example.com', 'customer', NULL, %(at)s),"
        " (14, 'Sam Duplicate', 'sam@example.com', 'customer', NULL, %(at)s),"
        " (15, 'Invited Ida', 'ida@example.com', 'customer', NULL, %(at)s)",
        {"at": at},
    )
    conn.execute(
        "INSERT INTO customers (id, user_id, name, email, notification_preferences, regional_settings,"
        " loyalty_points, joined_at, created_at, updated_at) VALUES"
        " (10, 10, 'John Smith', 'john.smith@example.com', '{\"sms\": true}', NULL, 5, %(at)s, %(at)s, %(at)s),"
        " (500, 11, 'Mary Jones', 'mary.jones@example.com', NULL, '{\"currency\": \"EUR\"}', 0,"
        "  %(at)s, %(at)s, %(at)s),"
        " (600, NULL, 'Pat Kim', 'pat@example.com', NULL, NULL, 0, %(at)s, %(at)s, %(at)s),"
        " (14, 14, 'Sam Duplicate', 'sam@example.com', NULL, NULL, 0, %(at)s, %(at)s, %(at)s),"
        " (700, 14, 'Sam D.', 'sam.d@example.com', NULL, NULL, 0, %(at)s, %(at)s, %(at)s),"
        " (800, NULL, 'Nobody Known', 'ghost@example.com', NULL, NULL, 0, %(at)s, %(at)s, %(at)s)",
        {"at": at},
    )
    conn.execute(
        "INSERT INTO loyalty_programs (id, business_id, name, status, is_active, welcome_points, created_at) VALUES"
        " (100, 1, 'Coffee Club', 'active', true, 50, %(at)s),"
        " (101, 1, 'Tea Time', 'INACTIVE', true, 0, %(at)s),"
        " (102, 2, 'Readers', 'ACTIVE', false, -5, %(at)s),"
        " (103, 9999, 'Orphan Program', 'ACTIVE', true, 0, %(at)s)",
        {"at": at},
    )
    conn.execute(
        "INSERT INTO customer_notifications (id, customer_id, business_id, type, title, message,"
        " requires_action, created_at) VALUES"
        " (%(n1)s, 15, 1, 'ENROLLMENT_REQUEST', 'Join Coffee Club?',"
        "  'Bean There Coffee would like to enroll you in Coffee Club. Would you like to join?', true, %(at)s),"
        " (%(n2)s, 10, 1, 'CARD_CREATED', 'Your card', 'Your Coffee Club card is ready', false, %(at)s),"
        " (%(n3)s, 999, 1, 'POINTS_ADDED', 'Points', 'You earned 5 points', false, %(at)s),"
        " (%(n4)s, 15, 1, 'ENROLLMENT_REQUEST', 'Join Coffee Club?', 'Older invitation', true, %(at)s)",
        {"n1": uuid(1), "n2": uuid(2), "n3": uuid(3), "n4": uuid(4), "at": at},
    )
    conn.execute(
        "INSERT INTO customer_approval_requests (id, notification_id, customer_id, business_id, request_type,"
        " entity_id, status, data, requested_at, response_at, expires_at) VALUES"
        " (%(r1)s, %(n1)s, 15, 1, 'ENROLLMENT', '100', 'PENDING', '{\"message\": \"Free coffee!\"}',"
        "  '2098-12-30 00:00:00+00', NULL, %(future)s),"
        " (%(r2)s, NULL, 13, 1, 'ENROLLMENT', '101', 'PENDING', NULL, %(at)s, NULL, '2024-01-08 12:00:00+00'),"
        " (%(r3)s, NULL, 10, 1, 'ENROLLMENT', '100', 'APPROVED', NULL, %(at)s, %(at)s, %(future)s),"
        " (%(r4)s, NULL, 500, 2, 'ENROLLMENT', '102', 'REJECTED', '{\"reason\": \"Not now\"}', %(at)s, %(at)s, NULL),"
        " (%(r5)s, NULL, 10, 1, 'POINTS_DEDUCTION', '7', 'PENDING', NULL, %(at)s, NULL, %(future)s),"
        " (%(r6)s, %(n4)s, 15, 1, 'ENROLLMENT', '100', 'PENDING', NULL, '2098-12-01 00:00:00+00', NULL, %(future)s),"
        " (%(r7)s, NULL, 10, 1, 'ENROLLMENT', 'garbage', 'PENDING', NULL, %(at)s, NULL, %(future)s),"
        " (%(r8)s, NULL, 999, 1, 'ENROLLMENT', '100', 'PENDING', NULL, %(at)s, NULL, %(future)s),"
        " (%(r9)s, NULL, 14, 1, 'enrollment', '100', 'approved ', NULL, %(at)s, %(at)s, %(future)s)",
        {
            **{f"r{i}": uuid(100 + i) for i in range(1, 10)},
            **{f"n{i}": uuid(i) for i in range(1, 5)},
            "at": at,
            "future": FUTURE,
        },
    )
    enrollments = [
        (1, "10", 100, "ACTIVE", 120),
        (2, " 10 " if text_garbage else "10", 100, "ACTIVE", 120),  # a race's duplicate, the same points
        (3, "500", 100, "active", 40),  # a customer whose id is not its user's
        (4, "600", 102, "ACTIVE", 0),  # a customer with no user_id: its user by email
        (5, "13", 100, "ACTIVE", 0),  # the bug: no customers row for user 13
        (6, "14", 100, "ACTIVE", 10),
        (7, "700", 100, "INACTIVE", 30),  # user 14's second customers row
        (8, "800", 100, "ACTIVE", 0),  # a customer with no user at all
        (9, "999", 100, "ACTIVE", 0),  # neither customer nor user
        (11, "10", 103, "ACTIVE", 0),  # a program whose business is no user
    ]
    if text_garbage:
        enrollments.append((10, "abc", 100, "ACTIVE", 0))
    if not text_garbage:  # the INTEGER variant has the unique key: no duplicate there
        enrollments = [e for e in enrollments if e[0] != 2]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO program_enrollments (id, customer_id, program_id, status, current_points, enrolled_at,"
            " last_activity) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(*e, at, at) for e in enrollments],
        )
        cur.executemany(
            "INSERT INTO loyalty_cards (id, customer_id, business_id, program_id, card_number, status, is_active,"
            " points, points_balance, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (*card, at, at)
                for card in [
                    (1, 10, 1, 100, "GC-240101-120000-42", "ACTIVE", True, 100, 100),  # the stored procedure's
                    (2, 10, 1, 100, "GC-a1b2c3-C", "ACTIVE", True, 0, 30),  # the wrapper's; a race's duplicate
                    (3, 500, 1, 100, "1234-5678-00042", "ACTIVE", True, 10, 0),  # the card service's
                    (4, 14, 1, 100, None, "ACTIVE", True, 5, 5),  # an old row without a number
                    (5, 700, 1, 100, "GC-240102-130000-7", "INACTIVE", False, 0, 7),
                    (6, 600, 2, 102, "GC-240101-120000-42", "ACTIVE", True, 1, 1),  # a number two cards carry
                    (7, 800, 1, 100, "GC-ffffff-C", "ACTIVE", True, 0, 0),  # a customer with no user
                    (8, 10, 1, 101, "5555-6666-00001", "inactive", True, 3, 3),
                ]
            ],
        )
        relationships = [
            (1, " 10" if text_garbage else "10", "1", "ACTIVE"),
            (2, "500", "1", "ACTIVE"),
            (3, "14", "1", "INACTIVE"),
            (4, "700", "1", "ACTIVE"),  # user 14 again
            (5, "10", "2", "ACTIVE"),
            (6, "13", "1", "ACTIVE"),
            (7, "10", "9999", "ACTIVE"),  # a business that is no user
        ]
        if text_garbage:
            relationships.append((8, "x", "1", "ACTIVE"))
        cur.executemany(
            "INSERT INTO customer_business_relationships (id, customer_id, business_id, status, created_at,"
            " updated_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(*r, at, at) for r in relationships],
        )
    conn.execute("SELECT setval(pg_get_serial_sequence('program_enrollments', 'id'), 50)")
    conn.execute("RESET search_path")
    conn.commit()


def table_rows(conn: psycopg.Connection[Any], schema: str, tables: tuple[str, ...] | list[str]) -> dict[str, list[Any]]:
    """Every row of each table, as text, sorted: a snapshot two databases' states compare by."""
    snapshot: dict[str, list[Any]] = {}
    for table in tables:
        query = sql.SQL("SELECT t::text FROM {}.{} AS t ORDER BY 1").format(
            sql.Identifier(schema), sql.Identifier(table)
        )
        snapshot[table] = [row[0] for row in conn.execute(query)]
    conn.commit()
    return snapshot


def fill_generated(conn: psycopg.Connection[Any], customers: int, schema: str = "public") -> None:
    """A generated legacy database of ``customers`` customers (the benchmark's shape): 50
    businesses with 2 programs each; every customer in one program and 35% in a second; a tenth
    of those enrollments and cards twice (a race's duplicates); the three card number formats
    (the wrapper's 6 hex characters collide now and then, as they did); 5% of customers under
    an id that is not their user's; 0.3 pending invitations a customer, 10% of them overdue."""
    conn.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(schema)))
    # A version 4 uuid from 32 hex digits, as gen_random_uuid() makes them.
    conn.execute(
        "CREATE FUNCTION pg_temp.v4(h text) RETURNS uuid LANGUAGE sql IMMUTABLE"
        " AS $$ SELECT (substr(h, 1, 12) || '4' || substr(h, 14, 3) || '8' || substr(h, 18))::uuid $$"
    )
    n = customers
    conn.execute(
        "INSERT INTO users (id, name, email, user_type, business_name, created_at)"
        " SELECT i, 'Customer Name ' || i, 'user' || i || '@example.com', 'customer', NULL, timestamp '2024-01-01'"
        "   FROM generate_series(1, %(n)s) AS i"
        " UNION ALL"
        " SELECT %(n)s + b, 'Owner ' || b, 'owner' || b || '@example.com', 'business', 'Business ' || b,"
        "        timestamp '2024-01-01'"
        "   FROM generate_series(1, 50) AS b",
        {"n": n},
    )
    conn.execute(
        "INSERT INTO customers (id, user_id, name, email, created_at, joined_at)"
        " SELECT CASE WHEN i %% 20 = 0 THEN 100000000 + i ELSE i END, i, 'Customer Name ' || i,"
        "        'user' || i || '@example.com', '2024-01-01', '2024-01-01'"
        "   FROM generate_series(1, %(n)s) AS i",
        {"n": n},
    )
    conn.execute(
        "INSERT INTO loyalty_programs (id, business_id, name, status, welcome_points)"
        " SELECT p, %(n)s + (p + 1) / 2, 'Program ' || p, (ARRAY['ACTIVE', 'active', 'INACTIVE'])[1 + p %% 3],"
        "        (p %% 4) * 10"
        "   FROM generate_series(1, 100) AS p",
        {"n": n},
    )
    # (customer, program) pairs: program 1 + i % 100 for all, 1 + (i + 50) % 100 for 35%; rows
    # whose pair number is a multiple of 9 come twice.
    conn.execute(
        "CREATE TEMP TABLE pairs AS"
        " SELECT row_number() OVER (ORDER BY i, program) AS k, i, program,"
        "        CASE WHEN i %% 20 = 0 THEN 100000000 + i ELSE i END AS customer"
        "   FROM (SELECT i, 1 + i %% 100 AS program FROM generate_series(1, %(n)s) AS i"
        "         UNION ALL"
        "         SELECT i, 1 + (i + 50) %% 100 FROM generate_series(1, %(n)s) AS i WHERE i %% 100 < 35) AS p",
        {"n": n},
    )
    conn.execute(
        "INSERT INTO program_enrollments (customer_id, program_id, current_points, enrolled_at)"
        " SELECT p.customer, p.program, p.k % 500, '2024-01-01' FROM pairs AS p, generate_series(1, 2) AS copy"
        "  WHERE copy = 1 OR p.k % 9 = 0"
    )
    conn.execute(
        "INSERT INTO loyalty_cards (customer_id, business_id, program_id, card_number, points, points_balance,"
        " created_at)"
        " SELECT p.customer, 0, p.program,"
        "        CASE (p.k * 2 + copy) % 3"
        "             WHEN 0 THEN 'GC-240101-' || lpad((p.k / 10000)::text, 6, '0') || '-' || (p.k % 10000)"
        "             WHEN 1 THEN 'GC-' || substr(md5(p.k::text || copy), 1, 6) || '-C'"
        "             ELSE lpad((p.program)::text, 4, '0') || '-' || lpad((p.k / 100000)::text, 4, '0') || '-'"
        "                  || lpad((p.k % 100000)::text, 5, '0') || copy END,"
        "        p.k % 300, p.k % 300, '2024-01-01'"
        "   FROM pairs AS p, generate_series(1, 2) AS copy"
        "  WHERE copy = 1 OR p.k % 9 = 0"
    )
    conn.execute(
        "INSERT INTO customer_business_relationships (customer_id, business_id, created_at)"
        " SELECT DISTINCT p.customer::text, (g.business_id)::text, timestamptz '2024-01-01'"
        "   FROM pairs AS p JOIN loyalty_programs AS g ON g.id = p.program"
    )
    conn.execute(
        "INSERT INTO customer_notifications (id, customer_id, business_id, type, title, message, requires_action)"
        " SELECT pg_temp.v4(md5('n' || i)), i, %(n)s + 1 + i %% 50, 'ENROLLMENT_REQUEST', 'Join?',"
        "        'Would you like to join?', true"
        "   FROM generate_series(1, %(n)s) AS i WHERE i %% 10 < 3",
        {"n": n},
    )
    conn.execute(
        "INSERT INTO customer_approval_requests (id, notification_id, customer_id, business_id, request_type,"
        " entity_id, status, requested_at, expires_at)"
        " SELECT pg_temp.v4(md5('r' || i)), pg_temp.v4(md5('n' || i)), i,"
        "        %(n)s + 1 + (1 + (i + 25) %% 100 + 1) / 2 - 1,"
        "        'ENROLLMENT', (1 + (i + 25) %% 100)::text, 'PENDING', now() - interval '1 day',"
        "        CASE WHEN i %% 100 = 0 THEN now() - interval '1 hour' ELSE now() + interval '6 days' END"
        "   FROM generate_series(1, %(n)s) AS i WHERE i %% 10 < 3",
        {"n": n},
    )
    conn.execute("DROP TABLE pairs")
    conn.execute("RESET search_path")
    conn.commit()
