"""The policy in force: loaded from its file, replaced only by a valid new version."""

from __future__ import annotations

import asyncio
from pathlib import Path

from core.errors import PolicyError
from core.policy import Policy, parse_policy
from core.yamlread import MAX_BYTES, YamlProblem, decode


def load_policy(path: Path) -> Policy:
    """The policy in the file; PolicyError naming the file (and line) when it cannot be used."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # no more than the parser would accept
        text = decode(raw)
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read the policy file ({exc.strerror})"]) from None
    except YamlProblem as exc:
        raise PolicyError([exc.where(str(path))]) from None
    return parse_policy(text, str(path))


class PolicySource:
    def __init__(self, policy: Policy, path: Path | None = None) -> None:
        self._policy = policy
        self.path = path

    def __call__(self) -> Policy:
        return self._policy

    def reload(self) -> Policy:
        """Re-read the file; an invalid file raises PolicyError and the old policy stays."""
        if self.path is None:
            return self._policy
        self._policy = load_policy(self.path)
        return self._policy

    async def reload_off_loop(self) -> Policy:
        """`reload`, with the reading and parsing in a worker thread (a large file never stalls
        the event loop); the new policy is put in force back on the loop."""
        if self.path is None:
            return self._policy
        self._policy = await asyncio.to_thread(load_policy, self.path)
        return self._policy


def policy_or_empty(path: Path | None) -> PolicySource:
    """Admin and sync commands work before a policy exists; the real one is used when set."""
    if path is not None:
        return PolicySource(load_policy(path), path)
    return PolicySource(Policy(version=1))
