"""PagerDuty adapter: REST API v2 client, Scoped OAuth, and the roster provider."""

from adapters.pagerduty.client import API_HOSTS, PagerDutyClient, Region
from adapters.pagerduty.provider import PagerDutyRosterProvider
from adapters.pagerduty.roles import role_display

__all__ = ["API_HOSTS", "PagerDutyClient", "PagerDutyRosterProvider", "Region", "role_display"]
