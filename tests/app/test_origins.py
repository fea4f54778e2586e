"""Origins as the engine writes them, so the app's comparisons agree with the page's."""

from __future__ import annotations

import pytest

from blink_desktop.app.origins import origin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8228/desktop.html?x=1#y", "http://127.0.0.1:8228"),
        ("HTTPS://JS.Basiq.IO:443/index.html", "https://js.basiq.io"),
        ("http://example.com:80/", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("https://user:secret@example.com/path", "https://example.com"),
        ("http://[::1]:9000/", "http://[::1]:9000"),
        ("http://example.com:99999/", "null"),
        ("http://example.com:port/", "null"),
        ("file:///work/assets/desktop.html", "file://"),
        ("about:blank", "null"),
        ("basiq://connection/{}", "null"),
        ("", "null"),
    ],
)
def test_an_origin_is_written_as_the_browser_writes_it(url: str, expected: str) -> None:
    assert origin(url) == expected
