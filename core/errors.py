"""Errors whose message is safe to show a person in chat.

    DomainError            one-sentence refusal shown as is on every surface
    ├── CommandError       the typed text does not follow the grammar
    ├── PolicyError        a policy file is invalid (carries file and line)
    ├── RosterError        a roster could not be read or parsed
    └── NotFound           an id or name that does not exist

Anything that is not a DomainError is a bug or an outage: logged with a correlation id and
answered with a generic message, never with its text.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal whose message is one sentence meant for the person who asked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CommandError(DomainError):
    """The command text does not parse."""


class PolicyError(DomainError):
    """The policy file is invalid; each problem names the file and line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class RosterError(DomainError):
    """A roster source gave data that cannot be used."""


class NotFound(DomainError):
    """An id or a name that does not exist."""
