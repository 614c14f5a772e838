"""The latest roster snapshots with canonical emails, re-read only when a newer sync landed or
the identity mappings changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from core.identity import IdentityMap
from core.ports import (
    IdentityOverrides,
    RosterStore,
)
from core.roster import Roster, RosterSnapshot

log = logging.getLogger(__name__)


class RosterCache:
    """The latest snapshots with canonical emails, re-read only when a newer sync landed or the
    identity mappings changed."""

    def __init__(
        self,
        store: RosterStore,
        identities: IdentityOverrides | None = None,
        aliases: dict[str, str] | None = None,
    ) -> None:
        self._store = store
        self._identities = identities
        self._aliases = aliases or {}
        self._roster = Roster()
        self._key: tuple[object, ...] = ()

    async def identity_map(self) -> IdentityMap:
        if self._identities is None:
            return IdentityMap(self._aliases, {})
        overrides = await self._identities.all()
        return IdentityMap(self._aliases, overrides, await self._identities.mappers())

    async def current(self) -> Roster:
        versions = await self._store.versions()
        identity = await self.identity_map()
        key = (
            tuple(sorted((p.value, at) for p, at in versions.items())),
            tuple(sorted(identity.overrides.items())),
        )
        if key != self._key:
            snapshots = await self._store.latest()
            if identity.aliases or identity.overrides:
                snapshots = [s.remapped(identity.email) for s in snapshots]
            self._roster, self._key = Roster.of(snapshots), key
        return self._roster

    def put(self, snapshots: Sequence[RosterSnapshot]) -> None:
        self._roster = Roster.of(snapshots)
        self._key = ()
