"""``loyaltydb rewards create | update | list | redeem | fulfil | cancel``: a program's catalogue
and its redemptions from the command line (contract "Rewards"), in the style of the other
subcommands: one sentence on a bad argument or a refusal, ``--json`` for scripts."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable

from . import api
from ._cli_args import integer, positive, print_json
from ._cli_args import request_id as _uuid_argument
from ._dsn import connect
from .models import Redemption, Reward

Command = Callable[..., argparse.ArgumentParser]


def _stock(text: str) -> int:
    """An argparse type: zero or more (a stock may run out)."""
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"want a whole number of at least 0, not {text!r}")
    return int(text)


def add_command(command: Command, common: argparse.ArgumentParser) -> None:
    """Add ``rewards`` and its actions through cli's ``command`` helper."""
    rewards = command(
        "rewards",
        "a program's rewards, and redeeming, fulfilling or cancelling them",
        "loyaltydb rewards redeem --customer-id 32 --reward-id 1 --key order-1001",
        parents=[common],
    )
    actions = rewards.add_subparsers(dest="rewards_command", required=True, metavar="ACTION")
    create = actions.add_parser(
        "create", help="add a reward to one of the business's programs", description="add a reward", parents=[common]
    )
    create.add_argument("--business-id", type=integer, required=True, metavar="N", help="the program's business")
    create.add_argument("--program-id", type=integer, required=True, metavar="N", help="the program")
    create.add_argument("--name", required=True, help="what the customer gets (1 to 200 characters)")
    create.add_argument("--points-cost", type=positive, required=True, metavar="N", help="its price in points")
    create.add_argument("--stock", type=_stock, metavar="N", help="how many there are (default: unlimited)")
    create.add_argument("--json", action="store_true", help='print {"reward_id": ...}')
    update = actions.add_parser(
        "update",
        help="change a reward's status, cost or stock",
        description="change a reward (what is not given stays as it is)",
        parents=[common],
    )
    update.add_argument("--business-id", type=integer, required=True, metavar="N", help="the reward's business")
    update.add_argument("--reward-id", type=integer, required=True, metavar="N", help="the reward")
    update.add_argument("--status", choices=("ACTIVE", "INACTIVE"), help="offer it, or stop offering it")
    update.add_argument("--points-cost", type=positive, metavar="N", help="its new price in points")
    update.add_argument("--stock", type=_stock, metavar="N", help="how many are left from now on")
    update.add_argument("--json", action="store_true", help="print the reward as JSON")
    listing = actions.add_parser(
        "list",
        help="what the program's customers can redeem now",
        description="the program's active rewards with stock left, cheapest first",
        parents=[common],
    )
    listing.add_argument("--program-id", type=integer, required=True, metavar="N", help="the program")
    listing.add_argument("--json", action="store_true", help="print the rewards as JSON")
    redeem = actions.add_parser(
        "redeem",
        help="as the customer, spend points on a reward",
        description="spend the reward's cost and get the code to show at the counter",
        parents=[common],
    )
    redeem.add_argument("--customer-id", type=integer, required=True, metavar="N", help="the customer")
    redeem.add_argument("--reward-id", type=integer, required=True, metavar="N", help="the reward")
    redeem.add_argument("--key", required=True, help="idempotency key: the same call again replays, never repeats")
    redeem.add_argument("--json", action="store_true", help="print the redemption as JSON")
    fulfil = actions.add_parser(
        "fulfil",
        help="as the business, hand the reward over for a code",
        description="fulfil the redemption with the code the customer shows",
        parents=[common],
    )
    fulfil.add_argument("code", metavar="CODE", help="the 8-character code (case, spaces and dashes ignored)")
    fulfil.add_argument("--business-id", type=integer, required=True, metavar="N", help="the business")
    fulfil.add_argument("--json", action="store_true", help="print the redemption as JSON")
    cancel = actions.add_parser(
        "cancel",
        help="cancel a pending redemption: its points come back",
        description="cancel a pending redemption (refunds its points once, gives the stock back)",
        parents=[common],
    )
    cancel.add_argument("redemption_id", metavar="ID", help="the redemption's UUID")
    cancel.add_argument("--customer-id", type=integer, required=True, metavar="N", help="the redemption's customer")
    cancel.add_argument("--business-id", type=integer, metavar="N", help="cancel as this business (its programs only)")
    cancel.add_argument("--json", action="store_true", help="print the redemption as JSON")


def run(args: argparse.Namespace) -> int:
    if args.rewards_command == "cancel":  # a malformed id: one sentence, before connecting
        args.redemption_id = _uuid_argument("the redemption's id", args.redemption_id)
    with connect(args.dsn) as conn:
        if args.rewards_command == "create":
            made = api.create_reward(
                conn, args.business_id, args.program_id, args.name, args.points_cost, stock=args.stock
            )
            print_json({"reward_id": made}) if args.json else print(made)
        elif args.rewards_command == "update":
            changed = api.update_reward(
                conn,
                args.business_id,
                args.reward_id,
                status=args.status,
                points_cost=args.points_cost,
                stock=args.stock,
            )
            _print_rewards([changed], args.json, single=True)
        elif args.rewards_command == "list":
            _print_rewards(api.program_rewards(conn, args.program_id), args.json, single=False)
        elif args.rewards_command == "redeem":
            result = api.redeem_reward(conn, args.customer_id, args.reward_id, idempotency_key=args.key)
            if args.json:
                print_json(dataclasses.asdict(result))
            else:
                replay = " (a replay: the key's first redemption, nothing written now)" if result.replayed else ""
                print(
                    f"code {result.code}: reward {result.reward_id} for {result.points:,} points, balance"
                    f" {result.balance_after:,} (redemption {result.redemption_id}){replay}"
                )
        elif args.rewards_command == "fulfil":
            _print_redemption(api.fulfil_redemption(conn, args.business_id, args.code), args.json)
        else:
            done = api.cancel_redemption(conn, args.customer_id, args.redemption_id, business_id=args.business_id)
            _print_redemption(done, args.json)
    return 0


def _print_rewards(rewards: list[Reward], as_json: bool, *, single: bool) -> None:
    if as_json:
        rows = [dataclasses.asdict(reward) for reward in rewards]
        print_json(rows[0] if single else rows)
        return
    if not rewards:
        print("no rewards to redeem")
    for reward in rewards:
        stock = "unlimited" if reward.stock is None else f"{reward.stock:,} left"
        print(f"{reward.reward_id}  {reward.name}: {reward.points_cost:,} points, {stock}, {reward.status}")


def _print_redemption(done: Redemption, as_json: bool) -> None:
    if as_json:
        print_json(dataclasses.asdict(done))
        return
    print(
        f"redemption {done.redemption_id} ({done.reward_name}, code {done.code}, {done.points:,} points): {done.status}"
    )
