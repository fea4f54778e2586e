"""The blink-desktop command: parse arguments, load settings, run, and turn errors into messages."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING

from blink_desktop import __version__
from blink_desktop.app.commands import add_data_commands, open_store, print_rows
from blink_desktop.emulator import DEFAULT_API_KEY
from blink_desktop.emulator.command import add_control_command
from blink_desktop.errors import BlinkError, SettingsError

if TYPE_CHECKING:
    from blink_desktop.settings import Settings

log = logging.getLogger(__name__)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be above 0")
        return value

    return convert


def _fault(text: str) -> object:
    from blink_desktop.emulator import Fault

    try:
        return Fault.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blink-desktop",
        description="Connect bank accounts through Basiq Blink, online or on the offline emulator.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="also log to the console, in detail")
    parser.set_defaults(func=_window, parser=parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    emulator = commands.add_parser(
        "emulator",
        help="run the offline Basiq API and Blink page in the foreground",
        description="Run the offline Basiq API emulator and Blink page. The first line printed "
        "is its base URL; then one line per request. Ctrl-C stops it.",
    )
    emulator.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    emulator.add_argument(
        "--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)"
    )
    emulator.add_argument(
        "--api-key", help=f"the API key /token accepts (default: {DEFAULT_API_KEY})"
    )
    emulator.add_argument(
        "--state", type=Path, metavar="FILE", help="keep users, connections and jobs in this file"
    )
    emulator.add_argument(
        "--token-ttl",
        type=_positive(int),
        default=3600,
        metavar="SECONDS",
        help="lifetime of issued tokens (%(default)s)",
    )
    emulator.add_argument(
        "--job-speed",
        type=_positive(float),
        default=1.0,
        metavar="FACTOR",
        help="run jobs this many times faster than the real service (%(default)s)",
    )
    emulator.add_argument(
        "--fault",
        type=_fault,
        action="append",
        default=[],
        metavar="RULE",
        help='inject faults, e.g. "\'POST /token\' status=503 rate=0.5" or "/jobs/* latency=2"; '
        "keys: status (429, 500, 503), rate, latency, retry_after, times; repeatable",
    )
    emulator.add_argument(
        "--redirect-url",
        metavar="URL",
        help="the application's redirect URL, where the Consent UI sends the person back "
        "(as set in Basiq's dashboard); without one, Done shows the result",
    )
    emulator.add_argument(
        "--app-name",
        metavar="NAME",
        help="the application's name, shown by the Consent UI (default: Your application)",
    )
    emulator.set_defaults(func=_emulator)
    add_control_command(commands)
    login = commands.add_parser(
        "login",
        help="store your Basiq API key in the OS keyring (read from the prompt or stdin)",
    )
    login.set_defaults(func=_login)
    logout = commands.add_parser(
        "logout", help="remove the stored Basiq API key from the OS keyring"
    )
    logout.set_defaults(func=_logout)

    serve = commands.add_parser(
        "serve",
        help="run the reference server that holds the API key (for development)",
        description="Run the reference server in the foreground: POST /user, POST /access_token, "
        "POST /connections, GET /users/{id}/connections, GET /health, and Basiq's webhooks at "
        "POST /webhooks/basiq (BLINK_DESKTOP_WEBHOOK_SECRET). The first line printed is its base "
        "URL. With no API key it uses an embedded emulator, and receives that emulator's "
        "webhooks. For production, run blink_desktop.server:wsgi under a WSGI server (see the "
        "README).",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (%(default)s)")
    serve.add_argument(
        "--port", type=int, default=8000, help="port; 0 picks a free one (%(default)s)"
    )
    serve.add_argument("--upstream", metavar="URL", help="the Basiq API (default: au-api.basiq.io)")
    serve.add_argument("--db", type=Path, metavar="FILE", help="the server's database")
    serve.add_argument(
        "--client-id",
        action="append",
        default=[],
        metavar="ID",
        help="a client id the server accepts; repeatable (or BLINK_DESKTOP_CLIENT_IDS)",
    )
    serve.set_defaults(func=_serve)

    listing = commands.add_parser("connections", help="print the stored bank connections")
    formats = listing.add_mutually_exclusive_group()
    formats.add_argument("--json", action="store_true", help="as a JSON array")
    formats.add_argument("--csv", action="store_true", help="as CSV with a header row")
    listing.set_defaults(func=_connections)
    events = commands.add_parser("events", help="print the log of every message Blink sent")
    events.add_argument("--json", action="store_true", help="as a JSON array")
    events.set_defaults(func=_events)
    add_data_commands(commands)
    for command in commands.choices.values():
        command.set_defaults(parser=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # argparse reports these with the top-level usage; the subcommand's is the useful one.
        args.parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        window: bool = args.func is _window
        # The window reads its settings itself, while Qt starts.
        code: int = _window(args) if window else args.func(args, _configure(args))
        return code
    except BlinkError as exc:
        print(f"blink-desktop: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    except KeyboardInterrupt:
        return 130


def _configure(args: argparse.Namespace) -> Settings:
    """The settings, and logging as they say."""
    from blink_desktop import logs
    from blink_desktop.settings import load_settings

    settings = load_settings()
    logs.setup(
        settings.log_dir,
        level="DEBUG" if args.debug else settings.log_level,
        console=args.debug,
    )
    if settings.api_key:
        logs.redactor.add_secret(settings.api_key.get_secret_value())
    return settings


def _window(args: argparse.Namespace) -> int:
    """The window, whose settings are read while Qt starts (see app/window.py)."""
    from blink_desktop.app import display, window

    if sys.platform.startswith("linux"):
        display.check_qt()  # before Qt can abort the process with a misleading message
    return window.run(lambda: _configure(args), debug=args.debug)


def _login(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop import keychain

    if sys.stdin.isatty():
        key = getpass.getpass("Basiq API key (from the Basiq dashboard; input is hidden): ")
    else:
        key = sys.stdin.readline()
    keychain.store_api_key(key)
    print(f"Stored the API key in the OS keyring (service {keychain.SERVICE!r}).")
    return 0


def _logout(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop import keychain

    removed = keychain.forget_api_key()
    print("Removed the API key from the keyring." if removed else "No API key was stored.")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.httpd import Serving
    from blink_desktop.server import build_server

    server = build_server(
        settings, upstream=args.upstream, database=args.db, client_ids=args.client_id
    )
    try:
        try:
            http = Serving(server.app, args.host, args.port)
        except OSError as exc:
            raise BlinkError(
                f"The server cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
                "Choose another --port."
            ) from None
        _log_to_stdout("blink_desktop.server")
        # With an embedded emulator, the server registers its webhook receiver there now that
        # it has an address, so that the emulator's webhooks come back to it.
        receiver = server.listening(http.url)
        print(http.url, flush=True)
        if receiver is None:
            upstream = server.upstream.api_url
        else:
            upstream = (
                f"an embedded emulator at {server.upstream.api_url}, whose webhooks arrive at "
                f"{receiver}"
            )
        print(
            f"blink-desktop serve: Basiq upstream is {upstream}. Stop with Ctrl-C.",
            file=sys.stderr,
            flush=True,
        )
        try:
            http.serve_forever()
        except KeyboardInterrupt:
            print("blink-desktop serve: stopped.", file=sys.stderr)
    finally:
        server.close()
    return 0


def _log_to_stdout(name: str) -> None:
    """One line per request on stdout, as `emulator` and `serve` promise."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    from blink_desktop import logs

    handler.addFilter(logs.redactor)
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def _connections(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.app.store import StoredConnection

    # The logo is an image (a data: URL) for the window; it would only bury the text here.
    columns = [f.name for f in fields(StoredConnection) if f.name != "logo"]
    store = open_store(settings)
    rows = []
    if store is not None:
        try:
            rows = [
                {name: value for name, value in asdict(item).items() if name in columns}
                for item in store.connections()
            ]
        finally:
            store.close()
    if print_rows(args, rows, columns):
        return 0
    if not rows:
        print("No bank connections yet.")
    for row in rows:
        name = row["institution"] or "(bank not named yet)"
        line = f"{row['id']}  {name:<24} {row['status']:<10} {row['created']}"
        print(f"{line}  {row['detail']}" if row.get("detail") else line)
    return 0


def _events(args: argparse.Namespace, settings: Settings) -> int:
    store = open_store(settings)
    rows = []
    if store is not None:
        try:
            rows = store.events()
        finally:
            store.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        verdict = "accepted" if row["accepted"] else f"rejected: {row['reason']}"
        print(f"{row['received']}  {row['event'] or '?':<13} {row['origin']:<28} {verdict}")
    if not rows:
        print("No messages received yet.")
    return 0


def _emulator(args: argparse.Namespace, settings: Settings) -> int:
    from blink_desktop.emulator import Emulator

    try:
        emulator = Emulator(
            host=args.host,
            port=args.port,
            api_key=args.api_key,
            state_path=args.state,
            token_ttl=args.token_ttl,
            job_speed=args.job_speed,
            faults=args.fault,
            redirect_url=args.redirect_url,
            app_name=args.app_name,
        )
    except ValueError as exc:
        raise SettingsError(f"--redirect-url: {exc}") from None
    except OSError as exc:
        raise BlinkError(
            f"The emulator cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
            "Choose another --port, or 0 for any free one."
        ) from None
    _log_to_stdout("blink_desktop.emulator")
    print(emulator.url, flush=True)
    print(
        f"blink-desktop emulator: API key {emulator.api_key}\n"
        f"  Blink page: {emulator.url}/index.html   Consent UI: {emulator.url}/home\n"
        f"  Redirect URL: {emulator.redirect_url or 'none (Done shows the result)'}"
        "   Stop with Ctrl-C.",
        file=sys.stderr,
        flush=True,
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        print("blink-desktop emulator: stopped.", file=sys.stderr)
    return 0
