"""Each grant target's health, for `status`: every place the policy grants in, checked live
once (however many resources share it), at the same time, each within a few seconds."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from core.grant_types import grant_type
from core.policy import Policy
from core.ports import CheckedGranter, Granter, TargetHealth

log = logging.getLogger(__name__)
CHECK_TIMEOUT = 5.0


def targets(policy: Policy) -> dict[tuple[str, str], dict[str, Any]]:
    """(grant type, target name) -> one grant spec naming it, in policy order."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for res in policy.resources.values():
        for spec in res.grants:
            kind = grant_type(spec.type)
            name = kind.target_of(spec.options) if kind else spec.type
            found.setdefault((spec.type, name), spec.model_dump())
    return found


async def health_lines(policy: Policy, granters: Mapping[str, Granter]) -> list[str]:
    """One line per target whose granter can check it live."""
    timeout = CHECK_TIMEOUT
    checks: list[tuple[str, CheckedGranter, dict[str, Any]]] = []
    for (kind, name), spec in targets(policy).items():
        granter = granters.get(kind)
        if isinstance(granter, CheckedGranter):
            checks.append((name, granter, spec))

    async def one(granter: CheckedGranter, spec: dict[str, Any]) -> TargetHealth:
        try:
            return await asyncio.wait_for(granter.check(spec), timeout)
        except TimeoutError:
            return TargetHealth(False, f"no answer within {timeout:g} s")
        except Exception as exc:
            log.warning("grant target check failed: %s", type(exc).__name__)
            message = getattr(exc, "message", None)
            return TargetHealth(False, message if isinstance(message, str) else type(exc).__name__)

    results = await asyncio.gather(*(one(g, spec) for _, g, spec in checks))
    return [
        f"Grant target {name}: {'OK' if h.ok else 'FAILING'}, {h.summary}"
        for (name, _, _), h in zip(checks, results, strict=True)
    ]
