"""A stateful fake Opsgenie for adapter tests."""

from tests.fakes.opsgenie.model import (
    CustomRole,
    OpsgenieState,
    Participant,
    Schedule,
    Team,
    User,
    generate_org,
)
from tests.fakes.opsgenie.server import FakeOpsgenie
from tests.fakes.pagerduty.harness import RecordedRequest

__all__ = [
    "CustomRole",
    "FakeOpsgenie",
    "OpsgenieState",
    "Participant",
    "RecordedRequest",
    "Schedule",
    "Team",
    "User",
    "generate_org",
]
