"""A stateful fake Okta management API for adapter tests."""

from tests.fakes.okta.server import FakeOkta, Group, ServiceApp, User
from tests.fakes.pagerduty.harness import RecordedRequest

__all__ = ["FakeOkta", "Group", "RecordedRequest", "ServiceApp", "User"]
