"""``loyaltydb customer export ID`` and ``loyaltydb customer erase ID --requested-by TEXT
--yes``: a customer's right to see and to erase their data (contract "Personal data"), for a
login granted ``loyalty_privacy``. Erasing asks first on a terminal, and needs ``--yes`` off one."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import api
from ._cli_args import integer, print_json
from ._dsn import connect

Command = Callable[..., argparse.ArgumentParser]


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``customer`` and its actions through cli's ``command`` helper."""
    customer = command(
        "customer",
        "export what is held about a customer, or erase it (loyalty_privacy)",
        "loyaltydb customer export 32 > customer-32.json",
        parents=[common],
    )
    actions = customer.add_subparsers(dest="customer_command", required=True, metavar="ACTION")
    export = actions.add_parser(
        "export",
        help="print everything held about the customer as one JSON document",
        description="Print everything loyaltydb holds about the customer as one JSON document.",
        epilog="example: loyaltydb customer export 32 > customer-32.json",
        parents=[common],
    )
    export.add_argument("customer_id", type=integer, metavar="ID", help="the customer (their user id)")
    erase = actions.add_parser(
        "erase",
        help="forget the customer: no copy of their name, email or card numbers stays",
        description="Erase the customer in one transaction: names, emails and card numbers go from every row;"
        " ids, amounts and dates stay; every later call for that id is refused. Cannot be undone.",
        epilog="example: loyaltydb customer erase 32 --requested-by 'ticket 4711' --yes",
        parents=[common],
    )
    erase.add_argument("customer_id", type=integer, metavar="ID", help="the customer (their user id)")
    erase.add_argument(
        "--requested-by", required=True, metavar="TEXT", help="who asked (a ticket or a request id, not the name)"
    )
    erase.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    erase.add_argument("--json", action="store_true", help="print the rows changed a table as JSON")


def run(args: argparse.Namespace, answer: Callable[[str], str]) -> int:
    if args.customer_command == "export":
        with connect(args.dsn) as conn:
            print_json(api.export_customer(conn, args.customer_id))
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            print("loyaltydb: erasing cannot be undone: pass --yes to confirm (nothing erased)", file=sys.stderr)
            return 2
        if answer(f"Erase customer {args.customer_id}? This cannot be undone. [y/N] ") not in ("y", "yes"):
            print("nothing was erased", file=sys.stderr)
            return 1
    with connect(args.dsn) as conn:
        changed = api.erase_customer(conn, args.customer_id, requested_by=args.requested_by)
    if args.json:
        print_json(changed)
    elif not any(changed.values()):
        print(f"customer {args.customer_id} was erased already: nothing changed")
    else:
        rows = ", ".join(f"{table} {count:,}" for table, count in changed.items() if count)
        print(f"customer {args.customer_id} erased; rows changed: {rows}")
    return 0
