"""deploy/grafana/oncall-access.json: a Grafana dashboard that queries exactly the metrics the bot
exposes, each in the way its type allows (rates of counters, quantiles of histogram buckets)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.metrics import MetricWrapperBase

from bot.metrics import PrometheusMetrics

ROOT = Path(__file__).resolve().parents[2]


def _exposed() -> dict[str, tuple[str, set[str]]]:
    """Every metric the bot exposes, as the dashboard names it: its type and its labels, read
    from the bot's own collectors rather than copied here."""
    found: dict[str, tuple[str, set[str]]] = {}
    for collector in vars(PrometheusMetrics()).values():
        if isinstance(collector, MetricWrapperBase):
            kind = collector._type  # prometheus_client keeps type, name and labels here
            name = collector._name + ("_total" if kind == "counter" else "")
            found[name] = (kind, set(collector._labelnames))
    return found


EXPOSED = _exposed()
COUNTERS = {name for name, (kind, _) in EXPOSED.items() if kind == "counter"}
HISTOGRAMS = {name for name, (kind, _) in EXPOSED.items() if kind == "histogram"}
GAUGES = {name for name, (kind, _) in EXPOSED.items() if kind == "gauge"}
LABELS = {name: labels for name, (_, labels) in EXPOSED.items()}


def _dashboard() -> dict[str, Any]:
    return dict(json.loads((ROOT / "deploy" / "grafana" / "oncall-access.json").read_text()))


def _queries() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in _dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def test_every_metric_is_on_the_dashboard_and_nothing_else_is() -> None:
    used = {
        re.sub(r"_bucket$", "", name)
        for _, expr in _queries()
        for name in re.findall(r"\boncall_access_\w+", expr)
    }
    assert used == COUNTERS | HISTOGRAMS | GAUGES


def test_counters_are_rated_and_histograms_read_through_their_buckets() -> None:
    for title, expr in _queries():
        for name in re.findall(r"\boncall_access_\w+", expr):
            if name in COUNTERS:
                assert re.search(rf"(rate|increase)\({name}\{{", expr), (title, expr)
            elif name.removesuffix("_bucket") in HISTOGRAMS:
                assert name.endswith("_bucket") and "histogram_quantile(" in expr, (title, expr)
                assert "by (le" in expr, (title, expr)
            else:
                assert name in GAUGES, (title, expr)


def test_breakdowns_use_the_labels_each_metric_has() -> None:
    for title, expr in _queries():
        names = [n.removesuffix("_bucket") for n in re.findall(r"\boncall_access_\w+", expr)]
        grouped = {
            label.strip()
            for group in re.findall(r"by \(([^)]*)\)", expr)
            for label in group.split(",")
        } - {"le"}
        for name in names:
            assert grouped <= LABELS.get(name, set()), (title, expr)


def test_every_panel_queries_the_selected_datasource_and_has_a_place() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "oncall-access"
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "job"} <= variables
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
