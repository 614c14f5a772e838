"""The policy in force: loaded from its file, replaced only by a valid new version."""

from __future__ import annotations

from pathlib import Path

from core.errors import PolicyError
from core.policy import Policy, parse_policy


def load_policy(path: Path) -> Policy:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError([f"{path}: cannot read the policy file ({exc.strerror})"]) from None
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


def policy_or_empty(path: Path | None) -> PolicySource:
    """Admin and sync commands work before a policy exists; the real one is used when set."""
    if path is not None:
        return PolicySource(load_policy(path), path)
    return PolicySource(Policy(version=1))
