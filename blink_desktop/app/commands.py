"""The connection manager on the command line: `accounts`, `transactions`, `refresh`, `delete`.

Here rather than in cli.py, which only adds them; argparse alone at import, so `--help` stays
fast. `accounts` and `transactions` print the local data (`--fetch` fetches first); `refresh`
shows each job's steps live (rich) and `delete` asks first, naming the bank. A bad id exits 2
with one message, as argparse does for a bad date.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, fields
from datetime import date
from typing import TYPE_CHECKING, Any

from blink_desktop.errors import StoreError

if TYPE_CHECKING:
    from blink_desktop.app.manager import ConnectionManager, Refreshed
    from blink_desktop.app.store import Store
    from blink_desktop.app.wiring import App
    from blink_desktop.settings import Settings


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: write it YYYY-MM-DD") from None


def add_data_commands(commands: Any) -> None:
    """Add the connection manager's commands to the `blink-desktop` subcommands."""
    formats = argparse.ArgumentParser(add_help=False)
    chosen = formats.add_mutually_exclusive_group()
    chosen.add_argument("--json", action="store_true", help="as a JSON array")
    chosen.add_argument("--csv", action="store_true", help="as CSV with a header row")
    formats.add_argument(
        "--fetch", action="store_true", help="fetch from Basiq first (else the local data only)"
    )
    formats.add_argument("--connection", metavar="ID", help="one connection's only")

    accounts = commands.add_parser(
        "accounts",
        parents=[formats],
        help="print the accounts of your connections, with their balances",
        description="Print the accounts kept for your bank connections, as last fetched.",
    )
    accounts.set_defaults(func=run_accounts)

    transactions = commands.add_parser(
        "transactions",
        parents=[formats],
        help="print the transactions of your connections, newest first",
        description="Print the transactions kept for your bank connections, newest first, as "
        "last fetched. Dates are days (YYYY-MM-DD), both included; pending transactions are "
        "dated the day they were made.",
    )
    transactions.add_argument("--account", metavar="ID", help="one account's only")
    transactions.add_argument("--from", dest="since", type=_day, metavar="DATE", help="from")
    transactions.add_argument("--to", dest="until", type=_day, metavar="DATE", help="up to")
    transactions.set_defaults(func=run_transactions)

    refresh = commands.add_parser(
        "refresh",
        help="ask the bank again for a connection's data (or all), showing each step",
        description="Ask Basiq to fetch a connection's data from the bank again, show the job's "
        "steps as they go, then fetch what changed.",
    )
    which = refresh.add_mutually_exclusive_group(required=True)
    which.add_argument("connection_id", nargs="?", metavar="ID", help="the connection")
    which.add_argument("--all", action="store_true", help="every connection")
    refresh.set_defaults(func=run_refresh)

    delete = commands.add_parser(
        "delete",
        help="delete a connection at Basiq and here, with its accounts and transactions",
        description="Delete a bank connection at Basiq, then here with its accounts and "
        "transactions (the event log keeps a line). Asks first, naming the bank.",
    )
    delete.add_argument("connection_id", metavar="ID", help="the connection")
    delete.add_argument("--yes", action="store_true", help="do not ask (needed without a terminal)")
    delete.set_defaults(func=run_delete)


@contextmanager
def _app(settings: Settings) -> Iterator[App]:
    """The app without its window, for what needs Basiq (or your server)."""
    from blink_desktop.app import wiring

    app = wiring.build(settings)
    try:
        yield app
    finally:
        app.close()


def open_store(settings: Settings) -> Store | None:
    """The app's database, or None when nothing was ever stored (an empty list, not an error)."""
    from blink_desktop.app.store import Store
    from blink_desktop.app.wiring import database_path

    path = database_path(settings)
    if path.parent.exists() and not path.parent.is_dir():
        raise StoreError(
            f"The data folder {path.parent} is a file, not a folder. Move that file away, or "
            "set BLINK_DESKTOP_DATA_DIR to a folder."
        )
    return Store(path) if path.exists() else None


@contextmanager
def _local(settings: Settings) -> Iterator[ConnectionManager | None]:
    """The manager on the local data alone; None when nothing was ever stored."""
    from blink_desktop.app.manager import ConnectionManager

    store = open_store(settings)
    if store is None:
        yield None
        return
    try:
        yield ConnectionManager(store, _Offline())
    finally:
        store.close()


class _Offline:
    """Reading needs no Basiq; anything else is a bug here, not a network call."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the local data was asked to call Basiq ({name})")


def _bad_requests_exit_2(run: Callable[[argparse.Namespace, Settings], int]) -> Any:
    """An unknown id, or dates the wrong way round: one message, exit 2. Output cut short
    (`| head`): no traceback."""

    def guarded(args: argparse.Namespace, settings: Settings) -> int:
        from blink_desktop.app.manager import BadRequest

        try:
            return run(args, settings)
        except BadRequest as exc:
            print(f"blink-desktop: {exc}", file=sys.stderr)
            return 2
        except BrokenPipeError:
            # Whoever reads stdout stopped; nothing more goes to it, at exit either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 0

    return guarded


def _fetch_first(args: argparse.Namespace, settings: Settings) -> None:
    if not args.fetch:
        return
    with _app(settings) as app:
        wanted = [args.connection] if args.connection else [c.id for c in app.store.connections()]
        for connection_id in wanted:
            app.manager.fetch(connection_id)


@_bad_requests_exit_2
def run_accounts(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.app.ledger import StoredAccount

    _fetch_first(args, settings)
    with _local(settings) as manager:
        if manager is None and args.connection:
            raise _no_data(args.connection)
        rows = [asdict(item) for item in manager.accounts(args.connection)] if manager else []
        banks = _banks(manager)
    columns = [field.name for field in fields(StoredAccount)]
    if print_rows(args, rows, columns):
        return 0
    if not rows:
        print("No accounts kept yet: `blink-desktop accounts --fetch` fetches them.")
    for row in rows:
        number = row["number"] or ""
        print(
            f"{banks.get(row['connection_id'], '?'):<12} {row['name']:<26} {number:<7}"
            f" {row['type'] or '':<12} {row['balance'] or '':>12} {row['available'] or '':>12}"
            f" {row['currency'] or ''}  {row['id']}"
        )
    return 0


@_bad_requests_exit_2
def run_transactions(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.app.ledger import StoredTransaction

    _fetch_first(args, settings)
    with _local(settings) as manager:
        if manager is None and (args.connection or args.account):
            raise _no_data(args.connection or args.account)
        found = (
            manager.transactions(args.connection, args.account, args.since, args.until)
            if manager
            else []
        )
    rows = [asdict(item) for item in found]
    columns = [field.name for field in fields(StoredTransaction)]
    if print_rows(args, rows, columns):
        return 0
    if not rows:
        print("No transactions kept for that yet: `--fetch` fetches them.")
    for row in rows:
        sign = "in " if row["direction"] == "credit" else "out"
        pending = " (pending)" if row["status"] == "pending" else ""
        print(
            f"{row['date']}  {row['amount']:>11} {sign}  {row['description'][:44]:<44}"
            f" {row['category'] or ''}{pending}"
        )
    return 0


def _no_data(asked: str) -> Exception:
    from blink_desktop.app.manager import UnknownId

    return UnknownId(f"Nothing is kept here yet, so not {asked!r}: connect a bank first.")


def _banks(manager: ConnectionManager | None) -> dict[str, str]:
    if manager is None:
        return {}
    return {row.id: row.institution or "?" for row in manager.store.connections()}


def print_rows(args: argparse.Namespace, rows: list[dict[str, Any]], columns: list[str]) -> bool:
    """Rows as --json or --csv asked; False when neither was, for the caller's own layout."""
    if args.json:
        print(json.dumps(rows, indent=2))
        return True
    if args.csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return True
    return False


@_bad_requests_exit_2
def run_refresh(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.app.terminal_steps import StepsShown

    with _app(settings) as app:
        manager = app.manager
        banks = {row.id: row.institution or row.id for row in app.store.connections()}
        if args.all:
            if not banks:
                print("No bank connections to refresh yet.")
                return 0
            with StepsShown(banks) as shown:
                results = manager.refresh_all(shown.step)
        else:
            manager.connection(args.connection_id)  # an unknown id: one message, before any
            with StepsShown({args.connection_id: banks[args.connection_id]}) as shown:
                results = [manager.refresh_one(args.connection_id, shown.step)]
    return _report(results, banks)


def _report(results: Sequence[Refreshed], banks: dict[str, str]) -> int:
    failed = 0
    for result in results:
        bank = banks.get(result.connection_id, result.connection_id)
        if result.fetch is not None:
            done = result.fetch
            print(
                f"{bank}: refreshed; {done.added} new transaction(s), {done.updated} changed,"
                f" {done.removed} gone; {done.accounts} account(s)."
            )
        else:
            failed += 1
            print(f"blink-desktop: {result.error}", file=sys.stderr)
    return 1 if failed else 0


@_bad_requests_exit_2
def run_delete(args: argparse.Namespace, settings: Settings) -> int:
    with _local(settings) as manager:
        if manager is None:
            raise _no_data(args.connection_id)
        row = manager.connection(args.connection_id)
        accounts = len(manager.accounts(row.id))
        kept = manager.ledger.count(row.id)
    bank = row.institution or "the bank"
    if not args.yes:
        if not sys.stdin.isatty():
            print(
                "blink-desktop: delete asks before deleting, and there is no terminal to ask "
                f"on: pass --yes to delete {bank} ({row.id}).",
                file=sys.stderr,
            )
            return 2
        from rich.prompt import Confirm

        question = (
            f"Delete your connection to {bank} ({row.id}) at Basiq and here, with its "
            f"{accounts} account(s) and {kept} transaction(s)?"
        )
        if not Confirm.ask(question, default=False):
            print("Nothing was deleted.")
            return 1
    with _app(settings) as app:
        app.manager.delete(row.id)
    print(f"Deleted {bank} ({row.id}) at Basiq and here, with its accounts and transactions.")
    return 0
