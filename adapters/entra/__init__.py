"""Microsoft Entra ID: group membership granted through Microsoft Graph."""

from adapters.entra.client import GRAPH_URL, GraphClient
from adapters.entra.granter import KIND, EntraGroupGranter

__all__ = ["GRAPH_URL", "KIND", "EntraGroupGranter", "GraphClient"]
