"""A stateful fake Atlassian site with JSM operations, for adapter tests."""

from tests.fakes.jsm.model import (
    ALL_RIGHTS,
    Alert,
    Credential,
    JsmState,
    OnCall,
    Participant,
    Schedule,
    Team,
    User,
    generate_org,
)
from tests.fakes.jsm.server import FakeJsm
from tests.fakes.pagerduty.harness import RecordedRequest

__all__ = [
    "ALL_RIGHTS",
    "Alert",
    "Credential",
    "FakeJsm",
    "JsmState",
    "OnCall",
    "Participant",
    "RecordedRequest",
    "Schedule",
    "Team",
    "User",
    "generate_org",
]
