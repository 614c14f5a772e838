"""What a notifier reads from the core to word a notice: the time, the admins, and how many
approvals a request needs. It depends on the clock, the policy and the settings only, not on the
service, so the notifiers the service tells can be built before it, in one pass."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from core.policy import Policy
from core.ports import Clock
from core.requests import AccessRequest


@dataclass(frozen=True, slots=True)
class RequestCard:
    """A request as an approval card or message draws it."""

    request: AccessRequest
    required: int  # distinct approvals the resource needs


@dataclass(frozen=True)
class NoticeViews:
    clock: Clock
    policy: Callable[[], Policy]
    admin_emails: frozenset[str]

    def now(self) -> datetime:
        return self.clock.now()

    def admins(self) -> frozenset[str]:
        """Who is told of trouble (a failing sync, a revoke that keeps failing)."""
        return self.admin_emails

    def card_of(self, request: AccessRequest) -> RequestCard:
        resource = self.policy().resources.get(request.resource)
        return RequestCard(request, resource.approve.required if resource else 1)
