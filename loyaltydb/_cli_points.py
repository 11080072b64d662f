"""``loyaltydb points earn | spend | adjust | reverse | history`` and ``loyaltydb card block |
unblock | replace | leave``: the points ledger and the card lifecycle from the command line
(contract "Points", "Card lifecycle"), in the style of the other subcommands: one sentence on a
bad argument or a refusal, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from . import api
from ._cli_args import integer, page_limit, positive, print_json
from ._cli_args import request_id as _request_id
from ._dsn import connect
from .models import CardTransaction, PointResult

Command = Callable[..., argparse.ArgumentParser]


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``points`` and its actions through cli's ``command`` helper."""
    points = command(
        "points",
        "change a card's points through the ledger, or show its history",
        "loyaltydb points earn --customer-id 32 --program-id 1 --points 50 --key order-1001",
        parents=[common],
    )
    actions = points.add_subparsers(dest="points_command", required=True, metavar="ACTION")
    for name, summary in (
        ("earn", "credit points to the customer's card in the program"),
        ("spend", "take points from it (never below zero)"),
        ("adjust", "correct its balance by a signed amount, with a note"),
    ):
        action = actions.add_parser(name, help=summary, description=summary, parents=[common])
        _card_arguments(action)
        action.add_argument(
            "--points", type=integer if name == "adjust" else positive, required=True, metavar="N", help="how many"
        )
        _key_arguments(action)
        if name == "adjust":
            action.add_argument("--note", required=True, help="why (kept in the ledger)")
        else:
            action.add_argument("--reference", help="an order or receipt number (at most 200 characters)")
    reverse = actions.add_parser(
        "reverse", help="undo one earn, spend or adjustment, once", description="undo one transaction", parents=[common]
    )
    reverse.add_argument("--customer-id", type=integer, required=True, metavar="N", help="the customer")
    reverse.add_argument("--transaction-id", type=integer, required=True, metavar="N", help="the transaction to undo")
    _key_arguments(reverse)
    ask = actions.add_parser(
        "request-deduction",
        help="as the business, ask the customer to agree to a deduction",
        description="ask the customer to agree to deducting points (they answer with answer-deduction)",
        parents=[common],
    )
    ask.add_argument("--business-id", type=integer, required=True, metavar="N", help="the asking business")
    _card_arguments(ask)
    ask.add_argument("--points", type=positive, required=True, metavar="N", help="how many")
    ask.add_argument("--reason", required=True, help="what the customer reads (at most 1,000 characters)")
    ask.add_argument("--json", action="store_true", help='print {"request_id": ...}')
    answer = actions.add_parser(
        "answer-deduction",
        help="as the customer, agree to a deduction or decline it",
        description="answer a deduction request: --approve deducts the points, --decline does not",
        parents=[common],
    )
    answer.add_argument("request_id", metavar="ID", help="the request's UUID")
    answer.add_argument("--customer-id", type=integer, required=True, metavar="N", help="the customer answering")
    choice = answer.add_mutually_exclusive_group(required=True)
    choice.add_argument("--approve", action="store_true", help="deduct the points")
    choice.add_argument("--decline", action="store_true", help="deduct nothing")
    answer.add_argument("--json", action="store_true", help="print the result as JSON")
    history = actions.add_parser(
        "history", help="the card's ledger, newest first", description="the card's ledger", parents=[common]
    )
    _card_arguments(history)
    history.add_argument("--limit", type=page_limit, default=50, help="at most this many (1 to 1000; default 50)")
    history.add_argument("--before", type=integer, metavar="ID", help="the next page: the last id of the previous one")
    history.add_argument("--json", action="store_true", help="print the rows as JSON")


def _card_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customer-id", type=integer, required=True, metavar="N", help="the card's customer")
    parser.add_argument("--program-id", type=integer, required=True, metavar="N", help="the card's program")


def _key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key", required=True, help="idempotency key: the same call again replays, never repeats")
    parser.add_argument("--business-id", type=integer, metavar="N", help="refuse a card of another business's program")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    if args.points_command == "answer-deduction":  # a malformed id: one sentence, before connecting
        args.request_id = _request_id("the deduction request's id", args.request_id)
    with connect(args.dsn) as conn:
        if args.points_command == "history":
            rows = api.card_transactions(conn, args.customer_id, args.program_id, limit=args.limit, before=args.before)
            _print_history(rows, args.json)
            return 0
        if args.points_command == "request-deduction":
            made = api.request_points_deduction(
                conn, args.business_id, args.customer_id, args.program_id, args.points, reason=args.reason
            )
            if args.json:
                print_json({"request_id": str(made)})
            else:
                print(made)
            return 0
        if args.points_command == "answer-deduction":
            answered = api.answer_points_deduction(
                conn, args.request_id, customer_id=args.customer_id, approved=args.approve
            )
            if answered is None:
                if args.json:
                    print_json({"deducted": None})
                else:
                    print("declined: nothing deducted")
                return 0
            result = answered
        elif args.points_command == "reverse":
            result = api.reverse_points(
                conn, args.customer_id, args.transaction_id, idempotency_key=args.key, business_id=args.business_id
            )
        elif args.points_command == "adjust":
            result = api.adjust_points(
                conn,
                args.customer_id,
                args.program_id,
                args.points,
                idempotency_key=args.key,
                note=args.note,
                business_id=args.business_id,
            )
        else:
            change = api.earn_points if args.points_command == "earn" else api.spend_points
            result = change(
                conn,
                args.customer_id,
                args.program_id,
                args.points,
                idempotency_key=args.key,
                business_id=args.business_id,
                reference=args.reference,
            )
    _print_result(result, args.json)
    return 0


def _print_result(result: PointResult, as_json: bool) -> None:
    if as_json:
        print_json(dataclasses.asdict(result))
        return
    replay = " (a replay: the key's first call, nothing written now)" if result.replayed else ""
    print(
        f"{result.reason} {result.points:+,} points on card {result.card_id}: balance {result.balance_after:,}"
        f" (transaction {result.transaction_id}){replay}"
    )


def _print_history(rows: list[CardTransaction], as_json: bool) -> None:
    if as_json:
        print_json([dataclasses.asdict(row) for row in rows])
        return
    if not rows:
        print("no transactions")
    for row in rows:
        after = "-" if row.balance_after is None else f"{row.balance_after:,}"
        extra = "  ".join(
            text
            for text in (
                f"ref {row.reference}" if row.reference else "",
                f"reverses {row.reverses_id}" if row.reverses_id else "",
                row.note or "",
            )
            if text
        )
        print(
            f"{row.transaction_id}  {row.created_at:%Y-%m-%d %H:%M:%S%z}  {row.reason:<9} {row.points:+,}"
            f"  balance {after}  {extra}".rstrip()
        )


def add_card_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``card block | unblock | replace | leave`` (the card lifecycle)."""
    card = command(
        "card",
        "block, unblock or replace a customer's card, or leave its program",
        "loyaltydb card block --customer-id 32 --program-id 1 --reason 'reported lost'",
        parents=[common],
    )
    actions = card.add_subparsers(dest="card_command", required=True, metavar="ACTION")
    for name, summary in (
        ("block", "block the card: it earns and spends nothing until unblocked"),
        ("unblock", "unblock a blocked card"),
        ("replace", "the same card under a new number; the old number stops working"),
        ("leave", "the customer leaves the program (joining again brings the same card back)"),
    ):
        action = actions.add_parser(name, help=summary, description=summary, parents=[common])
        _card_arguments(action)
        if name in ("block", "unblock"):
            action.add_argument("--reason", help="told to the customer (at most 1,000 characters)")
        if name != "leave":
            action.add_argument("--business-id", type=integer, metavar="N", help="refuse another business's card")
        action.add_argument("--json", action="store_true", help="print the card as JSON")


def run_card(args: argparse.Namespace) -> int:
    with connect(args.dsn) as conn:
        if args.card_command == "leave":
            card = api.leave_program(conn, args.customer_id, args.program_id)
        elif args.card_command == "replace":
            card = api.replace_card(conn, args.customer_id, args.program_id, business_id=args.business_id)
        else:
            change = api.block_card if args.card_command == "block" else api.unblock_card
            card = change(conn, args.customer_id, args.program_id, args.reason, business_id=args.business_id)
    if args.json:
        print_json(dataclasses.asdict(card))
    else:
        print(
            f"card {card.id} {card.card_number} ({card.program_name}, {card.business_name}): {card.status},"
            f" {card.points_balance:,} points"
        )
    return 0
