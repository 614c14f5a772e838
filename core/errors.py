"""Errors whose message is safe to show a person in chat.

    DomainError            one-sentence refusal shown as is on every surface
    ├── CommandError       the typed text does not follow the grammar
    ├── PolicyError        a policy file or its tests file is invalid (carries file and line)
    ├── RosterError        a roster could not be read or parsed
    ├── NotFound           an id or name that does not exist
    └── (beside the code that raises them) InvalidTransition (core.requests), PartlyRevoked
        (core.granting), SecretKeyMissing,
        DatabaseTooNew (adapters.storage), SlackIdentityError, IdentityRefused (adapters.slack,
        adapters.teams), WebhookRejected, WebhookUnavailable, Gone (adapters.grants,
        adapters.providerhttp)
    Unavailable            the access database cannot be reached: an outage, not a refusal;
                           its one sentence is shown, and it is logged without a traceback

Anything else is a bug: logged with a correlation id and answered with a generic message, never
with its text.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal whose message is one sentence meant for the person who asked.

    `fields` says what the refusal is about, field by field (`resource`, `duration`, `reason`),
    so a surface that asked through a form shows each sentence on its field; the core decides,
    not the wording. `message` is the first of them when there are several."""

    def __init__(
        self, message: str, *, field: str | None = None, fields: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or ({field: message} if field else {}))


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


DATABASE_UNAVAILABLE = (
    "The access database can't be reached right now, so nothing was changed; try again in a minute."
)
OUTCOME_UNKNOWN = (
    "The access database stopped answering while this was being saved, so it may or may not have "
    "gone through; `mine` or `pending` shows which once it is back."
)


class Unavailable(Exception):
    """The database could not be reached. Not a DomainError: nothing is wrong with what was asked,
    and the bot recovers by itself once the database is back.

    `detail` names the underlying failure for the log; `message` is what a person reads."""

    def __init__(self, message: str = DATABASE_UNAVAILABLE, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
