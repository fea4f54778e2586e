"""A refresh's job steps shown live in a terminal (rich), or one line per change elsewhere.

`blink-desktop refresh` hands `StepsShown.step` to the connection manager as its `on_step`.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

# What each status looks like; not by colour alone, for whoever cannot tell them apart.
MARKS = {
    "success": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("–", "dim"),
    "pending": ("·", "dim"),
}


class StepsShown:
    def __init__(self, banks: dict[str, str], out: TextIO | None = None) -> None:
        self._banks = banks
        self._console = Console(file=out or sys.stdout, highlight=False)
        self._steps: dict[str, dict[str, str]] = {connection: {} for connection in banks}
        self._live: Live | None = None

    def __enter__(self) -> StepsShown:
        if self._console.is_terminal:
            self._live = Live(
                self._render(), console=self._console, refresh_per_second=8, transient=False
            )
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render(), refresh=True)
            self._live.stop()

    def step(self, connection_id: str, title: str, status: str) -> None:
        """One step of one connection's job changed."""
        self._steps.setdefault(connection_id, {})[title] = status
        if self._live is not None:
            self._live.update(self._render())
        else:
            bank = self._banks.get(connection_id, connection_id)
            self._console.print(f"{bank}: {title} {status}", markup=False)

    def _render(self) -> RenderableType:
        tables: list[RenderableType] = []
        for connection_id, steps in self._steps.items():
            table = Table.grid(padding=(0, 1))
            table.add_row(Text(self._banks.get(connection_id, connection_id), style="bold"))
            if not steps:
                table.add_row(Spinner("dots", text="asking the bank…"))
            for title, status in steps.items():
                if status == "in-progress":
                    table.add_row(Spinner("dots", text=title))
                else:
                    mark, style = MARKS.get(status, ("?", ""))
                    table.add_row(Text(f"{mark} {title} ({status})", style=style))
            tables.append(table)
        return Group(*tables)
