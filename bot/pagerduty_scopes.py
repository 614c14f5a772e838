"""Which PagerDuty OAuth scopes the policy in force needs, and what a connection lacks.

Reading rosters needs the read scopes; a `pagerduty-role` grant changes a base role with
`PUT /users/{id}` (`users.write`) or a team role with `PUT`/`DELETE /teams/{id}/users/{user_id}`
(`teams.write`), as the REST API reference says of each. PagerDuty grants what the app may have
and silently leaves out the rest, so the token's `scope` is compared with what was asked for.
API keys carry no scopes: a read-only key is refused on its first change, as the granter says.
"""

from __future__ import annotations

from collections.abc import Iterable

from adapters.pagerduty.oauth import ROSTER_SCOPES, ClientCredentialsAuth, UserTokenAuth
from adapters.pagerduty.provider import PagerDutyRosterProvider
from core.policy import Policy

ROLE_SCOPE = "users.write"
TEAM_SCOPE = "teams.write"
OAUTH_KINDS = ("oauth_client", "oauth_user")


def write_needs(policy: Policy) -> dict[str, list[str]]:
    """Each write scope the policy's `pagerduty-role` grants need, with the resources needing it."""
    needs: dict[str, list[str]] = {}
    for name, resource in policy.resources.items():
        for grant in resource.grants:
            if grant.type != "pagerduty-role":
                continue
            scope = TEAM_SCOPE if grant.options.get("team") else ROLE_SCOPE
            if name not in needs.setdefault(scope, []):
                needs[scope].append(name)
    return needs


def requested_scopes(policy: Policy) -> tuple[str, ...]:
    """What to ask PagerDuty for: the roster's read scopes, plus the writes the policy needs."""
    return (*ROSTER_SCOPES, *sorted(write_needs(policy)))


def granted_scopes(provider: object) -> tuple[str, ...] | None:
    """The scopes of the token a PagerDuty provider holds (None: an API key, or no token yet)."""
    if not isinstance(provider, PagerDutyRosterProvider):
        return None
    auth = provider.client.http.auth
    if isinstance(auth, ClientCredentialsAuth):
        return auth.token.scope if auth.token else None
    if isinstance(auth, UserTokenAuth):
        return auth.tokens.scope or None
    return None


def missing_writes(policy: Policy, granted: Iterable[str]) -> str | None:
    """One sentence naming each write scope the policy needs and the token lacks, and what for."""
    have = set(granted)
    gaps = [(scope, names) for scope, names in sorted(write_needs(policy).items())
            if scope not in have]  # fmt: skip
    if not gaps:
        return None
    parts = [f"{scope} (for the pagerduty-role grant of {_names(names)})" for scope, names in gaps]
    return (
        f"PagerDuty did not grant {' and '.join(parts)}: add "
        f"{'them' if len(gaps) > 1 else 'it'} to the OAuth app's scopes in PagerDuty "
        "(Integrations → App Registration), then connect PagerDuty again."
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")
