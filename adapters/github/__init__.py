"""GitHub: team membership granted through the REST API, with a token or a GitHub App."""

from adapters.github.client import API_URL, GitHubClient
from adapters.github.granter import KIND, GitHubTeamGranter

__all__ = ["API_URL", "KIND", "GitHubClient", "GitHubTeamGranter"]
