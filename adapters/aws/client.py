"""IAM Identity Center through the AWS SDK: the `sso-admin` and `identitystore` clients of one
region, with credentials and endpoint from the standard AWS chain (environment, shared config and
profiles, web identity, container and instance roles; `AWS_ENDPOINT_URL` and its per-service
forms), and every AWS error turned into one sentence that says what to do.

boto3, each call in a worker thread: the bot makes a handful of calls per grant, so a thread per
call costs nothing that matters, while aiobotocore pins botocore to a narrow range of versions
that any other AWS library installed beside the bot would then have to match. The SDK retries
throttling and transient errors itself (standard retry mode: exponential backoff with jitter);
what still fails comes back here as `AwsUnavailable` and the bot's own retry takes over.

    AwsError (DomainError)
    ├── AwsRefused       AWS said no: a permission missing (named), an invalid value;
    │   │                retrying will not help
    │   └── AwsNotFound  no such user, instance or permission set
    └── AwsUnavailable   throttled past the SDK's retries, a conflict with a change in progress,
                         5xx, timeouts, no connection; the change may have happened
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from adapters.providerhttp.limiter import RateLimit, SlidingWindow
from core.errors import DomainError

IAM_PREFIX = {"sso-admin": "sso", "identitystore": "identitystore"}
UNAVAILABLE = {
    "ThrottlingException",
    "ConflictException",
    "InternalServerException",
    "ServiceUnavailableException",
    "RequestTimeout",
}
MAX_ATTEMPTS = 5  # per call, throttling included; then the grant is retried with backoff
IDENTITY_CENTER_LIMIT = RateLimit(2, 2 / 18)
"""IAM Identity Center throttles its APIs at 20 requests a second together: pacing below it, at
most 2 in any ninth of a second (18 a second, never in one burst of 18, which a slow thread
pool could deliver on top of the next second's), keeps many grants at once from spending
requests on throttling."""


class AwsError(DomainError):
    """An AWS call that did not succeed, as one sentence."""


class AwsRefused(AwsError):
    """AWS refused: retrying the same call will not help."""


class AwsNotFound(AwsRefused):
    """AWS has no such thing (a user, an instance, a permission set)."""


class AwsUnavailable(AwsError):
    """No answer, or not now: the call may be retried."""


def action_of(service: str, operation: str) -> str:
    """The IAM action an operation needs, as a policy names it."""
    return f"{IAM_PREFIX.get(service, service)}:{operation}"


def _snake(operation: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower()


def _short(text: object, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class IdentityCenter:
    """The two clients of one region, made on first use (reading the credential chain may touch
    files and the instance metadata service, so not on the event loop and not at import)."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.requests: Counter[str] = Counter()  # HTTP requests by operation, retries included
        self.pace = SlidingWindow(IDENTITY_CENTER_LIMIT)
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is None:
                config = Config(
                    retries=_retries(os.environ),
                    connect_timeout=5,
                    read_timeout=20,
                    user_agent_extra="oncall-access",
                )
                session = boto3.session.Session(region_name=self.region)
                client = session.client(service, config=config)  # type: ignore[call-overload]
                client.meta.events.register("before-send", self._count)
                self._clients[service] = client
            return client

    def _count(self, event_name: str = "", **_: Any) -> None:
        """Every HTTP request, retries included, by operation (`before-send.SERVICE.OPERATION`)."""
        self.requests[event_name.rsplit(".", 1)[-1]] += 1

    async def call(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        """One operation, its errors as sentences; `params` as the API reference names them."""
        await self.pace.acquire()
        return await asyncio.to_thread(self._call, service, operation, params)

    def _call(self, service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        action = action_of(service, operation)
        try:
            answer = getattr(self._client(service), _snake(operation))(**params)
        except ClientError as exc:
            raise _from_client_error(action, exc) from None
        except NoCredentialsError:
            raise AwsRefused(
                "No AWS credentials were found (environment, shared config, web identity, "
                "container or instance role); give the bot's process some."
            ) from None
        except NoRegionError:
            raise AwsRefused("The aws-sso grant names no region.") from None
        except BotoCoreError as exc:
            raise AwsUnavailable(
                f"AWS did not answer {action} in {self.region} ({type(exc).__name__})."
            ) from None
        answer.pop("ResponseMetadata", None)
        return dict(answer)


def _retries(env: Mapping[str, str]) -> Any:
    """Standard retry mode with MAX_ATTEMPTS, unless the operator set AWS_RETRY_MODE or
    AWS_MAX_ATTEMPTS, which the SDK then reads as it always does."""
    retries: dict[str, Any] = {}
    if not env.get("AWS_RETRY_MODE"):
        retries["mode"] = "standard"
    if not env.get("AWS_MAX_ATTEMPTS"):
        retries["total_max_attempts"] = MAX_ATTEMPTS
    return retries


def _from_client_error(action: str, exc: ClientError) -> AwsError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code") or "")
    message = _short(error.get("Message") or "")
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedException"):
        return AwsRefused(
            f"AWS refused {action}: the credentials the bot runs with lack the IAM permission "
            f"{action} (add it to their policy; see docs/grants.md)."
        )
    if code in ("UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException"):
        return AwsRefused(f"AWS did not accept the bot's credentials for {action} ({code}).")
    if code in UNAVAILABLE or status >= 500 or status in (408, 429):
        return AwsUnavailable(f"AWS could not do {action} now ({code or status}); it is retried.")
    if code == "ResourceNotFoundException":
        return AwsNotFound(f"AWS found nothing for {action}: {message}")
    return AwsRefused(f"AWS refused {action} ({code or status}): {message}")
