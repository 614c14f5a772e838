"""The core's `Metrics` port as Prometheus series, on this bot's own registry (never the
process-global one), so several bots in one process (tests, a CLI beside `serve`) never collide.

Counters and histograms count what happened in this replica since it started, as Prometheus
expects (sum them across replicas); gauges are read from the database at scrape time, so every
replica reports the whole fleet's state. The names are a contract with dashboards: see the
README's Metrics table.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from adapters.storage.requests import SqlRequestStore
from adapters.storage.roster import SqlRosterStore

OUTCOMES = ("approved", "pending", "break_glass", "refused", "error")
SURFACES = ("slack", "teams")
SYNC_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
"""A file roster syncs in milliseconds, a large PagerDuty organisation in minutes."""


class PrometheusMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "oncall_access_requests",
            "New access requests by how they were answered",
            ["outcome"],
            registry=r,
        )
        self.decision = Histogram(
            "oncall_access_decision_seconds",
            "Time from an access request to its verdict (approved, pending or refused)",
            registry=r,
        )
        self.sync = Histogram(
            "oncall_access_sync_seconds",
            "Duration of roster syncs, failed ones included",
            ["provider"],
            buckets=SYNC_BUCKETS,
            registry=r,
        )
        self.sync_failures = Counter(
            "oncall_access_sync_failures", "Failed roster syncs", ["provider"], registry=r
        )
        self.grant_failures = Counter(
            "oncall_access_grant_failures",
            "Failed grants, revokes and extensions by granter kind (each is retried)",
            ["kind", "action"],
            registry=r,
        )
        self.webhook = Histogram(
            "oncall_access_webhook_seconds",
            "Time a grant webhook took to answer one delivery (or to fail)",
            registry=r,
        )
        self.chat_errors = Counter(
            "oncall_access_chat_api_errors",
            "Failed calls to the Slack Web API or the Teams connector",
            ["surface"],
            registry=r,
        )
        # Read from the database at scrape time: the fleet's state, whichever replica answers.
        self.roster_age = Gauge(
            "oncall_access_roster_age_seconds",
            "Age of the latest good roster snapshot",
            ["provider"],
            registry=r,
        )
        self.sync_failures_in_a_row = Gauge(
            "oncall_access_sync_consecutive_failures",
            "Failed roster syncs since the last good one",
            ["provider"],
            registry=r,
        )
        self.grants_pending = Gauge(
            "oncall_access_grants_pending",
            "Approved accesses not granted yet (a failed grant waits for its retry)",
            registry=r,
        )
        self.revokes_pending = Gauge(
            "oncall_access_revokes_pending",
            "Accesses whose time is up but are not taken back yet (a failed revoke waits for its retry)",
            registry=r,
        )
        self.requests_open = Gauge(
            "oncall_access_requests_open",
            "Requests waiting for approval (pending) and accesses in force (active)",
            ["status"],
            registry=r,
        )
        for outcome in OUTCOMES:  # series exist from the start, so rates start at zero
            self.requests.labels(outcome)
        for surface in SURFACES:
            self.chat_errors.labels(surface)
        self._reading = asyncio.Lock()

    # -- the port ------------------------------------------------------------------------------

    def request_decided(self, outcome: str, seconds: float) -> None:
        self.requests.labels(outcome).inc()
        self.decision.observe(seconds)

    def sync_finished(self, provider: str, seconds: float, ok: bool) -> None:
        self.sync.labels(provider).observe(seconds)
        failures = self.sync_failures.labels(provider)
        if not ok:
            failures.inc()

    def grant_failed(self, kind: str, action: str) -> None:
        self.grant_failures.labels(kind, action).inc()

    def webhook_answered(self, seconds: float) -> None:
        self.webhook.observe(seconds)

    def chat_api_failed(self, surface: str) -> None:
        self.chat_errors.labels(surface).inc()

    # -- the scrape ----------------------------------------------------------------------------

    async def exposition(
        self, rosters: SqlRosterStore, requests: SqlRequestStore, now: datetime
    ) -> bytes:
        """The text exposition, with the gauges read from the database just now; raises
        `Unavailable` when it cannot be read (the scrape fails, which is the signal)."""
        async with self._reading:  # one scrape at a time: the gauges are cleared and refilled
            versions = await rosters.versions()
            health = await rosters.health()
            counts = await requests.open_counts(now)
            self.roster_age.clear()  # a disconnected provider's last figures must not linger
            self.sync_failures_in_a_row.clear()
            for provider, taken in versions.items():
                self.roster_age.labels(provider.value).set((now - taken).total_seconds())
            for found in health:
                self.sync_failures_in_a_row.labels(found.provider.value).set(
                    found.consecutive_failures
                )
            self.grants_pending.set(counts["grants_pending"])
            self.revokes_pending.set(counts["revokes_pending"])
            self.requests_open.labels("pending").set(counts["pending"])
            self.requests_open.labels("active").set(counts["active"])
            return generate_latest(self.registry)
