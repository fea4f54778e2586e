"""Jobs: their steps on the emulator's clock, MFA challenges and answers, the jobs list."""

from __future__ import annotations

from typing import Any

import pytest

from blink_desktop.emulator import Emulator, FakeClock
from tests.conftest import Api, error_of, step, step_status
from tests.emulator.conftest import advance_until

STEPS = ["verify-credentials", "retrieve-accounts", "retrieve-transactions"]


def statuses(job: dict[str, Any]) -> list[str]:
    return [s["status"] for s in job["steps"]]


def timeline_of(clock: FakeClock, api: Api, job_id: str) -> list[tuple[float, list[str]]]:
    """Each change of the job's step statuses, with the emulated seconds since it started."""
    started, token = clock(), api.token()
    changes: list[tuple[float, list[str]]] = []

    def done() -> bool:
        now = statuses(api.job(job_id, token))
        if not changes or changes[-1][1] != now:
            changes.append((clock() - started, now))
        return now[-1] in ("success", "failed") or now[0] == "failed"

    advance_until(clock, done)
    return changes


def test_steps_move_through_pending_and_in_progress(clock: FakeClock, capi: Api) -> None:
    job_id = capi.connect(capi.user()).json()["id"]
    changes = timeline_of(clock, capi, job_id)
    assert [seen for _, seen in changes] == [
        ["pending", "pending", "pending"],
        ["in-progress", "pending", "pending"],
        ["success", "in-progress", "pending"],
        ["success", "success", "in-progress"],
        ["success", "success", "success"],
    ]
    # Basiq's pace at job speed 1: credentials verified after 1 to 2 s, the job done in 3 to 6 s.
    verified, finished = changes[2][0], changes[4][0]
    assert 1.0 <= verified <= 2.0 + 0.05
    assert 3.0 <= finished <= 6.0 + 0.05


def test_job_speed_divides_every_step(clock: FakeClock) -> None:
    with Emulator(clock=clock, job_speed=4) as emulator:
        api = Api(emulator)
        changes = timeline_of(clock, api, api.connect(api.user()).json()["id"])
    assert changes[-1][1] == ["success", "success", "success"]
    assert 3.0 / 4 <= changes[-1][0] <= 6.0 / 4 + 0.05


def mfa_connect(
    api: Api, login: str = "gavinBelson", password: str = "hooli2016", institution: str = "AU00002"
) -> tuple[str, str]:
    user = api.user()
    client = api.token("CLIENT_ACCESS", "2.1")
    response = api.connect(user, login, password, institution, token=client)
    assert response.status_code == 202, response.text
    return response.json()["id"], client


@pytest.mark.parametrize(
    ("login", "password", "answer", "method"),
    [
        ("gavinBelson", "hooli2016", ["Hooli"], "security-questions"),
        ("jared", "django", ["1234"], "token"),
        ("Whistler", "ShowBox", ["Basiq", "AU00000"], "security-questions"),
    ],
)
def test_mfa_challenge_answered_right(
    api: Api, login: str, password: str, answer: list[str], method: str
) -> None:
    job_id, client = mfa_connect(api, login, password)
    job = api.wait_job(job_id, "mfa-challenge", "in-progress")
    assert [s["title"] for s in job["steps"]] == [
        "verify-credentials",
        "mfa-challenge",
        "retrieve-accounts",
        "retrieve-transactions",
    ]
    assert step_status(job, "verify-credentials") == "in-progress"
    challenge = step(job, "mfa-challenge")["result"]
    assert challenge["type"] == "mfa"
    assert challenge["method"] == method
    assert len(challenge["input"]) == len(answer)
    assert challenge["expiryMs"] > 0
    assert challenge["links"]["response"] == f"{api.url}/jobs/{job_id}/mfa"
    answered = api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": answer})
    assert answered.status_code == 202
    assert answered.json()["id"] == job_id
    done = api.wait_job(job_id, "retrieve-transactions", "success")
    assert step_status(done, "mfa-challenge") == "success"
    assert step_status(done, "verify-credentials") == "success"


def test_mfa_wrong_answer_fails_the_login(api: Api) -> None:
    job_id, client = mfa_connect(api)
    api.wait_job(job_id, "mfa-challenge", "in-progress")
    api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Google"]})
    job = api.wait_job(job_id, "verify-credentials", "failed")
    assert step_status(job, "mfa-challenge") == "failed"
    assert step(job, "verify-credentials")["result"]["code"] == "invalid-credentials"
    again = api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Hooli"]})
    assert again.status_code == 400


@pytest.mark.parametrize("body", [{}, {"mfa-response": "Hooli"}, {"mfa-response": [1]}, []])
def test_mfa_malformed_answers(api: Api, body: Any) -> None:
    job_id, client = mfa_connect(api)
    api.wait_job(job_id, "mfa-challenge", "in-progress")
    assert api.call("POST", f"/jobs/{job_id}/mfa", client, json=body).status_code == 400
    assert step_status(api.job(job_id), "mfa-challenge") == "in-progress"


def test_mfa_bank_needs_a_version_2_1_token(api: Api) -> None:
    user = api.user()
    response = api.connect(user, institution="AU00002", token=api.token("CLIENT_ACCESS", "2.0"))
    assert response.status_code == 400
    assert "2.1" in error_of(response)["detail"]
    assert api.call("GET", f"/users/{user}/connections", api.token()).json()["data"] == []


def test_nucleus_asks_on_alternate_attempts(api: Api) -> None:
    user = api.user()
    client = api.token("CLIENT_ACCESS", "2.1")
    first = api.connect(user, institution="AU00003", token=client).json()["id"]
    api.wait_job(first, "mfa-challenge", "in-progress")
    second = api.connect(user, "jared", "django", "AU00003", token=client).json()["id"]
    job = api.wait_job(second, "retrieve-transactions", "success")
    assert step_status(job, "mfa-challenge") == "skipped"


def test_wrong_password_at_an_mfa_bank_fails_before_any_challenge(api: Api) -> None:
    job_id, _ = mfa_connect(api, password="nope")
    job = api.wait_job(job_id, "verify-credentials", "failed")
    assert step_status(job, "mfa-challenge") == "pending"


@pytest.mark.parametrize("speed", [1.0, 400.0])
def test_mfa_challenge_expires(clock: FakeClock, speed: float) -> None:
    with Emulator(clock=clock, job_speed=speed) as emulator:
        api = Api(emulator)
        job_id, client = mfa_connect(api)
        user = api.job(job_id)["links"]["source"].split("/")[-3]

        def challenged() -> bool:
            return step_status(api.job(job_id), "mfa-challenge") == "in-progress"

        advance_until(clock, challenged, step=0.01)
        first = step(api.job(job_id), "mfa-challenge")["result"]["expiryMs"]
        assert 120_000 / speed - 11 <= first <= 120_000 / speed  # two minutes at Basiq's pace
        clock.advance((first - 100) / 1000)
        waiting = api.job(job_id)
        assert statuses(waiting)[:2] == ["in-progress", "in-progress"]
        # 100 ms and the part of a millisecond `first` dropped; epoch seconds in a float are
        # a quarter of a microsecond apart, which can tip the truncated count either way.
        assert step(waiting, "mfa-challenge")["result"]["expiryMs"] in (99, 100, 101)
        clock.advance(0.101)
        job = api.job(job_id)
        assert statuses(job) == ["failed", "failed", "pending", "pending"]
        assert step(job, "verify-credentials")["result"]["code"] == "job-timed-out"
        late = api.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Hooli"]})
        assert late.status_code == 400
        assert "not waiting" in error_of(late)["detail"]
        assert api.call("GET", f"/users/{user}/connections", api.token()).json()["data"] == []


def test_a_right_answer_logs_in_half_a_second_later(clock: FakeClock, capi: Api) -> None:
    job_id, client = mfa_connect(capi)
    advance_until(clock, lambda: step_status(capi.job(job_id), "mfa-challenge") == "in-progress")
    answered = capi.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Hooli"]})
    assert answered.status_code == 202
    assert statuses(capi.job(job_id))[:2] == ["in-progress", "in-progress"]
    again = capi.call("POST", f"/jobs/{job_id}/mfa", client, json={"mfa-response": ["Hooli"]})
    assert again.status_code == 400  # one answer per challenge
    clock.advance(0.4)
    assert statuses(capi.job(job_id))[0] == "in-progress"
    clock.advance(0.1)
    assert statuses(capi.job(job_id))[:3] == ["success", "success", "in-progress"]


def test_the_jobs_list_keeps_seven_days(clock: FakeClock, capi: Api) -> None:
    user = capi.user()
    first = capi.connect(user).json()["id"]
    clock.advance(7 * 86400 - 1)
    second = capi.connect(user, login="jared", password="django").json()["id"]

    def listed() -> list[str]:
        jobs = capi.call("GET", f"/users/{user}/jobs", capi.token()).json()["data"]
        return [job["id"] for job in jobs]

    assert listed() == [second, first]  # newest first
    clock.advance(1)
    assert listed() == [second, first]
    clock.advance(0.5)
    assert listed() == [second]
