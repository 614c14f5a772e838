"""What every provider client built on `ProviderHTTP` shares: its call count and its lifecycle."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Self

from adapters.providerhttp.client import ProviderHTTP


class HTTPClientBase(ABC):
    """Subclasses name their connections; counting, `async with` and closing follow from that."""

    @abstractmethod
    def connections(self) -> Sequence[ProviderHTTP]:
        """The HTTP connections this client owns."""

    @property
    def calls(self) -> int:
        return sum(c.calls for c in self.connections())

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for connection in self.connections():
            await connection.aclose()
