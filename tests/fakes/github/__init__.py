"""A stateful fake GitHub REST API for adapter tests."""

from tests.fakes.github.server import Account, App, FakeGitHub, Team
from tests.fakes.pagerduty.harness import RecordedRequest

__all__ = ["Account", "App", "FakeGitHub", "RecordedRequest", "Team"]
