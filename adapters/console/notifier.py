"""Notices as console lines, addressed to whoever they are for, so one terminal can play the
requester and the approver in turn."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.durations import format_duration
from core.ports import MessageRef
from core.replies import describe_request
from core.requests import AccessRequest


class ConsoleNotifier:
    surface = "console"

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write

    async def ask_approvers(
        self, request: AccessRequest, approvers: Sequence[str], summary: str
    ) -> list[MessageRef]:
        for email in approvers:
            self._write(
                f"  » to {email}: {describe_request(request)} "
                f"Reply `approve {request.id}` or `deny {request.id} REASON`."
            )
        return [MessageRef(self.surface, email, email) for email in approvers]

    async def request_changed(self, request: AccessRequest, refs: Sequence[MessageRef]) -> None:
        for ref in refs:
            if ref.surface == self.surface:
                state = request.status.value.replace("_", " ")
                if request.expires_at and request.status.value == "active":
                    state += f" for {format_duration(request.duration)}"
                self._write(
                    f"  » to {ref.ref}: approval message for {request.id} updated: {state}."
                )

    async def tell(self, email: str, text: str, request: AccessRequest | None = None) -> None:
        self._write(f"  » to {email}: {text}")

    async def alert_admins(self, text: str) -> None:
        self._write(f"  » to admins: {text}")

    async def announce(self, text: str, request: AccessRequest | None = None) -> None:
        self._write(f"  » to the approvals channel: {text}")
