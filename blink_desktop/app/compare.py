"""Comparing what a page sends with a secret the app holds (the bridge's token, a visit's
state): in constant time, and never raising, whatever the page sends."""

from __future__ import annotations

import hmac


def same_secret(offered: object, expected: str) -> bool:
    if not isinstance(offered, str):
        return False
    return hmac.compare_digest(
        offered.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
