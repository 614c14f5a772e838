"""Jira Service Management operations adapter: Opsgenie's successor as a roster provider."""

from adapters.jsm.client import JSM_LIMIT, JsmClient
from adapters.jsm.people import Account, AccountResolver
from adapters.jsm.provider import JsmRosterProvider
from adapters.jsm.site import API_HOST, normalize_site

__all__ = [
    "API_HOST",
    "JSM_LIMIT",
    "Account",
    "AccountResolver",
    "JsmClient",
    "JsmRosterProvider",
    "normalize_site",
]
