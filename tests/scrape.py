"""Reading `/metrics` as Prometheus does: over HTTP, parsed with prometheus_client's own text
parser, so a test sees exactly the series a scrape would store."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class Scrape:
    samples: dict[Key, float]
    types: dict[str, str]  # family name -> counter, gauge, histogram

    def value(self, name: str, **labels: str) -> float:
        """One sample's value; a KeyError names the series that is missing."""
        key = (name, tuple(sorted(labels.items())))
        if key not in self.samples:
            raise KeyError(f"no series {name}{labels or ''} in the scrape")
        return self.samples[key]

    def has(self, name: str, **labels: str) -> bool:
        return (name, tuple(sorted(labels.items()))) in self.samples


def parse(text: str) -> Scrape:
    samples: dict[Key, float] = {}
    types: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return Scrape(samples, types)


async def scrape(base_url: str, *, token: str | None = None) -> Scrape:
    """GET `base_url`/metrics, which must answer 200 in the Prometheus text format."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base_url.rstrip('/')}/metrics", headers=headers) as response,
    ):
        assert response.status == 200, await response.text()
        assert response.content_type == "text/plain"
        return parse(await response.text())
