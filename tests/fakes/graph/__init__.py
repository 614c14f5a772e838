"""A stateful fake Microsoft Entra ID token endpoint and Microsoft Graph for adapter tests."""

from tests.fakes.graph.server import App, FakeGraph, Group, User

__all__ = ["App", "FakeGraph", "Group", "User"]
