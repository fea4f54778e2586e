"""`blink-desktop emulator-control URL ACTION`: the lifecycle controls of a running emulator.

Here rather than in cli.py, which only adds it; argparse alone at import, so `--help` stays fast.
"""

from __future__ import annotations

import argparse
import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blink_desktop.settings import Settings


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a number of days above 0")
    return value


def add_control_command(commands: Any) -> None:
    """Add `emulator-control` to the `blink-desktop` subcommands."""
    control = commands.add_parser(
        "emulator-control",
        help="provoke what a bank does rarely, on a running emulator",
        description="Call the lifecycle controls of a running emulator (on this machine: they "
        "answer loopback callers only).",
    )
    control.add_argument("url", metavar="URL", help="the emulator's URL, the first line it prints")
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print the emulator's answer as JSON")
    actions = control.add_subparsers(dest="action", metavar="ACTION", required=True)
    broken = actions.add_parser(
        "break",
        parents=[as_json],
        help="its next refresh fails invalid-credentials, until its credentials are updated",
        description="Break a connection, as if its password changed at the bank: its next "
        "refresh fails invalid-credentials and it becomes invalid, until its credentials are "
        "updated (Blink's update mode, or the Consent UI with its connectionId).",
    )
    broken.add_argument("connection_id", metavar="CONNECTION_ID")
    passing = actions.add_parser(
        "pass-time",
        parents=[as_json],
        help="let days pass: banks get new transactions, which a refresh brings",
        description="Let time pass on the emulator's clock: each bank gets the new transactions "
        "of those days, which the next refresh brings; tokens older than their lifetime expire.",
    )
    passing.add_argument("days", type=_days, metavar="DAYS", help="e.g. 3, or 0.5")
    actions.add_parser(
        "expire-tokens", parents=[as_json], help="every token issued so far now gets 403"
    )
    actions.add_parser(
        "time", parents=[as_json], help="print the emulator's time, and how much was let pass"
    )
    control.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.emulator.remote import Remote

    remote = Remote(args.url)
    answer: dict[str, Any] = {}
    if args.action == "break":
        answer = remote.break_connection(args.connection_id)
        line = (
            f"Broke connection {answer['id']} at {answer['institution']} (now {answer['status']}):"
            " its next refresh fails invalid-credentials."
        )
    elif args.action == "pass-time":
        answer = remote.pass_time(args.days)
        line = f"{args.days:g} day(s) passed: the emulator's time is now {answer['now']}."
    elif args.action == "expire-tokens":
        remote.expire_tokens()
        line = "Every token issued so far has expired."
    else:
        answer = remote.time()
        line = f"{answer['now']} ({answer['passedSeconds'] / 86400:g} day(s) let pass in all)"
    print(json.dumps(answer, indent=2) if args.json else line)
    return 0
