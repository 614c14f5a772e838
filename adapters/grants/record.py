"""The `record` granter: access exists only in the audit trail (the team acts on the record)."""

from __future__ import annotations

from typing import Any

from core.ports import Grant


class RecordGranter:
    kind = "record"

    async def grant(self, grant: Grant) -> dict[str, Any]:
        return {"type": self.kind}

    async def revoke(self, grant: Grant) -> dict[str, Any]:
        return {"type": self.kind}

    async def extend(self, grant: Grant) -> dict[str, Any]:
        return {"type": self.kind}
