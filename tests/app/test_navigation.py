"""Which pages get the bridge: the app's own origin only (navigation.own_page)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from blink_desktop.app import navigation

OWN = "http://127.0.0.1:41234/desktop.html"


def window(real_url: str | None) -> Any:
    return SimpleNamespace(real_url=real_url)  # all own_page reads of pywebview's Window


@pytest.mark.parametrize(
    ("url", "own"),
    [
        ("http://127.0.0.1:41234/desktop.html#connection", True),
        ("HTTP://127.0.0.1:41234/other.html", True),
        ("http://127.0.0.1:41235/desktop.html", False),  # another port: the emulator's Blink
        ("http://localhost:41234/desktop.html", False),
        ("https://127.0.0.1:41234/desktop.html", False),
        ("https://consent.basiq.io/home?state=x", False),
        ("about:blank", False),
        ("data:text/html,<p>hi</p>", False),
        ("", False),
    ],
)
def test_only_the_apps_own_origin_is_its_own_page(url: str, own: bool) -> None:
    assert navigation.own_page(window(OWN), url) is own


@pytest.mark.parametrize("url", ["", "about:blank", "data:text/html,x", OWN])
def test_no_page_is_its_own_before_the_window_has_one(url: str) -> None:
    assert navigation.own_page(window(None), url) is False
