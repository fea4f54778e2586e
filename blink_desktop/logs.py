"""Logging to a rotating file in the log dir, with secrets scrubbed from every record."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from pathlib import Path
from typing import Any

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Blink's access_token=, the Consent UI's token= (and any other token= in a URL or a form).
_QUERY_SECRET = re.compile(r"(?<![A-Za-z0-9_])((?:access_)?token=)[^&\s\"']+")
# A JWT wherever it stands (Basiq's tokens and the emulator's are JWTs): header.payload.sig.
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+")


class Redactor(logging.Filter):
    """Blanks out access tokens and any registered secret, whatever the message."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add_secret(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def scrub(self, text: str) -> str:
        text = _BEARER.sub(r"\1[redacted]", _QUERY_SECRET.sub(r"\1[redacted]", text))
        text = _JWT.sub("[redacted]", text)
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.scrub(message), None
        if record.exc_text:
            record.exc_text = self.scrub(record.exc_text)
        return True


redactor = Redactor()


class _OwnerOnlyFileHandler(logging.handlers.RotatingFileHandler):
    """Every log file, the rotated ones included, readable by its owner only."""

    def _open(self) -> Any:
        # Created owner-only before logging opens it, so it is never readable by others.
        os.close(os.open(self.baseFilename, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600))
        os.chmod(self.baseFilename, 0o600)
        return super()._open()


def setup(log_dir: Path, *, level: str = "INFO", console: bool = False) -> Path | None:
    """Send logs to log_dir/blink-desktop.log (and stderr when console); return the file."""
    root = logging.getLogger()
    root.setLevel(level)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    log_file: Path | None = log_dir / "blink-desktop.log"
    handlers: list[logging.Handler] = []
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            _OwnerOnlyFileHandler(
                log_dir / "blink-desktop.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
            )
        )
    except OSError as exc:
        # A read-only or full disk must not stop the app; say so where someone can see it.
        print(f"blink-desktop: cannot write logs to {log_dir}: {exc}", file=sys.stderr)
        log_file = None
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(redactor)
        root.addHandler(handler)
    return log_file
