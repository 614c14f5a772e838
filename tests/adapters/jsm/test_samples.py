"""The published JSM operations samples: the mapping reads them, and the fake answers in them.

There is no machine-readable spec saved for JSM operations, so the response samples from
Atlassian's reference (`tests/reference/samples/jsm-ops/`) are the yardstick: every field the
fake sends must exist at the same place in the sample (the fake invents nothing), and the
mapping must read the samples themselves correctly.
"""

from __future__ import annotations

import json
from typing import Any

from adapters.jsm.mapping import oncall_accounts
from tests.adapters.jsm.conftest import Make, seed_small
from tests.fakes.jsm import FakeJsm
from tests.reference_files import REFERENCE

SAMPLES = REFERENCE / "samples"
JSM = SAMPLES / "jsm-ops"


def sample(name: str) -> Any:
    return json.loads((JSM / name).read_text(encoding="utf-8"))


def shape(node: Any, at: str = "") -> set[str]:
    """Every field path in a JSON document, lists written `[]` (values ignored)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{at}.{key}" if at else key
            found.add(path)
            found |= shape(value, path)
    elif isinstance(node, list):
        for item in node:
            found |= shape(item, f"{at}[]")
    return found


def test_the_mapping_reads_the_published_on_calls_sample() -> None:
    body = sample("schedules.on-calls.200.json")
    accounts, teams = oncall_accounts(body, {})
    # the user appears directly and again under the escalation (forwarded): counted once
    assert accounts == ["5b2b0e011b3a756623f4e25e"]
    assert teams == ["bc667897-cb21-496f-a46e-7c05ff0419dd"]
    members = {"bc667897-cb21-496f-a46e-7c05ff0419dd": ["acc-1", "acc-2"]}
    assert oncall_accounts(body, members) == (["acc-1", "acc-2", "5b2b0e011b3a756623f4e25e"], [])


async def test_the_fake_answers_in_the_published_shapes(jsm: FakeJsm, make: Make) -> None:
    seed_small(jsm)
    jsm.schedules_page_max = 2
    await make().fetch()
    listed = [r.body for r in jsm.requests_to("*/v1/schedules")]
    oncalls = [r.body for r in jsm.requests_to("*/on-calls")]
    allowed_list = shape(sample("schedules.list.200.json"))
    allowed_oncalls = shape(sample("schedules.on-calls.200.json"))
    assert len(listed) >= 2 and oncalls
    for body in listed:
        assert shape(body) <= allowed_list, shape(body) - allowed_list
        assert set(body) == {"values", "links", "_expands"}
    for body in oncalls:
        assert shape(body) <= allowed_oncalls, shape(body) - allowed_oncalls
    assert any("links.next" in shape(b) for b in listed)
    link = next(b["links"]["next"] for b in listed if b["links"].get("next"))
    assert link.startswith("/v1/schedules?offset=")  # written from the API root, as sampled
