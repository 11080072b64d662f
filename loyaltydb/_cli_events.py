"""``loyaltydb events tail | prune``: follow the events outbox live, and prune what every
consumer has acknowledged (docs/events.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

import psycopg

from . import api
from ._cli_args import positive, print_json
from ._dsn import connect
from .models import Event

Command = Callable[..., argparse.ArgumentParser]

#: Events committed since a snapshot position, and the position to ask from next (tail without
#: --consumer: an observer that registers nothing, so it never holds back pruning).
_SINCE = (
    "WITH here AS (SELECT pg_current_snapshot() AS position)"
    " SELECT here.position::text AS position, e.id, e.type, e.customer_id, e.business_id, e.occurred_at, e.payload"
    " FROM here LEFT JOIN LATERAL loyalty._events_between(%(since)s::pg_snapshot, here.position) AS e ON true"
    " ORDER BY e.id"
)
#: The same on a Citus cluster, where a position is a snapshot of every node, taken by a statement
#: before the one that reads (docs/events.md, "On a Citus cluster"): each shard compares its rows
#: with its own node's snapshots.
_NODE_POSITION = "SELECT loyalty._node_snapshots()::text"
_SINCE_ON_NODES = (
    "SELECT e.id, e.type, e.customer_id, e.business_id, e.occurred_at, e.payload FROM loyalty.events AS e"
    " WHERE loyalty._event_new_here(e.xid, %(since)s::jsonb, %(to)s::jsonb) ORDER BY e.id"
)


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``events`` (with ``tail`` and ``prune``) through cli's ``command`` helper."""
    events = command(
        "events",
        "follow events live (tail) or prune acknowledged ones",
        "loyaltydb events tail --json",
        parents=[common],
    )
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    tail = actions.add_parser("tail", help="print events as they are committed", parents=[common])
    tail.add_argument(
        "--consumer", help="as this consumer (fetch and ack); default: an observer that registers nothing"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object a line")
    tail.add_argument("--limit", type=positive, help=argparse.SUPPRESS)  # stop after N events (tests, scripts)
    prune = actions.add_parser("prune", help="delete events every consumer has acknowledged", parents=[common])
    prune.add_argument("--older-than", type=positive, default=7 * 86400, metavar="SECONDS", help="default 7 days")
    prune.add_argument("--json", action="store_true", help='print {"pruned": N}')


def run(args: argparse.Namespace) -> int:
    if args.events_command == "prune":
        with connect(args.dsn) as conn:
            pruned = api.prune_events(conn, older_than=float(args.older_than))
        if args.json:
            print_json({"pruned": pruned})
        else:
            print(f"pruned {pruned:,} events every consumer had acknowledged")
        return 0
    return _tail(args)


def _tail(args: argparse.Namespace) -> int:
    """Print events until interrupted (or --limit): as the consumer, acking each once printed;
    as an observer, from a snapshot position kept here. Ctrl-C ends it quietly."""
    shown = 0
    with connect(args.dsn, autocommit=True) as conn:
        api.listen_events(conn, timeout=0)
        on_nodes = _distributed(conn)
        since = None if args.consumer else _position(conn, on_nodes)
        try:
            while args.limit is None or shown < args.limit:
                if args.consumer:
                    batch = api.fetch_events(conn, args.consumer)
                else:
                    since, batch = _since(conn, since or "", on_nodes)
                for event in batch:
                    _print(event, args.json)
                    shown += 1
                if args.consumer and batch:
                    api.ack_events(conn, args.consumer, [event.id for event in batch])
                if not batch:
                    api.listen_events(conn, timeout=1.0)
        except KeyboardInterrupt:
            pass
    return 0


def _distributed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT loyalty._distributed()").fetchone()
    return bool(row and row[0])


def _position(conn: psycopg.Connection[Any], on_nodes: bool) -> str:
    row = conn.execute(_NODE_POSITION if on_nodes else "SELECT pg_current_snapshot()::text").fetchone()
    return str(row[0]) if row else ""


def _since(conn: psycopg.Connection[Any], since: str, on_nodes: bool) -> tuple[str, list[Event]]:
    if on_nodes:
        position = _position(conn, on_nodes)  # first: what it shows committed, the read below sees
        rows = conn.execute(_SINCE_ON_NODES, {"since": since, "to": position}).fetchall()
        return position, [Event(*row) for row in rows]
    rows = conn.execute(_SINCE, {"since": since}).fetchall()
    position = str(rows[0][0])
    return position, [Event(*row[1:]) for row in rows if row[1] is not None]


def _print(event: Event, as_json: bool) -> None:
    if as_json:
        print(
            json.dumps(
                {
                    "id": event.id,
                    "type": event.type,
                    "customer_id": event.customer_id,
                    "business_id": event.business_id,
                    "occurred_at": event.occurred_at.isoformat(),
                    "payload": event.payload,
                }
            ),
            flush=True,
        )
    else:
        names = ", ".join(
            str(event.payload[key])
            for key in ("customer_name", "program_name", "business_name")
            if key in event.payload
        )
        print(f"{event.occurred_at:%Y-%m-%d %H:%M:%S%z}  {event.id}  {event.type}  {names}", flush=True)
