"""The grant types the policy may name, one module each in this package.

A grant type is registered by adding a module here that defines `GRANT_TYPE`: the package is
scanned, so adding a type never touches a shared list (and two types added at once never meet in
the same lines). Each type checks the shape of its `grant:` options for `policy check` and at
start; its granter (wired in `bot`) checks the rest live.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

Options = Mapping[str, Any]


def _no_problems(options: Options) -> list[str]:
    return []


@dataclass(frozen=True, slots=True)
class GrantType:
    """One `grant.type`: its name, the shape check of its options, and how `status` names the
    place it grants in (an account, a group, a team), so each target's health is shown once."""

    name: str
    problems: Callable[[Options], list[str]] = _no_problems
    target: Callable[[Options], str] | None = None

    def target_of(self, options: Options) -> str:
        return self.target(options) if self.target else self.name


@cache
def registered() -> dict[str, GrantType]:
    """Every grant type in this package, by name."""
    found: dict[str, GrantType] = {}
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        declared = getattr(importlib.import_module(f"{__name__}.{module}"), "GRANT_TYPE", None)
        if isinstance(declared, GrantType):
            if declared.name in found:
                raise RuntimeError(f"grant type {declared.name} is declared twice")
            found[declared.name] = declared
    return found


def grant_type(name: str) -> GrantType | None:
    return registered().get(name)


def names() -> tuple[str, ...]:
    return tuple(sorted(registered()))
