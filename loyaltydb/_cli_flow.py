"""The subcommands of the replaced system's flow: ``invite``, ``accept``, ``decline``,
``invitations``, ``notifications`` and ``expire``, in the style of ``approve`` and ``pending``
(one sentence on a bad argument, before anything connects; ``--json`` for scripts)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from . import api
from ._cli_args import integer, page_limit, print_json, print_page, print_result, request_id
from ._dsn import connect
from .errors import one_line
from .models import Notification, PendingInvitation

COMMANDS = ("invite", "accept", "decline", "invitations", "notifications", "mark-read", "expire")

#: ``expire``'s batch: one transaction each, so a sweep of a million rows holds no lock for long.
EXPIRE_BATCH = 1000

Command = Callable[..., argparse.ArgumentParser]


def add_commands(command: Command, common: argparse.ArgumentParser) -> None:
    """Add the flow's subcommands through cli's ``command`` helper (description and example)."""
    invite = command(
        "invite",
        "invite a user to one of a business's programs; prints the invitation's id",
        "loyaltydb invite --business-id 7 --customer-id 32 --program-id 1 --message 'Free coffee!'",
        parents=[common],
    )
    invite.add_argument("--business-id", type=integer, metavar="N", required=True, help="the inviting business")
    invite.add_argument("--customer-id", type=integer, metavar="N", required=True, help="the user invited")
    invite.add_argument("--program-id", type=integer, metavar="N", required=True, help="the business's program")
    invite.add_argument("--message", help="shown to the customer (at most 1,000 characters)")
    invite.add_argument("--json", action="store_true", help='print {"request_id": ...}')
    for name, verb in (("accept", "accept"), ("decline", "decline")):
        answer = command(
            name,
            f"{verb} an invitation, as its customer",
            f"loyaltydb {name} 0c1d5e3a-8f1b-8c00-9c20-000000000020 --customer-id 32"
            + (" --reason 'Not for me'" if name == "decline" else ""),
            parents=[common],
        )
        answer.add_argument("request_id", metavar="ID", help="the invitation's UUID")
        answer.add_argument("--customer-id", type=integer, metavar="N", required=True, help="the customer answering")
        answer.add_argument("--json", action="store_true", help="print the result as JSON")
        if name == "decline":
            answer.add_argument("--reason", help="shown to the business (at most 1,000 characters)")
    invitations = command(
        "invitations",
        "a customer's pending invitations, oldest first",
        "loyaltydb invitations --customer-id 32",
        parents=[common],
    )
    invitations.add_argument("--customer-id", type=integer, metavar="N", required=True, help="the customer")
    invitations.add_argument("--limit", type=page_limit, default=50, help="at most this many (1 to 1000; default 50)")
    invitations.add_argument("--after", metavar="ID", help="the next page: the last invitation id of the previous one")
    invitations.add_argument("--json", action="store_true", help="print the invitations as JSON")
    notifications = command(
        "notifications",
        "a customer's or a business's notifications, newest first",
        "loyaltydb notifications --business-id 7 --unread",
        parents=[common],
    )
    reader = notifications.add_mutually_exclusive_group(required=True)
    reader.add_argument("--customer-id", type=integer, metavar="N", help="the customer's feed")
    reader.add_argument("--business-id", type=integer, metavar="N", help="the business's feed")
    notifications.add_argument("--unread", action="store_true", help="only those not read yet")
    notifications.add_argument("--limit", type=page_limit, default=50, help="at most this many (1 to 1000; default 50)")
    notifications.add_argument("--before", metavar="ID", help="the next page: the last id of the previous one")
    notifications.add_argument("--json", action="store_true", help="print the notifications as JSON")
    expire = command(
        "expire",
        f"mark overdue requests and invitations EXPIRED, {EXPIRE_BATCH:,} a transaction (for cron)",
        "*/5 * * * * loyaltydb --dsn postgresql://app@db/loyalty expire",
        parents=[common],
    )
    expire.add_argument("--json", action="store_true", help='print {"expired": N}')
    mark = command(
        "mark-read",
        "mark notifications read, as their customer or business (others' ids are left alone)",
        "loyaltydb mark-read 0c1d5e3a-8f1b-4c00-9c20-000000000020 --customer-id 32",
        parents=[common],
    )
    mark.add_argument("ids", metavar="ID", nargs="+", help="the notifications' UUIDs")
    marker = mark.add_mutually_exclusive_group(required=True)
    marker.add_argument("--customer-id", type=integer, metavar="N", help="the customer whose notifications they are")
    marker.add_argument("--business-id", type=integer, metavar="N", help="the business whose notifications they are")
    mark.add_argument("--json", action="store_true", help='print {"marked": N}')


def run(args: argparse.Namespace) -> int:
    """Run one of :data:`COMMANDS`; returns the exit status."""
    if args.command == "invite":
        return _invite(args)
    if args.command in ("accept", "decline"):
        return _answer(args)
    if args.command == "invitations":
        return _invitations(args)
    if args.command == "notifications":
        return _notifications(args)
    if args.command == "mark-read":
        return _mark_read(args)
    return _expire(args)


def _mark_read(args: argparse.Namespace) -> int:
    for notification in args.ids:
        request_id("ID", notification)
    with connect(args.dsn) as conn:
        marked = api.mark_notifications_read(conn, args.ids, customer_id=args.customer_id, business_id=args.business_id)
    if args.json:
        print_json({"marked": marked})
    else:
        print(f"marked {marked:,} notification(s) read")
    return 0


def _invite(args: argparse.Namespace) -> int:
    with connect(args.dsn) as conn:
        invitation = api.invite_customer(
            conn, args.business_id, args.customer_id, args.program_id, message=args.message
        )
    if args.json:
        print_json({"request_id": str(invitation)})
    else:
        print(invitation)
    return 0


def _answer(args: argparse.Namespace) -> int:
    request_id("ID", args.request_id)
    with connect(args.dsn) as conn:
        if args.command == "accept":
            result = api.accept_invitation(conn, args.request_id, customer_id=args.customer_id)
        else:
            result = api.decline_invitation(conn, args.request_id, args.reason, customer_id=args.customer_id)
    print_result(result, args.json)
    return 0


def _invitations(args: argparse.Namespace) -> int:
    if args.after is not None:
        request_id("--after", args.after)
    with connect(args.dsn) as conn:
        found = api.pending_invitations(conn, args.customer_id, limit=args.limit, after=args.after)
    empty = f"no pending invitations for customer {args.customer_id}" + (" after that one" if args.after else "")
    print_page(
        found,
        as_json=args.json,
        limit=args.limit,
        empty=empty,
        line=_invitation_line,
        cursor="--after",
        key=lambda row: row.request_id,
    )
    return 0


def _invitation_line(invitation: PendingInvitation) -> str:
    expires = "never" if invitation.expires_at is None else f"{invitation.expires_at:%Y-%m-%d %H:%M:%S%z}"
    return (
        f"{invitation.request_id}  expires {expires}  {one_line(invitation.business_name)!r}"
        f" program {invitation.program_id} {one_line(invitation.program_name)!r}"
    )


def _notifications(args: argparse.Namespace) -> int:
    if args.before is not None:
        request_id("--before", args.before)
    options: dict[str, Any] = {"unread_only": args.unread, "limit": args.limit, "before": args.before}
    with connect(args.dsn) as conn:
        if args.customer_id is not None:
            found = api.customer_notifications(conn, args.customer_id, **options)
        else:
            found = api.business_notifications(conn, args.business_id, **options)
    empty = "no notifications" + (" unread" if args.unread else "")
    print_page(
        found,
        as_json=args.json,
        limit=args.limit,
        empty=empty,
        line=_notification_line,
        cursor="--before",
        key=lambda row: row.id,
    )
    return 0


def _notification_line(note: Notification) -> str:
    flags = ("unread" if not note.is_read else "read") + (
        ", to act on" if note.requires_action and not note.action_taken else ""
    )
    return f"{note.id}  {note.created_at:%Y-%m-%d %H:%M:%S%z}  {note.type} ({flags})  {one_line(note.message)}"


def _expire(args: argparse.Namespace) -> int:
    """Batches until one comes back short; progress on stderr for a long sweep."""
    totals = {"expired": 0, "points_expired": 0}
    with connect(args.dsn) as conn:
        for name, sweep in (("expired", api.expire_requests), ("points_expired", api.expire_points)):
            while True:
                expired = sweep(conn, limit=EXPIRE_BATCH)
                totals[name] += expired
                if expired < EXPIRE_BATCH:
                    break
                print(f"loyaltydb: {name.replace('_', ' ')} {totals[name]:,} so far", file=sys.stderr)
    if args.json:
        print_json(totals)
    else:
        print(
            f"expired {totals['expired']:,} overdue requests and invitations,"
            f" and {totals['points_expired']:,} overdue credits of points"
        )
    return 0
