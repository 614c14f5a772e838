"""A stateful fake PagerDuty for adapter tests and the sync bench."""

from tests.fakes.pagerduty.generator import OrgShape, generate_org
from tests.fakes.pagerduty.harness import FakeServer, RecordedRequest
from tests.fakes.pagerduty.model import EscalationPolicy, Schedule, Target, Team, User
from tests.fakes.pagerduty.server import FakePagerDuty

__all__ = [
    "EscalationPolicy",
    "FakePagerDuty",
    "FakeServer",
    "OrgShape",
    "RecordedRequest",
    "Schedule",
    "Target",
    "Team",
    "User",
    "generate_org",
]
