"""Transactions to a file a person chose: CSV (the csv module) or JSON, through the save dialog.

The window asks where with the system's save dialog (`ask_where`, pywebview); the connection
page (connection_page.py) then writes here. Nothing is written until a path is chosen, and a
file is written whole or not at all (a temporary file beside it, then renamed).
"""

from __future__ import annotations

import csv
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from blink_desktop.errors import BlinkError

if TYPE_CHECKING:  # the window imports this module at start; the ledger when it writes
    from blink_desktop.app.ledger import StoredTransaction

Format = Literal["csv", "json"]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def parse_format(value: object) -> Format:
    if value == "csv" or value == "json":
        return value
    raise BlinkError("Export as CSV or JSON.")


def suggested_name(bank: str | None, fmt: Format, today: date | None = None) -> str:
    """ "hooli-transactions-2026-12-02.csv", or "all-transactions-…" for every bank."""
    stem = _UNSAFE.sub("-", (bank or "all").lower()).strip("-") or "bank"
    return f"{stem}-transactions-{(today or date.today()).isoformat()}.{fmt}"


def ask_where(window: Any, suggested: str, fmt: Format) -> Path | None:
    """The system's save dialog, over `window` (pywebview); None when the person cancels."""
    import webview

    kind = "CSV files (*.csv)" if fmt == "csv" else "JSON files (*.json)"
    chosen = window.create_file_dialog(
        webview.FileDialog.SAVE, save_filename=suggested, file_types=(kind, "All files (*.*)")
    )
    if isinstance(chosen, list | tuple):  # some backends answer a sequence
        chosen = chosen[0] if chosen else None
    return Path(chosen) if chosen else None


def write(path: Path, transactions: Sequence[StoredTransaction], fmt: Format) -> Path:
    """Write every transaction to `path` (given the format's extension if it has none and
    does not exist), replacing it; where it was written. Owner-only, as the database is."""
    path = path.expanduser()
    if not path.suffix and not path.exists():
        path = path.with_name(f"{path.name}.{fmt}")  # the dialog may leave the extension off
    from blink_desktop.app.ledger import StoredTransaction

    columns = [field.name for field in fields(StoredTransaction)]
    folder = path.parent
    if not folder.is_dir():
        raise BlinkError(f"Could not save the export: the folder {folder} does not exist.")
    try:
        handle, temporary = tempfile.mkstemp(prefix=".export-", dir=folder)
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                if fmt == "csv":
                    writer = csv.DictWriter(out, fieldnames=columns)
                    writer.writeheader()
                    writer.writerows(asdict(item) for item in transactions)
                else:
                    json.dump([asdict(item) for item in transactions], out, indent=2)
                    out.write("\n")
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise BlinkError(f"Could not save the export to {path}: {exc.strerror or exc}.") from exc
    return path
