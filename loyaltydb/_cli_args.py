"""What the ``loyaltydb`` subcommands share: argparse types that refuse bad input before anything
connects, and the printers of results (text for people, ``--json`` for scripts)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from .errors import InvalidInput, shorten
from .models import EnrollmentResult


def dsn(text: str) -> str:
    """An argparse type: a DSN that is not empty (an empty one would quietly mean the environment's)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty: give a connection string, or leave --dsn out to use the environment"
        )
    return text


def positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse prints the usage error)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"want a whole number of at least 1, not {shown(text)}")
    return int(text)


#: The ids' range (bigint): a larger number is refused by name before anything connects.
BIGINT = (-(2**63), 2**63 - 1)
#: A page of a listing (inboxes, feeds, histories): the server's limit, checked before connecting.
PAGE = (1, 1000)


def integer(text: str) -> int:
    """An argparse type: a whole number within bigint, possibly negative (argparse names the
    argument in its error: ``argument --business-id: want a whole number from ...``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"want a whole number, not {shown(text)}") from None
    if not BIGINT[0] <= value <= BIGINT[1]:
        raise argparse.ArgumentTypeError(f"want a whole number from {BIGINT[0]} to {BIGINT[1]}, not {shown(text)}")
    return value


def page_limit(text: str) -> int:
    """An argparse type: a page's size, 1 to 1,000 (the server would refuse more, after connecting)."""
    if not text.isdigit() or not PAGE[0] <= int(text) <= PAGE[1]:
        raise argparse.ArgumentTypeError(f"want a whole number from {PAGE[0]} to {PAGE[1]}, not {shown(text)}")
    return int(text)


def shown(text: str) -> str:
    """A user's argument quoted in an error, cut short: a 10 KB argument is not echoed whole."""
    return shorten(repr(text), 60)


def print_json(value: Any) -> None:
    print(json.dumps(value, default=str, indent=2))


def print_result(result: EnrollmentResult, as_json: bool) -> None:
    fields = dataclasses.asdict(result)
    if as_json:
        print_json(fields)
        return
    width = max(map(len, fields))
    for name, value in fields.items():
        print(f"{name:<{width}}  {'' if value is None else value}")


def request_id(what: str, text: str) -> str:
    """``text`` when it is a UUID; else InvalidInput naming the argument (before connecting)."""
    try:
        uuid.UUID(text)
    except ValueError:
        raise InvalidInput(f"{what} must be a UUID (such as {uuid.UUID(int=1)}), not {shown(text)}") from None
    return text


def print_page(
    rows: Sequence[Any],
    *,
    as_json: bool,
    limit: int,
    empty: str,
    line: Callable[[Any], str],
    cursor: str,
    key: Callable[[Any], object],
) -> None:
    """One keyset page of a listing: JSON for scripts, else a line a row (``empty`` when there
    are none), and, for a full page, the option that asks for the next one (``cursor``: the
    option's name, followed by the last row's ``key``)."""
    if as_json:
        print_json([dataclasses.asdict(row) for row in rows])
        return
    if not rows:
        print(empty)
        return
    for row in rows:
        print(line(row))
    if len(rows) == limit:
        print(f"more may follow: {cursor} {key(rows[-1])}")
