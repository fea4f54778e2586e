"""The blink-desktop command: parse arguments, load settings, run, and turn errors into messages."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from blink_desktop import __version__, logs
from blink_desktop.errors import BlinkError, SettingsError
from blink_desktop.settings import Settings, load_settings

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
    emulator.add_argument("--api-key", help="the API key /token accepts (default: see README)")
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        logs.setup(
            settings.log_dir,
            level="DEBUG" if args.debug else settings.log_level,
            console=args.debug,
        )
        if settings.api_key:
            logs.redactor.add_secret(settings.api_key.get_secret_value())
        return _run(args, settings)
    except BlinkError as exc:
        print(f"blink-desktop: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, SettingsError) else 1
    except KeyboardInterrupt:
        return 130


def _run(args: argparse.Namespace, settings: Settings) -> int:
    # Until the desktop window lands, running with no command serves the emulator.
    return _emulator(args if args.command else build_parser().parse_args(["emulator"]))


def _emulator(args: argparse.Namespace) -> int:
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
        )
    except OSError as exc:
        raise BlinkError(
            f"The emulator cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
            "Choose another --port, or 0 for any free one."
        ) from None
    except Exception as exc:  # a broken --state file surfaces here as sqlite3.DatabaseError
        raise BlinkError(f"The emulator cannot start: {exc}") from None
    requests_log = logging.getLogger("blink_desktop.emulator")
    to_stdout = logging.StreamHandler(sys.stdout)
    to_stdout.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    to_stdout.addFilter(logs.redactor)
    requests_log.addHandler(to_stdout)
    requests_log.setLevel(logging.INFO)
    print(emulator.url, flush=True)
    print(
        f"blink-desktop emulator: API key {emulator.api_key}\n"
        f"  Blink page: {emulator.url}/index.html   Stop with Ctrl-C.",
        file=sys.stderr,
        flush=True,
    )
    try:
        emulator.serve_forever()
    except KeyboardInterrupt:
        print("blink-desktop emulator: stopped.", file=sys.stderr)
    return 0
