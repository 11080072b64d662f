"""The ``loyaltydb`` command: migrations, decisions, the inbox, selfcheck and demo for DBAs,
operators and scripts.

User errors (bad DSN, unreachable server, malformed id, unknown request, unmigrated
database, missing privilege) print one sentence on stderr and exit 1; usage errors exit 2
(also a rollback without ``--yes`` off a terminal); ``status --check`` exits 3 while
migrations are pending; never a traceback. ``--json`` prints what a script parses.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import psycopg
import yoyo.exceptions as yoyo_errors

from . import __version__, api, distribution, migrations
from . import _cli_customer as customer_cli
from . import _cli_events as events_cli
from . import _cli_flow as flow
from . import _cli_legacy as legacy
from . import _cli_points as points_cli
from . import _cli_rewards as rewards_cli
from . import _demo as demo
from . import _selfcheck as selfcheck
from ._cli_args import dsn as _dsn
from ._cli_args import integer as _integer
from ._cli_args import page_limit as _page_limit
from ._cli_args import positive as _positive
from ._cli_args import print_json as _print_json
from ._cli_args import print_page
from ._cli_args import print_result as _print_result
from ._cli_args import request_id as _request_id
from ._dsn import configured_conninfo, connect
from .errors import LoyaltyError, one_line
from .models import PendingRequest
from .testing._server import ServerError

#: ``status --check``: migrations are pending (1 is an error, 2 a usage error).
EXIT_PENDING = 3


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

    def command(name: str, summary: str, example: str, **options: Any) -> argparse.ArgumentParser:
        """A subcommand whose --help says what it does and shows one example."""
        return commands.add_parser(
            name,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}.",
            epilog=f"example:\n  {example}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
            **options,
        )

    migrate = command(
        "migrate", "apply pending migrations", "loyaltydb --dsn postgresql://admin@db/loyalty migrate", parents=[common]
    )
    migrate.add_argument("--json", action="store_true", help='print {"applied": [ids]}')
    rollback = command(
        "rollback",
        "roll back the last migration (or --steps N, --all); says what it drops and asks first",
        "loyaltydb rollback --steps 2 --yes",
        parents=[common],
    )
    how_many = rollback.add_mutually_exclusive_group()
    how_many.add_argument("--steps", type=_positive, default=1, help="how many migrations to roll back (default 1)")
    how_many.add_argument("--all", action="store_true", help="roll back every migration (drops the schema)")
    rollback.add_argument("--yes", action="store_true", help="do not ask (required when not on a terminal)")
    rollback.add_argument("--json", action="store_true", help='print {"rolled_back": [ids]}')
    status = command(
        "status",
        "list migrations and whether each is applied",
        "loyaltydb status --check || loyaltydb migrate",
        parents=[common],
    )
    status.add_argument("--json", action="store_true", help='print [{"id": ..., "applied": ...}]')
    status.add_argument(
        "--check",
        action="store_true",
        help=f"exit {EXIT_PENDING} when migrations are pending or a card breaks a ledger invariant",
    )
    command(
        "migrations-dir",
        "print the packaged SQL migrations' directory (for plain yoyo)",
        'yoyo apply --database postgresql+psycopg://admin@db/loyalty "$(loyaltydb migrations-dir)"',
    )
    for name, verb in (("approve", "approve"), ("reject", "reject")):
        decide = command(
            name,
            f"{verb} a pending enrollment request",
            f"loyaltydb {name} 0c1d5e3a-8f1b-8c00-9c20-000000000020 --business-id 7"
            + (" --reason 'We are full'" if name == "reject" else ""),
            parents=[common],
        )
        decide.add_argument("request_id", metavar="ID", help="the request's UUID")
        decide.add_argument(
            "--business-id", type=_integer, metavar="N", help="refuse unless the request is for business N's program"
        )
        decide.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "reject":
            decide.add_argument("--reason", help="shown to the customer (at most 1,000 characters)")
    pending = command(
        "pending",
        "a business's inbox: its pending requests, oldest first",
        "loyaltydb pending --business-id 7 --limit 20",
        parents=[common],
    )
    pending.add_argument("--business-id", type=_integer, metavar="N", required=True, help="the business")
    pending.add_argument("--limit", type=_page_limit, default=50, help="at most this many (1 to 1000; default 50)")
    pending.add_argument("--after", metavar="ID", help="the next page: the last request id of the previous one")
    pending.add_argument("--json", action="store_true", help="print the requests as JSON")
    flow.add_commands(command, common)
    legacy.add_command(command, common)
    events_cli.add_command(command, common)
    points_cli.add_command(command, common)
    points_cli.add_card_command(command, common)
    rewards_cli.add_command(command, common)
    customer_cli.add_command(command, common)
    command(
        "selfcheck",
        "prove approval works on this database, in a transaction it rolls back",
        "loyaltydb --dsn postgresql://admin@db/loyalty selfcheck",
        parents=[common],
    )
    command(
        "distribute",
        "on a Citus coordinator: distribute the tables, delegate the API",
        "loyaltydb --dsn postgresql://admin@coordinator/loyalty distribute",
        parents=[common],
    )
    command(
        "demo",
        "play a business approving a new customer, on a throwaway server (or, with a DSN, rolled back)",
        "loyaltydb demo",
        parents=[common],
    )
    return parser


def _decide(args: argparse.Namespace) -> int:
    _request_id("ID", args.request_id)
    replays: list[str] = []  # the server says a replay in a NOTICE (migration 0042)
    with connect(args.dsn) as conn:
        conn.add_notice_handler(
            lambda notice: (
                replays.append(notice.message_primary or "")
                if "its stored result, nothing written" in (notice.message_primary or "")
                else None
            )
        )
        if args.command == "approve":
            result = api.approve_enrollment(conn, args.request_id, business_id=args.business_id)
        else:
            result = api.reject_enrollment(conn, args.request_id, args.reason, business_id=args.business_id)
    _print_result(result, args.json)
    if replays and not args.json:
        print(f"(a replay: {one_line(replays[0])})")
    return 0


def _pending(args: argparse.Namespace) -> int:
    if args.after is not None:
        _request_id("--after", args.after)
    with connect(args.dsn) as conn:
        requests = api.pending_requests(conn, args.business_id, limit=args.limit, after=args.after)
    empty = f"no pending requests for business {args.business_id}" + (" after that one" if args.after else "")
    print_page(
        requests,
        as_json=args.json,
        limit=args.limit,
        empty=empty,
        line=_inbox_line,
        cursor="--after",
        key=lambda row: row.request_id,
    )
    return 0


def _inbox_line(request: PendingRequest) -> str:
    return (
        f"{request.request_id}  {request.requested_at:%Y-%m-%d %H:%M:%S%z}  customer {request.customer_id}"
        f" {one_line(request.customer_name)!r}  program {request.program_id} {one_line(request.program_name)!r}"
    )


def _status(args: argparse.Namespace) -> int:
    states = migrations.status(args.dsn)
    pending = sum(not state.applied for state in states)
    if args.json:
        _print_json([dataclasses.asdict(state) for state in states])
    elif args.check and states and not pending:
        # A check that passes says so in one line (cron mails what a job prints).
        print(f"up to date: all {len(states)} migrations applied")
        _print_consumers(args.dsn)
    else:
        for state in states:
            print(f"{'applied' if state.applied else 'pending'}  {state.id}")
        _print_consumers(args.dsn)
    if args.check and pending:
        print(f"loyaltydb: {pending} migration(s) pending: run `loyaltydb migrate`", file=sys.stderr)
        return EXIT_PENDING
    if args.check and states and _points_problems(args.dsn):
        return EXIT_PENDING
    return 0


def _points_problems(dsn: str | None) -> int:
    """`status --check`: the cards that break a ledger invariant (loyalty.verify_points), each
    on stderr; how many."""
    with connect(dsn) as conn:
        problems = api.verify_points(conn)
    for problem in problems:
        print(
            f"loyaltydb: card {problem.card_id} (customer {problem.customer_id}, program {problem.program_id}):"
            f" {problem.problem}",
            file=sys.stderr,
        )
    return len(problems)


def _print_consumers(dsn: str | None) -> None:
    """The events consumers and since when each holds back pruning (once 0031 is applied): a
    consumer that is gone for good keeps every later event forever (`events drop-consumer`)."""
    with connect(dsn) as conn:
        present = conn.execute("SELECT to_regprocedure('loyalty.event_consumer_status()') IS NOT NULL").fetchone()
        consumers = api.event_consumer_status(conn) if present and present[0] else []
    for status in consumers:
        print(events_cli.consumer_line(status))


def _migrate(args: argparse.Namespace) -> int:
    applied = migrations.migrate(args.dsn)
    if args.json:
        _print_json({"applied": applied})
    elif applied:
        print(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        print("up to date: no migration to apply")
    return 0


def _rollback(args: argparse.Namespace) -> int:
    steps = None if args.all else args.steps
    plan = migrations.rollback_plan(args.dsn, steps)
    if plan:
        print(f"rollback undoes {len(plan)} migration(s), newest first:", file=sys.stderr)
        for step in plan:
            print(f"  {step.id}: drops {', '.join(step.drops) or 'nothing'}", file=sys.stderr)
        if not args.yes and not sys.stdin.isatty():
            print("loyaltydb: rollback drops the above: pass --yes to confirm (not rolled back)", file=sys.stderr)
            return 2
        if not args.yes and _answer("Roll back? This cannot be undone. [y/N] ") not in ("y", "yes"):
            print("nothing was rolled back", file=sys.stderr)
            return 1
    # Nothing applied: the database is left as it is (yoyo would create its tables).
    try:
        undone = migrations.rollback(args.dsn, steps, expected=[step.id for step in plan]) if plan else []
    except migrations.RollbackFailed as failure:
        if args.json:
            _print_json(
                {
                    "rolled_back": failure.undone,
                    "failed": {"id": failure.failed, "error": failure.error},
                    "applied": failure.applied,
                }
            )
        raise
    if args.json:
        _print_json({"rolled_back": undone})
    elif undone:
        print(f"rolled back {len(undone)} migration(s): {', '.join(undone)}")
    else:
        print("nothing to roll back: no migration is applied")
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
        return _migrate(args)
    if args.command == "rollback":
        return _rollback(args)
    if args.command == "status":
        return _status(args)
    if args.command == "migrations-dir":
        print(migrations.migrations_dir())
    elif args.command in ("approve", "reject"):
        return _decide(args)
    elif args.command == "pending":
        return _pending(args)
    elif args.command in flow.COMMANDS:
        return flow.run(args)
    elif args.command == "import-legacy":
        return legacy.run(args)
    elif args.command == "events":
        return events_cli.run(args)
    elif args.command == "points":
        return points_cli.run(args)
    elif args.command == "card":
        return points_cli.run_card(args)
    elif args.command == "rewards":
        return rewards_cli.run(args)
    elif args.command == "customer":
        return customer_cli.run(args, _answer)
    elif args.command == "selfcheck":
        return _selfcheck(args)
    elif args.command == "distribute":
        for warning in distribution.distribute(args.dsn):
            print(f"loyaltydb: warning: {warning}", file=sys.stderr)
        print("distributed: per-customer tables by customer id, programs and businesses as reference tables")
    elif args.command == "demo":
        demo.run(configured_conninfo(args.dsn))
    return 0


def _answer(prompt: str) -> str:
    """The user's answer at a prompt, lower case; end of input (Ctrl-D) answers no."""
    try:
        return input(prompt).strip().lower()
    except EOFError:
        print(file=sys.stderr)
        return ""


def _not_text(argv: Sequence[str]) -> str | None:
    """What is not valid UTF-8 among the arguments and the DSN variables (Python keeps such bytes
    as lone surrogates, which no database call can send), said in a sentence; else None."""
    for position, argument in enumerate(argv, start=1):
        try:
            argument.encode("utf-8")
        except UnicodeEncodeError:
            return f"argument {position} is not valid UTF-8 text"
    for name in ("LOYALTYDB_DSN", "DATABASE_URL"):
        try:
            os.environ.get(name, "").encode("utf-8")
        except UnicodeEncodeError:
            return f"{name} is not valid UTF-8 text"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    # A terminal that cannot show a name ("Zoë 李" on an ASCII stdout) gets it escaped, not a traceback.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    problem = _not_text(sys.argv[1:] if argv is None else argv)
    if problem:
        print(f"loyaltydb: {problem}", file=sys.stderr)
        return 2
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
    except (LoyaltyError, ServerError) as exc:  # ServerError: demo's throwaway server could not start
        print(f"loyaltydb: {one_line(exc, fold_lines=True)}", file=sys.stderr)
    except psycopg.Error as exc:
        print(f"loyaltydb: database error: {one_line(exc, fold_lines=True)}", file=sys.stderr)
    except yoyo_errors.LockTimeout as exc:
        print(f"loyaltydb: another migration holds yoyo's lock ({one_line(exc, fold_lines=True)})", file=sys.stderr)
    except KeyboardInterrupt:
        print("loyaltydb: interrupted", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
