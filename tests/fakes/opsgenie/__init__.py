"""A stateful fake Opsgenie for adapter tests."""

from tests.fakes.opsgenie.model import (
    CustomRole,
    IncidentRecord,
    OpsgenieState,
    Participant,
    Schedule,
    Service,
    Team,
    User,
    generate_org,
)
from tests.fakes.opsgenie.server import FakeOpsgenie
from tests.fakes.pagerduty.harness import RecordedRequest

__all__ = [
    "CustomRole",
    "FakeOpsgenie",
    "IncidentRecord",
    "OpsgenieState",
    "Participant",
    "RecordedRequest",
    "Schedule",
    "Service",
    "Team",
    "User",
    "generate_org",
]
