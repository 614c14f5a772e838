"""Opsgenie adapter: REST API v2 client and the roster provider (API works until 2027-04-05)."""

from adapters.opsgenie.client import API_HOSTS, OPSGENIE_LIMIT, OpsgenieClient, Region
from adapters.opsgenie.provider import OpsgenieRosterProvider

__all__ = ["API_HOSTS", "OPSGENIE_LIMIT", "OpsgenieClient", "OpsgenieRosterProvider", "Region"]
