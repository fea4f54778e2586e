"""A real PostgreSQL for the server's tests, with nothing installed by hand: pgserver's
binaries (a PyPI wheel), started once per session in a folder of its own, listening on a Unix
socket only. Each test gets a schema of its own in one database, which costs milliseconds
where a database costs a tenth of a second."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path
from urllib.parse import quote

import psycopg

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR is not set
    from pgserver._commands import POSTGRES_BIN_PATH
    from pgserver.postgres_server import get_server


class Postgres:
    """A PostgreSQL server in a temporary folder, and the way tests use it."""

    def __init__(self) -> None:
        # Not under pytest's own temporary folder: pgserver, run as root, hands pgdata to a
        # user of its own and opens the folders above it to that user.
        self.folder = Path(tempfile.mkdtemp(prefix="blink-pg-"))
        self._server = get_server(self.folder / "pgdata", cleanup_mode="delete")
        self.url = self._server.get_uri()
        self._schemas = 0

    def new_schema(self) -> str:
        """A URL whose tables live in a new, empty schema."""
        self._schemas += 1
        name = f"test_{self._schemas}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}&options={quote(f'-c search_path={name}')}"

    def stop(self) -> None:
        """Stop the server at once, as a crash or a failover would: open connections break."""
        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self._server.pgdata), "-w"]
            + ["-m", "immediate", "stop"],
            user=self._server.system_user,
            check=True,
            capture_output=True,
            timeout=30,
        )

    def start(self) -> None:
        self._server.ensure_postgres_running()

    def close(self) -> None:
        try:
            self._server.cleanup()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)
