"""The institutions the emulator offers, from assets/emulator/institutions.json.

A bank connects by a web login (Basiq's web connectors) or by open banking, which its
`features.login` names ("open-banking") as Basiq's institutions do.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from blink_desktop import paths
from blink_desktop.emulator.links import Links

MFA_AUTHORIZATIONS = ("user-mfa", "user-mfa-intermittent")


def method(institution: dict[str, Any]) -> str:
    """How a connection to this bank is made: "web" or "openbanking"."""
    logins = institution.get("features", {}).get("login", [])
    return "openbanking" if "open-banking" in logins else "web"


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


def find(institution_id: str) -> dict[str, Any] | None:
    """The institution as stored, without links: for rules that only need its facts."""
    for item in _load(_path()):
        if item["id"] == institution_id:
            return item
    return None


def institutions(links: Links) -> list[dict[str, Any]]:
    """Every institution as the API shows it, with links on this emulator's base URL."""
    return [shown(item, links) for item in _load(_path())]


def institution(institution_id: str, links: Links) -> dict[str, Any] | None:
    item = find(institution_id)
    return shown(item, links) if item is not None else None


def shown(item: dict[str, Any], links: Links) -> dict[str, Any]:
    result = copy.deepcopy(item)
    identifier = result["id"]
    result.setdefault("logo", {"type": "image"})["links"] = {
        "square": links.logo(identifier),
        "full": links.logo(identifier, full=True),
    }
    result["links"] = {"self": links.institution(identifier)}
    return result
