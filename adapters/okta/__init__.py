"""Okta: group membership granted through the management API."""

from adapters.okta.client import OktaClient
from adapters.okta.granter import KIND, OktaGroupGranter

__all__ = ["KIND", "OktaClient", "OktaGroupGranter"]
