"""The app's wiring without a window: which upstream each mode uses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from blink_desktop import logs, upstream
from blink_desktop.app import wiring
from blink_desktop.app.bridge import Bridge
from blink_desktop.basiq.client import BasiqClient
from blink_desktop.basiq.models import Job
from blink_desktop.errors import SettingsError
from blink_desktop.settings import load_settings
from tests.app.conftest import TOKEN, message
from tests.conftest import FAST, wait_for


def test_no_api_key_means_the_embedded_emulator_with_state_beside_the_data(tmp_path: Path) -> None:
    built = wiring.build(load_settings())
    try:
        assert built.mode == "emulator"
        assert built.upstream is not None and built.upstream.emulated is True
        assert built.service.emulated is True
        assert built.service.blink_url == f"{built.upstream.api_url}/index.html"
        assert requests.get(f"{built.upstream.api_url}/index.html", timeout=10).ok
        assert (tmp_path / "data" / wiring.EMULATOR_STATE).exists()
        assert (tmp_path / "data" / wiring.DATABASE).exists()
    finally:
        built.close()


def test_a_url_without_a_key_is_a_settings_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_URL", "https://au-api.basiq.io")
    with pytest.raises(SettingsError, match="BLINK_DESKTOP_API_KEY"):
        wiring.build(load_settings())


def test_real_basiq_settings_are_used_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_API_KEY", "abc")
    built = wiring.build(load_settings())
    try:
        assert built.mode == "direct"
        assert built.upstream is not None and built.upstream.emulated is False
        assert built.upstream.api_url == "https://au-api.basiq.io"
        assert built.service.emulated is False
        assert built.service.blink_url == upstream.BASIQ_BLINK
        assert built.service.blink_origin == "https://js.basiq.io"
    finally:
        built.close()


def connect(api_url: str, user_id: str, token: str, login: str, password: str) -> str:
    """Connect as Blink would, with the session's client token; the job id."""
    response = requests.post(
        f"{api_url}/users/{user_id}/connections",
        headers={"Authorization": f"Bearer {token}"},
        json={"loginId": login, "password": password, "institution": {"id": "AU00000"}},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_the_log_says_what_happened_once_each_and_never_a_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_EMULATOR_JOB_SPEED", str(FAST))
    log_file = logs.setup(tmp_path / "logs", level="INFO")
    assert log_file is not None
    app = wiring.build(load_settings())
    try:
        assert app.upstream is not None
        api_url, bridge = app.upstream.api_url, Bridge(app.service, TOKEN)
        bridge.bootstrap(TOKEN)
        bridge.set_identifier(TOKEN, "gavin@hooli.com")
        started = bridge.start_connect(TOKEN)
        user_id, token = started["user_id"], started["access_token"]

        def done(job_id: str) -> dict[str, Any]:
            return wait_for(lambda: (reply := bridge.progress(TOKEN, job_id))["done"] and reply)

        # connected, followed to the end, completed
        first = connect(api_url, user_id, token, "gavinBelson", "hooli2016")
        bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": first}}))
        connection = job_of(app, first, lambda job: job.verified)
        reply = bridge.receive(
            TOKEN, message("connection", {"success": True, "data": {"id": connection}})
        )
        assert reply["accepted"] is True
        assert done(first)["found"] is False
        bridge.receive(TOKEN, message("completion"))
        # cancelled, then found by following the job
        second = connect(api_url, user_id, token, "jared", "django")
        bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": second}}))
        bridge.receive(TOKEN, message("cancellation"))
        adopted = done(second)["connection_id"]
        # failed
        third = connect(api_url, user_id, token, "bighead", "password")
        bridge.receive(TOKEN, message("job", {"success": True, "data": {"id": third}}))
        assert done(third)["failed"] is True
        failure = {"code": "invalid-credentials", "title": "Account is locked\nforged line"}
        bridge.receive(TOKEN, message("connection", {"success": False, "data": failure}))
        # made with Blink's panel closed before even the job event: found by reconcile
        fourth = connect(api_url, user_id, token, "richard", "tabsnotspaces")
        fourth_connection = job_of(app, fourth, lambda job: job.done)
        assert bridge.reconcile(TOKEN)["found"] == [fourth_connection]
        server_token = app.service._provider.server_token()  # type: ignore[attr-defined]
        api_key = app.upstream.api_key
    finally:
        app.close()
    text = log_file.read_text()
    once = [
        "blink-desktop started: emulator mode",
        "identity set",
        "connect started",
        f"Blink: job {first} started",
        f"Blink: connected {connection}",  # Blink names no bank; the job's end does
        f"job {first} done: connection {connection} at Hooli is active",
        "Blink: completed",
        f"Blink: cancelled after job {second}",
        f"connection {adopted} found by following job {second}",
        f"job {second} done: connection {adopted} at Hooli is active",
        "Blink: connecting failed: invalid-credentials: Account is locked forged line",
        f"connection {fourth_connection} found at Basiq",
        "blink-desktop stopped",
    ]
    for line in once:
        assert text.count(line) == 1, (line, text)
    assert len(text.splitlines()) == len(once) + 2  # and the two other jobs' starts
    assert " INFO " in text and " DEBUG " not in text
    assert "/logos/" not in text and "GET /jobs" not in text  # the emulator's requests
    for secret in (token, server_token, api_key):
        assert secret not in text


def job_of(app: wiring.App, job_id: str, reached: Callable[[Job], bool]) -> str:
    """Wait, with the app's server token and behind the app's back, until the job has reached
    a point; its connection's id."""
    assert app.upstream is not None
    client = BasiqClient(app.upstream.api_url)
    server_token = app.service._provider.server_token()  # type: ignore[attr-defined]

    def check() -> str | None:
        job = client.job(server_token, job_id)
        return job.connection_id if reached(job) else None

    return wait_for(check)


def test_at_debug_the_embedded_emulators_requests_are_logged_scrubbed(
    tmp_path: Path,
) -> None:
    log_file = logs.setup(tmp_path / "logs", level="DEBUG")
    assert log_file is not None
    app = wiring.build(load_settings())
    try:
        assert app.upstream is not None
        url = f"{app.upstream.api_url}/index.html?user_id=u1&access_token=secret.client.token"
        assert requests.get(url, timeout=10).ok
        logging.getLogger("blink_desktop.app").info("the key is %s", app.upstream.api_key)
        api_key = app.upstream.api_key
    finally:
        app.close()
    text = log_file.read_text()
    assert " DEBUG blink_desktop.emulator: GET /index.html?user_id=u1&access_token=[redacted]" in (
        text
    )
    assert "secret.client.token" not in text and api_key not in text
    assert "the key is [redacted]" in text
    # once the app has stopped, the emulator's logger is as it was
    assert logging.getLogger("blink_desktop.emulator").filters == []


def test_the_start_line_names_the_upstream_without_its_secrets(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("BLINK_DESKTOP_BACKEND_URL", "https://me:hunter2@server.example/api?k=v")
    monkeypatch.setenv("BLINK_DESKTOP_CLIENT_ID", "app-1")
    with caplog.at_level(logging.INFO, logger="blink_desktop.app.wiring"):
        wiring.build(load_settings()).close()
    started, stopped = (record.getMessage() for record in caplog.records)
    assert started.startswith(
        "blink-desktop started: backend mode, your server at https://server.example/api; "
        "Blink at https://js.basiq.io/index.html; data in "
    )
    assert "hunter2" not in started and "k=v" not in started
    assert stopped == "blink-desktop stopped (backend mode)"
