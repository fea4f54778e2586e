"""Shared fixtures: a clean environment for every test, and a real emulator on port 0."""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from blink_desktop import logs
from blink_desktop.emulator import Emulator
from blink_desktop.httpd import Serving

T = TypeVar("T")

FAST = 25.0  # job speed for tests: a whole job takes well under half a second


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No developer setting, proxy or config file leaks into a test."""
    for name in list(os.environ):
        if name.startswith("BLINK_DESKTOP_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    config = tmp_path / "config.toml"
    config.touch()  # an empty config file: BLINK_DESKTOP_CONFIG must name a file that exists
    monkeypatch.setenv("BLINK_DESKTOP_CONFIG", str(config))
    monkeypatch.setenv("BLINK_DESKTOP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("BLINK_DESKTOP_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture(autouse=True)
def reset_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A test that sets up logging leaves no open log file behind, and no secret for the next
    test's log to scrub: a test's short key ("abc") would blank it out of a job id there."""
    monkeypatch.setattr(logs.redactor, "_secrets", set())
    yield
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()


def at_once(calls: Sequence[Callable[[], T]], timeout: float = 60.0) -> list[T]:
    """Every call on a thread of its own, released together; their results in order, or the
    first error one of them raised. A call still running after `timeout` seconds fails the
    test (TimeoutError) rather than hanging it."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], T]) -> T:
        start.wait(timeout=10)
        return call()

    pool = ThreadPoolExecutor(len(calls))
    try:
        return list(pool.map(run, calls, timeout=timeout))
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def wait_for(check: Callable[[], T | None], timeout: float = 10.0, interval: float = 0.02) -> T:
    """Poll until check() returns something truthy, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {check}")
        time.sleep(interval)


class Api:
    """A thin client that speaks to the emulator the way any Basiq client does."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.url = emulator.url
        self.http = requests.Session()

    def call(
        self, method: str, path: str, token: str | None = None, **kwargs: Any
    ) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def token(
        self, scope: str = "SERVER_ACCESS", version: str = "2.0", user_id: str | None = None
    ) -> str:
        data = {"scope": scope}
        if user_id:
            data["userId"] = user_id
        response = self.http.post(
            f"{self.url}/token",
            headers={"Authorization": f"Basic {self.emulator.api_key}", "basiq-version": version},
            data=data,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def user(self, email: str = "gavin@hooli.com") -> str:
        response = self.call("POST", "/users", self.token(), json={"email": email})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def connect(
        self,
        user_id: str,
        login: str = "gavinBelson",
        password: str = "hooli2016",
        institution: str = "AU00000",
        token: str | None = None,
    ) -> requests.Response:
        return self.call(
            "POST",
            f"/users/{user_id}/connections",
            token or self.token("CLIENT_ACCESS"),
            json={"loginId": login, "password": password, "institution": {"id": institution}},
        )

    def job(self, job_id: str, token: str | None = None) -> dict[str, Any]:
        response = self.call("GET", f"/jobs/{job_id}", token or self.token())
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_job(
        self, job_id: str, step: str, status: str, timeout: float = 10.0
    ) -> dict[str, Any]:
        token = self.token()

        def reached() -> dict[str, Any] | None:
            job = self.job(job_id, token)
            return job if step_status(job, step) == status else None

        return wait_for(reached, timeout)

    def connected(self, user_id: str, **kwargs: Any) -> str:
        """Connect and wait for the whole job; return the connection id."""
        response = self.connect(user_id, **kwargs)
        assert response.status_code == 202, response.text
        job = self.wait_job(response.json()["id"], "retrieve-transactions", "success")
        return str(job["links"]["source"].rsplit("/", 1)[1])


def step_status(job: dict[str, Any], title: str) -> str | None:
    return next((s["status"] for s in job["steps"] if s["title"] == title), None)


def step(job: dict[str, Any], title: str) -> dict[str, Any]:
    return dict(next(s for s in job["steps"] if s["title"] == title))


def error_of(response: requests.Response) -> dict[str, Any]:
    """The single error of a Basiq envelope, after checking the envelope itself."""
    assert response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert body["type"] == "list"
    assert body["correlationId"]
    assert len(body["data"]) == 1
    assert body["data"][0]["type"] == "error"
    return dict(body["data"][0])


@contextmanager
def serving(app: Callable[..., Iterable[bytes]], port: int = 0) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 (port 0 picks one) in a thread; yield its base URL."""
    with Serving(app, port=port) as served:
        yield served.url


@contextmanager
def foreground(*command: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A long-running command and the first line it prints (a URL); always reaped."""
    with subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        try:
            yield process, process.stdout.readline().strip()
        finally:
            if process.poll() is None:
                process.kill()
            process.communicate(timeout=15)


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(job_speed=FAST) as running:
        yield running


@pytest.fixture
def api(emulator: Emulator) -> Api:
    return Api(emulator)
