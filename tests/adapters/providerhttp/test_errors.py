"""The status → exception mapping, in one place, with user-safe sentences."""

from __future__ import annotations

import pytest

from adapters.providerhttp import (
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


@pytest.mark.parametrize(
    ("status", "kind", "retryable"),
    [
        (400, RequestRejected, False),
        (401, Unauthorized, False),
        (402, RequestRejected, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (408, ProviderUnavailable, True),
        (409, RequestRejected, False),
        (422, RequestRejected, False),
        (429, RateLimited, True),
        (500, ProviderUnavailable, True),
        (502, ProviderUnavailable, True),
        (503, ProviderUnavailable, True),
    ],
)
def test_each_status_has_one_exception(status: int, kind: type, retryable: bool) -> None:
    error = error_for_status(status, "Opsgenie", code=40301)
    assert type(error) is kind and isinstance(error, ProviderError)
    assert error.retryable is retryable is is_retryable_status(status)
    assert error.status == status and error.provider == "Opsgenie" and error.code == 40301
    text = str(error)
    assert text.startswith("Opsgenie ") and text.endswith(".") and str(status) in text
    assert text.count(". ") == 0  # one sentence


def test_rate_limited_keeps_the_wait_hint() -> None:
    error = error_for_status(429, "PagerDuty", retry_after=20.0)
    assert isinstance(error, RateLimited) and error.retry_after == 20.0


def test_bad_response_is_a_provider_error() -> None:
    assert issubclass(BadResponse, ProviderError) and not BadResponse("x").retryable
