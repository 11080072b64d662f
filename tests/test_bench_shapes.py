"""`make bench`'s shapes of rows (issue 32) are what docs/benchmarks.md says they are: a batch
measured on "fresh pairs" really approves pairs that had no enrollment, a launch day really
creates every customer, a returning pair really has its card already, and the unnamed users and
businesses are really there. A shape that drifted would make every batch figure a claim about
another workload."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from benchmarks import bench

#: Per shape: (requests whose user is a customer already, whose pair has an enrollment already,
#: whose business has no name, whose user has no name), each as a fraction of the queue.
QUEUED = (
    "SELECT avg((c.id IS NOT NULL)::int), avg((e.id IS NOT NULL)::int), avg((b.name IS NULL)::int),"
    " avg((u.name IS NULL)::int)"
    " FROM bench.queue AS q JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id"
    " JOIN loyalty.users AS u ON u.id = r.customer_id"
    " JOIN loyalty.businesses AS b ON b.id = r.business_id"
    " LEFT JOIN loyalty.customers AS c ON c.id = r.customer_id"
    " LEFT JOIN loyalty.program_enrollments AS e ON e.customer_id = r.customer_id AND e.program_id = r.program_id"
)


@pytest.mark.parametrize(
    ("shape", "customers", "enrolled", "unnamed_businesses"),
    [("bench", 0.5, 0.0, 0.0), ("launch", 0.0, 0.0, 1.0), ("fresh", 0.5, 0.0, 0.5), ("returning", 1.0, 1.0, 0.0)],
)
def test_each_shape_queues_the_requests_it_names(
    db: psycopg.Connection[Any], dsn: str, shape: str, customers: float, enrolled: float, unnamed_businesses: float
) -> None:
    bench.load(dsn, scale=4_000, pending=1_000, say=lambda _: None, shape=shape)
    db.commit()
    queued, pending, distinct_pairs = db.execute(
        "SELECT count(*), count(*) FILTER (WHERE r.status = 'PENDING'), count(DISTINCT (r.customer_id, r.program_id))"
        " FROM bench.queue AS q JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id"
    ).fetchone() or (0, 0, 0)
    assert (queued, pending, distinct_pairs) == (1_000, 1_000, 1_000)  # each a pending request of its own pair
    assert db.execute("SELECT min(n), max(n) FROM bench.queue").fetchone() == (1, 1_000)
    row = db.execute(QUEUED).fetchone()
    assert row is not None
    measured = [float(value) for value in row]
    assert measured[:2] == pytest.approx([customers, enrolled], abs=0.05)
    assert measured[2] == pytest.approx(unnamed_businesses, abs=0.15)
    # Users who are not customers yet: named in "bench", "launch" and "returning", half of them in "fresh".
    new_users_unnamed = db.execute(
        "SELECT avg((u.name IS NULL)::int) FROM bench.queue AS q"
        " JOIN loyalty.customer_approval_requests AS r ON r.id = q.request_id"
        " JOIN loyalty.users AS u ON u.id = r.customer_id"
        " WHERE NOT EXISTS (SELECT FROM loyalty.customers AS c WHERE c.id = r.customer_id)"
    ).fetchone()
    assert new_users_unnamed is not None
    if shape == "returning":
        assert new_users_unnamed[0] is None  # there are none
    else:
        assert float(new_users_unnamed[0]) == pytest.approx(0.5 if shape == "fresh" else 0.0, abs=0.05)


def test_an_unknown_shape_or_too_many_requests_are_refused(dsn: str) -> None:
    with pytest.raises(ValueError, match="unknown shape 'launchday'"):
        bench.load(dsn, scale=100, pending=10, say=lambda _: None, shape="launchday")
    with pytest.raises(ValueError, match="the launch shape has at most 50 requests at 100 users"):
        bench.load(dsn, scale=100, pending=51, say=lambda _: None, shape="launch")
