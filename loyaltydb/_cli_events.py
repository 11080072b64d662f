"""``loyaltydb events tail | prune | consumers | drop-consumer``: follow the events outbox live,
prune what every consumer has acknowledged, and see or remove the consumers that hold pruning
back (docs/events.md)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import psycopg

from . import api
from ._cli_args import positive, print_json
from ._dsn import connect
from ._queries import TAIL_EVENTS
from .errors import translated_errors
from .models import ConsumerStatus, Event

Command = Callable[..., argparse.ArgumentParser]


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``events`` (with ``tail`` and ``prune``) through cli's ``command`` helper."""
    events = command(
        "events",
        "follow events live (tail) or prune acknowledged ones",
        "loyaltydb events tail --json",
        parents=[common],
    )
    actions = events.add_subparsers(dest="events_command", required=True, metavar="ACTION")
    tail = actions.add_parser(
        "tail",
        help="print events as they are committed",
        description="Print events as they are committed, until Ctrl-C. Without --consumer an observer that"
        " registers nothing (it holds back no pruning); with it, as that consumer, acknowledging what it printed.",
        epilog="example: loyaltydb events tail --json",
        parents=[common],
    )
    tail.add_argument(
        "--consumer", help="as this consumer (fetch and ack); default: an observer that registers nothing"
    )
    tail.add_argument("--json", action="store_true", help="one JSON object a line")
    tail.add_argument("--limit", type=positive, help=argparse.SUPPRESS)  # stop after N events (tests, scripts)
    prune = actions.add_parser(
        "prune",
        help="delete events every consumer has acknowledged",
        description="Delete events older than --older-than that every registered consumer has acknowledged;"
        " an event a consumer has not acknowledged is kept (see `events consumers`). For cron.",
        epilog="example: loyaltydb events prune --older-than 604800",
        parents=[common],
    )
    prune.add_argument("--older-than", type=positive, default=7 * 86400, metavar="SECONDS", help="default 7 days")
    prune.add_argument("--json", action="store_true", help='print {"pruned": N}')
    consumers = actions.add_parser(
        "consumers", help="the registered consumers and since when each holds back pruning", parents=[common]
    )
    consumers.add_argument("--json", action="store_true", help="a JSON array, one object a consumer")
    drop = actions.add_parser(
        "drop-consumer",
        help="remove a consumer and its queued events (it stops holding back pruning)",
        parents=[common],
    )
    drop.add_argument("name", help="the consumer's name")
    drop.add_argument("--json", action="store_true", help='print {"dropped": true|false}')


def run(args: argparse.Namespace) -> int:
    if args.events_command == "consumers":
        with connect(args.dsn) as conn:
            _print_consumers(api.event_consumer_status(conn), args.json)
        return 0
    if args.events_command == "drop-consumer":
        with connect(args.dsn) as conn:
            dropped = api.drop_event_consumer(conn, args.name)
        if args.json:
            print_json({"dropped": dropped})
        else:
            print(f"dropped consumer {args.name!r}" if dropped else f"no consumer {args.name!r}: nothing dropped")
        return 0
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
        since = None if args.consumer else _since(conn, None)[0]
        try:
            while args.limit is None or shown < args.limit:
                if args.consumer:
                    batch = api.fetch_events(conn, args.consumer)
                else:
                    since, batch = _since(conn, since)
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


def _since(conn: psycopg.Connection[Any], since: str | None) -> tuple[str, list[Event]]:
    """The events committed since ``since`` (loyalty.tail_events, which a loyalty_app login may
    call), and the position to ask from next."""
    with translated_errors(conn):
        rows = conn.execute(TAIL_EVENTS, {"position": since}).fetchall()
    return str(rows[0][0]), [Event(*row[1:]) for row in rows if row[1] is not None]


def _print_consumers(consumers: list[ConsumerStatus], as_json: bool) -> None:
    if as_json:
        print_json([asdict(status) for status in consumers])
        return
    if not consumers:
        print("no consumer is registered (events are pruned by age alone)")
    for status in consumers:
        print(consumer_line(status))


def consumer_line(status: ConsumerStatus) -> str:
    """One line about a consumer: what `events consumers` and `status` print."""
    since = f"{status.holds_back_since:%Y-%m-%d %H:%M:%S%z}" if status.holds_back_since else "-"
    oldest = f", oldest {status.oldest_unacked_at:%Y-%m-%d %H:%M:%S%z}" if status.oldest_unacked_at else ""
    return (
        f"consumer {status.consumer!r}: last fetch {status.last_fetch_at:%Y-%m-%d %H:%M:%S%z},"
        f" {status.unacked:,} unacknowledged{oldest}; holds back pruning of events since {since}"
    )


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
