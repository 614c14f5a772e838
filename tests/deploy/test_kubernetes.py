"""deploy/k8s: the base and the production overlay, rendered with `kubectl kustomize` as
`kubectl apply -k` would, validate against the Kubernetes schemas (kubernetes-validate, strict:
unknown fields are errors), and say what an operator relies on: N replicas, liveness on /healthz,
readiness on /readyz, migrations before the bot starts, a PodDisruptionBudget that covers the
pods, resource requests, non-root containers, and only settings the bot knows."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.settings import Settings
from core.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES_VERSION = "1.31"  # the oldest minor still supported upstream when this was written

pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl is not installed: the manifests are rendered with `kubectl kustomize`",
)


def _render(tmp_path: Path, target: str) -> list[dict[str, Any]]:
    """Render as an operator would after `cp secrets.env.example secrets.env`."""
    tree = tmp_path / "k8s"
    shutil.copytree(ROOT / "deploy" / "k8s", tree)
    production = tree / "overlays" / "production"
    shutil.copy(production / "secrets.env.example", production / "secrets.env")
    out = subprocess.run(
        ["kubectl", "kustomize", str(tree / target)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def _one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind]
    assert len(found) == 1, [d["kind"] for d in docs]
    return found[0]


@pytest.mark.parametrize("target", ["base", "overlays/production"])
def test_rendered_manifests_are_valid_kubernetes_objects(tmp_path: Path, target: str) -> None:
    docs = _render(tmp_path, target)
    problems = []
    for doc in docs:
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {exc.message}")
    assert problems == []


def test_the_validator_refuses_a_misspelt_probe(tmp_path: Path) -> None:
    deployment = _one(_render(tmp_path, "overlays/production"), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_production_runs_three_probed_non_root_replicas_after_migrating(tmp_path: Path) -> None:
    docs = _render(tmp_path, "overlays/production")
    deployment = _one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    (migrate,) = pod["initContainers"]
    assert migrate["args"] == ["db", "upgrade"]
    (bot,) = pod["containers"]
    assert bot["args"] == ["serve"]
    assert bot["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert bot["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for container in (migrate, bot):
        assert container["image"] == "registry.example.com/platform/oncall-access:0.1.0"
        assert container["envFrom"] == bot["envFrom"]  # the migration sees the same database
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]


def test_disruption_budget_and_service_select_the_bot_pods(tmp_path: Path) -> None:
    docs = _render(tmp_path, "overlays/production")
    labels = _one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    budget = _one(docs, "PodDisruptionBudget")
    assert budget["spec"]["minAvailable"] == 2
    assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert _one(docs, "Service")["spec"]["selector"].items() <= labels.items()


def test_every_reference_resolves_and_every_setting_is_one_the_bot_reads(tmp_path: Path) -> None:
    docs = _render(tmp_path, "overlays/production")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    pod = _one(docs, "Deployment")["spec"]["template"]["spec"]
    for source in pod["containers"][0]["envFrom"]:
        kind, ref = next(iter(source.items()))
        assert (("ConfigMap" if kind == "configMapRef" else "Secret"), ref["name"]) in names
    for volume in pod["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in names
    known = {
        str(choice)
        for field in Settings.model_fields.values()
        for choice in getattr(field.validation_alias, "choices", [])
    }
    for doc in docs:
        if doc["kind"] in ("ConfigMap", "Secret") and "policy.yaml" not in doc.get("data", {}):
            assert set(doc["data"]) <= known, doc["metadata"]["name"]


def test_the_policy_in_the_config_map_is_accepted_where_the_bot_reads_it(tmp_path: Path) -> None:
    docs = _render(tmp_path, "overlays/production")
    settings = next(
        d for d in docs if d["kind"] == "ConfigMap" and "ONCALL_ACCESS_POLICY_FILE" in d["data"]
    )
    where = Path(settings["data"]["ONCALL_ACCESS_POLICY_FILE"])
    pod = _one(docs, "Deployment")["spec"]["template"]["spec"]
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "policy")
    assert where.parent == Path(mount["mountPath"])
    volume = next(v for v in pod["volumes"] if v["name"] == "policy")
    policy_map = next(
        d
        for d in docs
        if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"]
    )
    assert parse_policy(policy_map["data"][where.name]).resources
