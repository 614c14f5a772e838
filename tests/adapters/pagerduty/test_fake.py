"""The fake's own promises: deterministic generation, one-shot faults, latency, recording."""

from __future__ import annotations

import time

import httpx

from tests.adapters.pagerduty.conftest import NOW
from tests.fakes.pagerduty import FakePagerDuty, generate_org
from tests.fakes.pagerduty.model import PagerDutyState


def test_generator_is_deterministic_by_seed() -> None:
    def org(seed: int) -> list[tuple[str, str | None, str]]:
        state = PagerDutyState()
        generate_org(state, users=200, schedules=30, escalation_policies=9, seed=seed, now=NOW)
        users = [(u.name, u.email, u.role) for u in state.users.values()]
        shifts = [(s.schedule_id, s.user_id, s.start.isoformat()) for s in state.shifts]
        return users + shifts

    assert org(3) == org(3)
    assert org(3) != org(4)


async def test_faults_latency_and_recording() -> None:
    async with FakePagerDuty(api_keys={"k"}, latency=0.05) as pd:
        pd.fail("/oncalls", 429, at=3, headers={"ratelimit-reset": "9"})
        pd.fail("/users", 503)
        headers = {"Authorization": "Token token=k", "Accept": "application/json"}
        async with httpx.AsyncClient(base_url=pd.url, headers=headers) as http:
            started = time.monotonic()
            statuses = [
                (await http.get("/oncalls", params={"limit": 1})).status_code for _ in range(4)
            ]
            assert time.monotonic() - started >= 4 * 0.05
            throttled = await http.get("/oncalls")  # one-shot: already used up
            assert statuses == [200, 200, 429, 200] and throttled.status_code == 200
            assert [(await http.get("/users")).status_code for _ in range(2)] == [503, 200]
            wrong = await http.get("/users", headers={"Authorization": "Token token=nope"})
            assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 2006
    third = pd.requests_to("/oncalls")[2]
    assert third.status == 429 and third.body == {
        "error": {"message": "Rate Limit Exceeded", "code": 2020}
    }
    assert third.param("limit") == "1" and third.headers["Authorization"] == "Token token=k"
    assert pd.url.startswith("http://127.0.0.1:") and not pd.url.endswith(":0")
