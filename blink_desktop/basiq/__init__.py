"""The typed Basiq client shared by the desktop app and the reference server.

- `http`: one session per upstream, timeouts, urllib3 retries, errors a person can act on.
- `models`: Basiq's answers (token, user, job, connection, institution, account, transaction)
  as pydantic models.
- `client`: `BasiqClient`, each call returning one of those models; lists that page are
  followed to their end.
- `keyholder`: `KeyHolder`, the server role with the API key (server token cache, renewed when
  Basiq says it expired; users; client tokens; the calls that need a server token).
- `identifiers`: the one rule for a person's identifier (email or mobile).

The names below are imported from their modules when first asked for: the settings need only
`identifiers`, and the client (requests, the models) costs some 80 ms at the app's start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from blink_desktop.basiq.client import BASIQ_API, BasiqClient
    from blink_desktop.basiq.http import TokenExpired
    from blink_desktop.basiq.identifiers import Identifier
    from blink_desktop.basiq.keyholder import KeyHolder
    from blink_desktop.basiq.models import (
        Account,
        Connection,
        Institution,
        Job,
        Step,
        Token,
        Transaction,
        TransactionPage,
        User,
    )

_MODELS = ("Account", "Connection", "Institution", "Job", "Step", "Token", "Transaction")
_LAZY = {
    "BASIQ_API": "client",
    "BasiqClient": "client",
    "TokenExpired": "http",
    "Identifier": "identifiers",
    "KeyHolder": "keyholder",
    "TransactionPage": "models",
    "User": "models",
    **dict.fromkeys(_MODELS, "models"),
}

__all__ = [
    "BASIQ_API",
    "Account",
    "BasiqClient",
    "Connection",
    "Identifier",
    "Institution",
    "Job",
    "KeyHolder",
    "Step",
    "Token",
    "TokenExpired",
    "Transaction",
    "TransactionPage",
    "User",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
