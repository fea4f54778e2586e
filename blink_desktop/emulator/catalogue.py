"""The institutions the emulator offers, from assets/emulator/institutions.json."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from blink_desktop import paths

MFA_AUTHORIZATIONS = ("user-mfa", "user-mfa-intermittent")


def _field(key: str) -> Callable[[Any], Any]:
    return lambda item: item.get(key)


FIELDS: dict[str, Callable[[Any], Any]] = {
    f"institution.{key}": _field(key)
    for key in (
        "id",
        "name",
        "shortName",
        "institutionType",
        "country",
        "serviceName",
        "serviceType",
        "tier",
        "authorization",
        "stage",
        "status",
    )
}


@cache
def _load(path: Path) -> tuple[dict[str, Any], ...]:
    return tuple(json.loads(path.read_text(encoding="utf-8")))


def _path() -> Path:
    return paths.assets_dir() / "emulator" / "institutions.json"


def institutions(base: str) -> list[dict[str, Any]]:
    """Every institution as the API shows it, with links on this emulator's base URL."""
    return [_with_links(item, base) for item in _load(_path())]


def institution(institution_id: str, base: str) -> dict[str, Any] | None:
    for item in _load(_path()):
        if item["id"] == institution_id:
            return _with_links(item, base)
    return None


def _with_links(item: dict[str, Any], base: str) -> dict[str, Any]:
    result = copy.deepcopy(item)
    identifier = result["id"]
    result.setdefault("logo", {"type": "image"})["links"] = {
        "square": f"{base}/logos/{identifier}.svg",
        "full": f"{base}/logos/{identifier}-full.svg",
    }
    result["links"] = {"self": f"{base}/institutions/{identifier}"}
    return result
