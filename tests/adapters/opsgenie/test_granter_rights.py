"""The rights table the opsgenie-role granter checks roles against is Opsgenie's own list, and
what it says about a role reads as one sentence naming each gap."""

from __future__ import annotations

import csv

import pytest

from adapters.opsgenie.rights import RIGHTS, missing_rights, role_problem
from tests.adapters.providerhttp.openapi import REFERENCE

PREREQUISITES = REFERENCE / "opsgenie" / "user-right-prerequisites.csv"


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(",") if part.strip()]


def test_the_table_is_opsgenies_list_of_rights_and_prerequisites() -> None:
    with PREREQUISITES.open(newline="") as source:
        rows = {
            row["right"]: (
                tuple(_split(row["prerequisites"])),
                frozenset(_split(row["required_roles"])),
            )
            for row in csv.DictReader(source)
        }
    assert {name: (r.requires, r.bases) for name, r in RIGHTS.items()} == rows


def test_missing_rights_follow_prerequisites_of_prerequisites_nearest_first() -> None:
    assert missing_rights(["alert-delete"]) == ["alert-close", "alert-action"]
    assert missing_rights(["alert-close-all", "alert-close", "alert-action"]) == []
    assert missing_rights(["incident-add-responder"]) == ["alert-add-recipient", "alert-action"]


@pytest.mark.parametrize(
    ("extends", "rights", "sentence"),
    [
        ("user", ["alert-action", "alert-close", "alert-delete"], None),
        (
            "user",
            ["alert-delete", "alert-escalate"],
            "The Opsgenie role 'R' lacks rights that its rights require (alert-delete needs "
            "alert-close, which needs alert-action; alert-escalate needs alert-action): add "
            "alert-close and alert-action.",
        ),
        (
            "stakeholder",
            ["profile-edit", "reports-access"],
            "The Opsgenie role 'R' extends stakeholder, but reports-access needs a role that "
            "extends user.",
        ),
        ("observer", ["contacts-edit", "service-access-status"], None),
        (
            "admin",
            [],
            "The Opsgenie role 'R' must extend user, observer or stakeholder, not admin.",
        ),
        (
            "user",
            ["alert-action", "alert-explode"],
            "The Opsgenie role 'R' names alert-explode, which Opsgenie does not know as a right.",
        ),
    ],
)
def test_a_role_problem_is_one_sentence_naming_what_is_missing(
    extends: str, rights: list[str], sentence: str | None
) -> None:
    assert role_problem("R", extends, rights) == sentence
