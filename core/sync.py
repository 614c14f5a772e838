"""Roster sync: fetch each provider's whole roster and swap it in atomically, or keep the old one.

A failure is recorded with its reason; after three in a row the admins are told. After every
sync, groups the policy names but no provider has are reported.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from core.audit import AuditEvent
from core.errors import DomainError
from core.groups import GroupRef, Provider
from core.identity import SYSTEM
from core.policy import Policy
from core.ports import NO_METRICS, Clock, Metrics, Notifier, RosterProvider, RosterStore
from core.roster import RosterSnapshot

log = logging.getLogger(__name__)
ALERT_AFTER_FAILURES = 3


@dataclass(frozen=True, slots=True)
class SyncOutcome:
    provider: Provider
    ok: bool
    counts: dict[str, int] = field(default_factory=dict)
    api_calls: int = 0
    seconds: float = 0.0
    error: str = ""
    warnings: tuple[str, ...] = ()
    missing_groups: tuple[GroupRef, ...] = ()
    calls_saved: int = 0  # by an incremental sync, against the last full one

    def summary(self) -> str:
        name = self.provider.display
        if not self.ok:
            return f"{name}: sync failed: {self.error}"
        c = self.counts
        text = (
            f"{name}: synced {c.get('groups', 0)} groups, {c.get('people', 0)} people, "
            f"{c.get('shifts', 0)} shifts in {self.seconds:.1f}s ({self.api_calls} API calls"
        )
        if self.calls_saved:
            text += (
                f", {self.calls_saved:,} saved: only what can have changed since the last full "
                "sync was read"
            )
        text += ")."
        if c.get("unlisted"):
            text += f" {c['unlisted']:,} directory entries were not listed."
        if self.warnings:
            text += f" {len(self.warnings)} warnings: " + "; ".join(self.warnings[:5])
        if self.missing_groups:
            text += " The policy names groups this provider does not have: " + ", ".join(
                str(g) for g in self.missing_groups
            )
        return text


class RosterSyncer:
    def __init__(
        self,
        providers: Callable[[], Sequence[RosterProvider]],
        store: RosterStore,
        notifier: Notifier,
        clock: Clock,
        policy: Callable[[], Policy],
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._providers = providers
        self._metrics = metrics
        self._store = store
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    async def sync_all(self) -> list[SyncOutcome]:
        return [await self.sync(p) for p in self._providers()]

    async def sync(self, provider: RosterProvider) -> SyncOutcome:
        started = time.monotonic()
        try:
            result = await provider.fetch()
        except Exception as exc:
            self._metrics.sync_finished(
                provider.provider.value, time.monotonic() - started, ok=False
            )
            reason = exc.message if isinstance(exc, DomainError) else _plain(exc)
            if not isinstance(exc, DomainError):
                log.warning("roster sync of %s failed: %s", provider.provider.value, reason)
            failures = await self._store.record_failure(
                provider.provider, self._clock.now(), reason
            )
            if failures == ALERT_AFTER_FAILURES:
                await self._notifier.alert_admins(
                    f"{provider.provider.display} roster sync failed {failures} times in a row: {reason}. "
                    "On-call decisions use the last good roster until it is too old."
                )
            return SyncOutcome(
                provider.provider, False, error=reason, seconds=time.monotonic() - started
            )
        snapshot = result.snapshot
        seconds = time.monotonic() - started
        self._metrics.sync_finished(provider.provider.value, seconds, ok=True)
        missing = tuple(
            sorted(
                g
                for g in self._policy().groups()
                if g.provider == snapshot.provider and g.base not in snapshot.groups
            )
        )
        level_gaps = _level_gaps(self._policy().groups(), snapshot)
        detail = {
            "provider": snapshot.provider.value,
            "counts": snapshot.counts,
            "seconds": round(seconds, 3),
            "api_calls": result.api_calls,
            "calls_saved": result.calls_saved,
            "warnings": list(snapshot.warnings[:50]),
            "missing_groups": [str(g) for g in missing],
            "level_gaps": level_gaps,
        }
        await self._store.replace(
            snapshot, AuditEvent("roster.synced", self._clock.now(), SYSTEM, detail=detail)
        )
        for warning in snapshot.warnings:
            log.warning("roster %s: %s", snapshot.provider.value, warning)
        for gap in level_gaps:
            log.warning("policy: %s", gap)
        return SyncOutcome(
            snapshot.provider,
            True,
            snapshot.counts,
            result.api_calls,
            seconds,
            "",
            snapshot.warnings,
            missing,
            result.calls_saved,
        )


def _plain(exc: Exception) -> str:
    """A failure description that names the kind of failure but never echoes request details."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


def _level_gaps(groups: set[GroupRef], snapshot: RosterSnapshot) -> list[str]:
    """Level-scoped references whose levels the escalation policy does not have."""
    gaps = []
    for g in sorted(groups):
        found = snapshot.groups.get(g.base) if g.levels else None
        if found is None or g.levels is None:
            continue
        have = sorted({s.level for s in found.shifts if s.level is not None})
        if not any(g.admits(level) for level in have):
            shown = ", ".join(map(str, have)) or "none"
            gaps.append(
                f"{g} names levels the escalation policy does not have (it has levels: {shown})"
            )
    return gaps
