"""Basiq's filter grammar: `field.op('value'[, 'value'…])[,statement…]`, comma meaning AND."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OPS = ("eq", "ne", "in", "gt", "gteq", "lt", "lteq", "bt")
_STATEMENT = re.compile(r"\s*([A-Za-z][\w.]*)\.(" + "|".join(OPS) + r")\(([^()]*)\)\s*(,|$)")
_VALUE = re.compile(r"""\s*(?:'([^']*)'|"([^"]*)"|([^,'"\s]+))\s*(?:,|$)""")


class FilterError(ValueError):
    """The filter text does not follow the grammar or names an unknown field."""


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    values: tuple[str, ...]

    def matches(self, actual: Any) -> bool:
        if actual is None:
            return self.op == "ne"
        text = str(actual).lower() if isinstance(actual, bool) else str(actual)
        first = self.values[0]
        if self.op == "eq":
            return text == first
        if self.op == "ne":
            return text != first
        if self.op == "in":
            return text in self.values
        if self.op == "bt":
            return first <= text <= self.values[1]
        return {
            "gt": text > first,
            "gteq": text >= first,
            "lt": text < first,
            "lteq": text <= first,
        }[self.op]


def parse(text: str, fields: Mapping[str, Callable[[Any], Any]]) -> list[Condition]:
    conditions: list[Condition] = []
    position = 0
    while position < len(text):
        match = _STATEMENT.match(text, position)
        if not match:
            raise FilterError(f"Filter is not valid near {text[position : position + 40]!r}.")
        field, op, raw = match.group(1), match.group(2), match.group(3)
        if field not in fields:
            known = ", ".join(sorted(fields))
            raise FilterError(f"Filtering by {field!r} is not supported; use one of: {known}.")
        values = _values(raw)
        wanted = {"bt": 2, "in": None}.get(op, 1)
        if (wanted is None and not values) or (wanted is not None and len(values) != wanted):
            raise FilterError(f"{field}.{op}() got {len(values)} value(s).")
        conditions.append(Condition(field, op, values))
        position = match.end()
    return conditions


def _values(raw: str) -> tuple[str, ...]:
    values: list[str] = []
    position = 0
    while position < len(raw):
        match = _VALUE.match(raw, position)
        if not match or match.end() == position:
            raise FilterError(f"Filter value list is not valid: {raw!r}.")
        values.append(next(group for group in match.groups() if group is not None))
        position = match.end()
    return tuple(values)


def apply(
    items: list[dict[str, Any]],
    conditions: list[Condition],
    fields: Mapping[str, Callable[[Any], Any]],
) -> list[dict[str, Any]]:
    return [
        item
        for item in items
        if all(condition.matches(fields[condition.field](item)) for condition in conditions)
    ]
