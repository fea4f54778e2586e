"""Fault injection: latency, 500/503 answers and 429 with Retry-After, per route."""

from __future__ import annotations

import fnmatch
import random
import shlex
import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Fault(BaseModel):
    """One rule. `route` is `[METHOD ]PATH-PATTERN` with shell wildcards, e.g. `POST /users/*`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    route: str = "*"
    latency: float = Field(default=0.0, ge=0, le=60, description="seconds added before answering")
    status: Literal[429, 500, 503] | None = None
    rate: float = Field(default=1.0, ge=0, le=1, description="share of matching requests hit")
    retry_after: int = Field(default=1, ge=0, le=3600)
    times: int | None = Field(default=None, ge=1, description="stop after this many hits")

    @field_validator("status", mode="before")
    @classmethod
    def _status_from_text(cls, value: object) -> object:
        # The command line gives "503"; a Literal of ints does not coerce text by itself.
        return int(value) if isinstance(value, str) and value.isdigit() else value

    def applies_to(self, method: str, path: str) -> bool:
        wanted_method, _, pattern = self.route.rpartition(" ")
        if wanted_method and wanted_method.upper() != method.upper():
            return False
        return fnmatch.fnmatchcase(path, pattern)

    @classmethod
    def parse(cls, text: str) -> Fault:
        """From the command line: `ROUTE key=value…`, e.g. `'POST /token' status=503 rate=0.5`."""
        words = shlex.split(text)
        route = [word for word in words if "=" not in word]
        options = dict(word.split("=", 1) for word in words if "=" in word)
        try:
            return cls.model_validate({"route": " ".join(route) or "*", **options})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise ValueError(f"fault {text!r} is not valid: {problems}") from None


class Faults:
    """The active rules; thread-safe, and seeded so a run with faults repeats exactly."""

    def __init__(self, seed: int = 0) -> None:
        self._rules: list[Fault] = []
        self._hits: dict[int, int] = {}
        self._lock = threading.Lock()
        self._random = random.Random(seed)

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self._rules.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._hits.clear()

    def pick(self, method: str, path: str) -> tuple[float, Fault | None]:
        """(latency to add, the rule whose error to answer with, if any)."""
        latency = 0.0
        with self._lock:
            for index, rule in enumerate(self._rules):
                if not rule.applies_to(method, path):
                    continue
                if rule.times is not None and self._hits.get(index, 0) >= rule.times:
                    continue
                if self._random.random() >= rule.rate:
                    continue
                self._hits[index] = self._hits.get(index, 0) + 1
                latency += rule.latency
                if rule.status is not None:
                    return latency, rule
        return latency, None
