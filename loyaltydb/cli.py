"""The ``loyaltydb`` command: migrations, decisions, selfcheck and demo for DBAs and operators.

User errors (bad DSN, unreachable server, malformed id, unknown request, unmigrated
database) print one sentence on stderr and exit 1; usage errors exit 2; never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence

import psycopg
import yoyo.exceptions as yoyo_errors

from . import __version__, api, distribution, migrations
from . import _demo as demo
from . import _selfcheck as selfcheck
from ._dsn import configured_conninfo, connect
from .errors import LoyaltyError, one_line
from .models import EnrollmentResult


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="loyaltydb",
        description="loyaltydb: enrollment approval for PostgreSQL loyalty programs.",
        epilog="The DSN comes from --dsn, else LOYALTYDB_DSN, else DATABASE_URL, else libpq's PG* variables.",
    )
    parser.add_argument("--version", action="version", version=f"loyaltydb {__version__}")
    parser.add_argument("--dsn", type=_dsn, help="libpq connection string or postgresql:// URL")
    parser.add_argument("-v", "--verbose", action="store_true", help="log migrations and server notices")
    # --dsn and -v also after the command (`loyaltydb status --dsn X`); SUPPRESS keeps a value
    # given before the command when none is given after it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dsn", type=_dsn, default=argparse.SUPPRESS, help="libpq connection string or URL")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log more")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("migrate", parents=[common], help="apply pending migrations")
    rollback = commands.add_parser("rollback", parents=[common], help="roll back the last migration (or --all)")
    how_many = rollback.add_mutually_exclusive_group()
    how_many.add_argument("--steps", type=_positive, default=1, help="how many migrations to roll back (default 1)")
    how_many.add_argument("--all", action="store_true", help="roll back every migration (drops the schema)")
    commands.add_parser("status", parents=[common], help="list migrations and whether each is applied")
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = commands.add_parser(name, parents=[common], help=f"{verb} a pending enrollment request")
        decide.add_argument("request_id", metavar="ID", help="the request's UUID")
        decide.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "reject":
            decide.add_argument("--reason", help="shown to the customer in the notification")
    commands.add_parser("selfcheck", parents=[common], help="prove approval works here, in a rolled-back transaction")
    commands.add_parser(
        "distribute", parents=[common], help="on a Citus coordinator: distribute the tables, delegate the API"
    )
    commands.add_parser("demo", parents=[common], help="play the seed's story (throwaway server unless a DSN is set)")
    return parser


def _dsn(text: str) -> str:
    """An argparse type: a DSN that is not empty (an empty one would quietly mean the environment's)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(
            "is empty: give a connection string, or leave --dsn out to use the environment"
        )
    return text


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (argparse prints the usage error)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"want a whole number of at least 1, not {text!r}")
    return int(text)


def _print_result(result: EnrollmentResult, as_json: bool) -> None:
    fields = dataclasses.asdict(result)
    if as_json:
        print(json.dumps(fields, default=str, indent=2))
        return
    width = max(map(len, fields))
    for name, value in fields.items():
        print(f"{name:<{width}}  {'' if value is None else value}")


def _decide(args: argparse.Namespace) -> int:
    with connect(args.dsn) as conn:
        if args.command == "approve":
            result = api.approve_enrollment(conn, args.request_id)
        else:
            result = api.reject_enrollment(conn, args.request_id, args.reason)
    _print_result(result, args.json)
    return 0


def _selfcheck(args: argparse.Namespace) -> int:
    def report(check: selfcheck.Check) -> None:
        print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")

    with connect(args.dsn) as conn:
        checks = selfcheck.run(conn, report)
    failed = sum(not check.ok for check in checks)
    print(f"selfcheck: {len(checks) - failed} passed, {failed} failed; nothing was kept")
    return 1 if failed else 0


def _run(args: argparse.Namespace) -> int:
    if args.command == "migrate":
        applied = migrations.migrate(args.dsn)
        print(f"applied {len(applied)} migration(s){': ' + ', '.join(applied) if applied else ''}")
    elif args.command == "rollback":
        undone = migrations.rollback(args.dsn, None if args.all else args.steps)
        print(f"rolled back {len(undone)} migration(s){': ' + ', '.join(undone) if undone else ''}")
    elif args.command == "status":
        for state in migrations.status(args.dsn):
            print(f"{'applied' if state.applied else 'pending'}  {state.id}")
    elif args.command in ("approve", "reject"):
        return _decide(args)
    elif args.command == "selfcheck":
        return _selfcheck(args)
    elif args.command == "distribute":
        distribution.distribute(args.dsn)
        print("distributed: per-customer tables by customer id, programs and businesses as reference tables")
    elif args.command == "demo":
        demo.run(configured_conninfo(args.dsn))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(name)s: %(message)s")
    try:
        status = _run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        # The reader went away (`loyaltydb status | head -1`): whatever was done stays done,
        # and there is nobody to tell. Python's recipe: point stdout at devnull, exit quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # e.g. stdout on a full disk (/dev/full)
        print(f"loyaltydb: cannot write the output: {exc.strerror or exc}", file=sys.stderr)
    except LoyaltyError as exc:
        print(f"loyaltydb: {exc}", file=sys.stderr)
    except psycopg.Error as exc:
        print(f"loyaltydb: database error: {one_line(exc, fold_lines=True)}", file=sys.stderr)
    except yoyo_errors.LockTimeout as exc:
        print(f"loyaltydb: another migration holds yoyo's lock ({one_line(exc, fold_lines=True)})", file=sys.stderr)
    except KeyboardInterrupt:
        print("loyaltydb: interrupted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
