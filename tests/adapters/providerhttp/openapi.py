"""Checking recorded traffic against a provider's official OpenAPI / Swagger document.

Fakes serve what tests assert on, so they must not drift from the real API: every response a
fake sends and every request a client sends is checked against the spec here. JSON Schema
validation is done with `jsonschema` (Draft 4, the dialect both OpenAPI 3.0 and Swagger 2.0
schemas derive from) after turning the OpenAPI-only `nullable` into JSON Schema.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.fakes.pagerduty.harness import RecordedRequest
from tests.reference_files import REFERENCE

URI = "urn:spec"


def _denull(node: Any) -> Any:
    """OpenAPI `nullable: true` → JSON Schema that also accepts null."""
    if isinstance(node, list):
        return [_denull(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _denull(v) for k, v in node.items()}
    if node.pop("nullable", False):
        if isinstance(node.get("type"), str):
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = [*node["enum"], None]
        else:
            node = {"anyOf": [node, {"type": "null"}]}
    return node


def _pointer(*parts: str) -> str:
    return "#/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class Spec:
    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = _denull(doc)
        self.swagger2 = "swagger" in doc
        self.registry = Registry().with_resource(URI, DRAFT4.create_resource(self.doc))
        self._paths = sorted(
            self.doc["paths"], key=lambda t: (t.count("{"), -len(t))
        )  # literal paths before templated ones (/schedules/on-calls before /schedules/{id})

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            found: Any = self.doc
            for part in node["$ref"].lstrip("#/").split("/"):
                found = found[part.replace("~1", "/").replace("~0", "~")]
            node = found
        return node

    def operation(self, method: str, path: str) -> tuple[str, dict[str, Any]] | None:
        for template in self._paths:
            pattern = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            if re.match(pattern, path) and method.lower() in self.doc["paths"][template]:
                return template, self.doc["paths"][template][method.lower()]
        return None

    def response_pointer(self, template: str, method: str, status: int) -> str | None:
        responses = self.doc["paths"][template][method.lower()]["responses"]
        key = str(status) if str(status) in responses else "default"
        if key not in responses:
            return None
        base: tuple[str, ...] = ("paths", template, method.lower(), "responses", key)
        node = responses[key]
        if "$ref" in node:
            base = tuple(node["$ref"].lstrip("#/").split("/"))
            node = self.resolve(node)
        if self.swagger2:
            return _pointer(*base, "schema") if "schema" in node else None
        if "application/json" not in node.get("content", {}):
            return None
        return _pointer(*base, "content", "application/json", "schema")

    def _declares_no_body(self, template: str, method: str, status: int) -> bool:
        """A status the spec lists without describing a body (Okta's 204 `content: {}`)."""
        responses = self.doc["paths"][template][method.lower()]["responses"]
        node = responses.get(str(status))
        if node is None or self.swagger2:
            return False
        return not self.resolve(node).get("content")

    def validator(self, pointer: str) -> Draft4Validator:
        return _validator(self, pointer)

    def response_errors(self, record: RecordedRequest) -> list[str]:
        found = self.operation(record.method, record.path)
        if found is None:
            return [f"{record.method} {record.path}: not in the spec"]
        pointer = self.response_pointer(found[0], record.method, record.status)
        if pointer is None and self._declares_no_body(found[0], record.method, record.status):
            return []  # the status is described, its body is not (a 204, GitHub's bare 404)
        if pointer is None:
            return [f"{record.method} {record.path}: status {record.status} not in the spec"]
        return [
            f"{record.method} {record.path} {record.status}: {e.message} at {list(e.absolute_path)}"
            for e in self.validator(pointer).iter_errors(record.body)
        ][:5]

    def parameters(self, template: str, method: str) -> list[dict[str, Any]]:
        item = self.doc["paths"][template]
        raw = [*item.get("parameters", []), *item[method.lower()].get("parameters", [])]
        return [self.resolve(p) for p in raw]

    def request_errors(self, record: RecordedRequest) -> list[str]:
        found = self.operation(record.method, record.path)
        if found is None:
            return [f"{record.method} {record.path}: not in the spec"]
        template, _ = found
        params = self.parameters(template, record.method)
        by_name = {p["name"]: p for p in params if p["in"] == "query"}
        errors = []
        for name, value in record.query:
            param = by_name.get(name)
            if param is None:
                errors.append(f"{record.path}: query parameter {name!r} is not in the spec")
                continue
            schema = param if self.swagger2 else param.get("schema", {})
            if schema.get("type") == "array":
                schema = schema.get("items", {})
            errors += [
                f"{record.path}: {name}={value!r}: {m}" for m in _value_errors(schema, value)
            ]
        for p in params:
            if p.get("required") and p["in"] == "query" and not record.params(p["name"]):
                errors.append(f"{record.path}: required query parameter {p['name']!r} missing")
            if p["in"] == "header" and p.get("required"):
                value = _header(record.headers, p["name"])
                if value is None:
                    errors.append(f"{record.path}: required header {p['name']!r} missing")
                else:
                    schema = p.get("schema", p)
                    errors += [
                        f"{record.path}: header {p['name']}: {m}"
                        for m in _value_errors(schema, value)
                    ]
        return errors


@cache
def _validator(spec: Spec, pointer: str) -> Draft4Validator:
    return Draft4Validator({"$ref": URI + pointer}, registry=spec.registry)


def _value_errors(schema: dict[str, Any], raw: str) -> list[str]:
    kind = schema.get("type")
    value: Any = raw
    try:
        if kind == "integer":
            value = int(raw)
        elif kind == "number":
            value = float(raw)
        elif kind == "boolean":
            if raw not in ("true", "false"):
                return ["not a boolean"]
            value = raw == "true"
    except ValueError:
        return [f"not an {kind}"]
    if schema.get("format") == "date-time":
        try:
            from datetime import datetime

            datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return ["not a date-time"]
    checked = {
        k: v for k, v in schema.items() if k in ("type", "enum", "pattern", "minimum", "maximum")
    }
    return [e.message for e in Draft4Validator(checked).iter_errors(value)]


def _header(headers: dict[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


@cache
def pagerduty_spec() -> Spec:
    """The PagerDuty spec, with the documented behaviours its schemas do not spell out:
    `include[]=users` replaces user references by full users (developer docs, "Includes");
    an on-call's `start`/`end` are null for permanent on-calls and its `schedule` is null for
    direct user targets (the spec's own field and `schedule_ids[]` descriptions)."""
    doc = json.loads((REFERENCE / "pagerduty-openapiv3.json").read_text())
    schemas = doc["components"]["schemas"]
    user_or_ref = {"anyOf": [{"$ref": "#/components/schemas/UserReference"},
                             {"$ref": "#/components/schemas/User"}]}  # fmt: skip
    oncall = schemas["Oncall"]["properties"]
    oncall["user"] = copy.deepcopy(user_or_ref)
    for key in ("start", "end", "schedule"):
        oncall[key] = {**oncall[key], "nullable": True}
    oncall["schedule"] = {"anyOf": [{k: v for k, v in oncall["schedule"].items() if k != "nullable"},
                                    {"type": "null"}]}  # fmt: skip
    members = doc["paths"]["/teams/{id}/members"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["allOf"][1]["properties"]["members"]["items"]  # fmt: skip
    members["properties"]["user"] = copy.deepcopy(user_or_ref)
    return Spec(doc)


@cache
def opsgenie_spec() -> Spec:
    return Spec(
        json.loads((REFERENCE / "opsgenie" / "opsgenie-oncall-subset.swagger.json").read_text())
    )


@cache
def opsgenie_incident_spec() -> Spec:
    path = REFERENCE / "opsgenie" / "opsgenie-incident-subset.swagger.json"
    return Spec(json.loads(path.read_text()))


def all_errors(
    records: Iterable[RecordedRequest], check: Callable[[RecordedRequest], list[str]]
) -> list[str]:
    return [e for r in records for e in check(r)]


@cache
def okta_spec() -> Spec:
    import yaml

    path = REFERENCE / "okta" / "okta-management-subset.yaml"
    return Spec(yaml.safe_load(path.read_text()))


@cache
def github_spec() -> Spec:
    path = REFERENCE / "github" / "api.github.com-teams-subset.json"
    return Spec(json.loads(path.read_text()))
