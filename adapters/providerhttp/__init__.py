"""The shared HTTP layer for on-call provider adapters (PagerDuty, Opsgenie).

The only package adapters may share: status mapping, rate limiting, retries and call counting
must behave the same for every provider, so they live here once.
"""

from adapters.providerhttp.client import DEFAULT_TIMEOUT, Auth, CallStats, ProviderHTTP, StaticAuth
from adapters.providerhttp.errors import (
    BadResponse,
    Forbidden,
    NotFound,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    Unauthorized,
    error_for_status,
    is_retryable_status,
)
from adapters.providerhttp.limiter import PAGERDUTY_LIMIT, RateLimit, SlidingWindow
from adapters.providerhttp.retry import NO_RETRY, RetryPolicy, retry_after

__all__ = [
    "DEFAULT_TIMEOUT",
    "NO_RETRY",
    "PAGERDUTY_LIMIT",
    "Auth",
    "BadResponse",
    "CallStats",
    "Forbidden",
    "NotFound",
    "ProviderError",
    "ProviderHTTP",
    "ProviderUnavailable",
    "RateLimit",
    "RateLimited",
    "RequestRejected",
    "RetryPolicy",
    "SlidingWindow",
    "StaticAuth",
    "Unauthorized",
    "error_for_status",
    "is_retryable_status",
    "retry_after",
]
