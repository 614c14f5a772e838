"""Every way a provider call can fail, as one typed tree, mapped from HTTP in one place.

    ProviderError                  any failure talking to an on-call provider
    ├── Unauthorized               401: the key or token is wrong, revoked or expired
    ├── Forbidden                  403: valid credentials that may not do this
    ├── NotFound                   404: the object is gone (e.g. deleted mid-sync)
    ├── RateLimited                429: still throttled after the allowed retries
    ├── ProviderUnavailable        5xx, 408, timeouts, connection errors, missed deadlines
    ├── RequestRejected            any other 4xx (400, 402, 422 …): retrying will not help
    └── BadResponse                2xx whose body is not the JSON we expect

`str(error)` is one sentence that is safe to show a user: it names the provider and the status,
never a key, a token, a header or a raw response body (those may carry secrets or personal data).
Exceptions are raised `from None` so no httpx request (whose headers hold the credentials) rides
along in `__cause__`.
"""

from __future__ import annotations


class ProviderError(Exception):
    """Base of the tree; `message` is user-safe, `status` the HTTP status when there was one."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        code: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status
        self.code = code
        self.facts: dict[str, str] = {}  # the target's own words for a refusal (see ErrorFacts)

    def __str__(self) -> str:
        return self.message


class Unauthorized(ProviderError):
    pass


class Forbidden(ProviderError):
    pass


class NotFound(ProviderError):
    pass


class RateLimited(ProviderError):
    retryable = True
    retry_after: float | None = None


class ProviderUnavailable(ProviderError):
    retryable = True


class RequestRejected(ProviderError):
    pass


class BadResponse(ProviderError):
    pass


def error_for_status(
    status: int,
    provider: str,
    *,
    code: int | str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The one mapping from an HTTP status to an exception with a user-safe sentence."""
    who = provider or "The provider"
    cls: type[ProviderError]
    if status == 401:
        cls, text = Unauthorized, "rejected the credentials (401): the key or token is wrong, "
        text += "revoked or expired."
    elif status == 403:
        cls, text = Forbidden, "refused the request (403): the credentials are valid but lack "
        text += "the permission for it."
    elif status == 404:
        cls, text = NotFound, "has no such object (404)."
    elif status == 429:
        cls, text = RateLimited, "is rate limiting us (429) and still was after retrying."
    elif status == 408 or status >= 500:
        cls, text = ProviderUnavailable, f"is unavailable right now ({status}); try again later."
    elif status == 402:
        cls, text = RequestRejected, "refused the request (402): the plan lacks a needed feature."
    else:
        cls, text = RequestRejected, f"rejected the request ({status})."
    error = cls(f"{who} {text}", provider=provider, status=status, code=code)
    if isinstance(error, RateLimited):
        error.retry_after = retry_after
    return error


def is_retryable_status(status: int) -> bool:
    """429, 408 and 5xx are worth another try; every other 4xx will fail the same way."""
    return status in (408, 429) or status >= 500
