"""Bot Framework authentication for ``CloudAdapter``, built from plain settings.

Why not ``ConfigurationBotFrameworkAuthentication``: as soon as one endpoint is overridden it
switches botbuilder to its parameterized mode, which takes every other endpoint verbatim with no
defaults, so a partial override silently yields ``None`` URLs. Here every value is filled in
(public-cloud defaults + our overrides), and three botbuilder 4.17 behaviours are corrected:

* a custom login URL made botbuilder's MSAL client ask login.microsoftonline.com to vouch for
  the authority (instance discovery); an explicitly configured login URL is trusted as is;
* credentials were rebuilt per turn, so every turn fetched a new token; they are now cached
  per scope and MSAL's token cache is reused;
* an expired, malformed or forged channel token made ``CloudAdapter`` answer 500; it now
  answers 401 like any other authentication failure.

``UserAssignedMSI``: tokens come from the Azure managed-identity endpoint (IMDS) for the
user-assigned identity whose *client id* is ``app_id``; no password is used and ``login_url``
does not apply. It only works on an Azure host with that identity attached.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from enum import StrEnum
from typing import TypeVar

import requests
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import (
    AuthenticateRequestResult,
    AuthenticationConfiguration,
    AuthenticationConstants,
    BotFrameworkAuthentication,
    BotFrameworkAuthenticationFactory,
    ClaimsIdentity,
    ConnectorFactory,
    ManagedIdentityServiceClientCredentialsFactory,
    MicrosoftAppCredentials,
    PasswordServiceClientCredentialFactory,
    ServiceClientCredentialsFactory,
    UserTokenClient,
)
from botframework.connector.skills import BotFrameworkClient
from msal import ConfidentialClientApplication

__all__ = ["DEFAULT_LOGIN_URL", "AppType", "build_bot_framework_authentication"]

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

DEFAULT_LOGIN_URL = "https://login.microsoftonline.com"
_MULTI_TENANT_AUTHORITY_TENANT = AuthenticationConstants.DEFAULT_CHANNEL_AUTH_TENANT


class AppType(StrEnum):
    """``MICROSOFT_APP_TYPE``: how the bot's Entra identity is registered."""

    MULTI_TENANT = "MultiTenant"
    SINGLE_TENANT = "SingleTenant"
    USER_ASSIGNED_MSI = "UserAssignedMSI"

    @classmethod
    def parse(cls, value: str | AppType) -> AppType:
        for member in cls:
            if member.value.lower() == str(value).lower():
                return member
        raise ValueError(f"MICROSOFT_APP_TYPE must be one of {[m.value for m in cls]}: {value!r}")


def build_bot_framework_authentication(
    app_id: str,
    app_password: str | None,
    app_type: AppType | str,
    tenant_id: str | None,
    openid_metadata_url: str | None = None,
    token_issuer: str | None = None,
    login_url: str | None = None,
) -> BotFrameworkAuthentication:
    """Authentication for ``CloudAdapter``: validates inbound channel JWTs, signs outbound calls.

    ``openid_metadata_url`` / ``token_issuer`` decide which inbound tokens are genuine;
    ``login_url`` is the Entra host outbound tokens come from (authority ``{login_url}/{tenant}``,
    tenant ``botframework.com`` for MultiTenant).
    """
    kind = AppType.parse(app_type)
    if not app_id:
        # botbuilder treats an empty app id as "authentication disabled" and accepts anything.
        raise ValueError("MICROSOFT_APP_ID is required")
    custom_login = login_url is not None
    credentials = _credentials_factory(kind, app_id, app_password, tenant_id, custom_login)
    inner = BotFrameworkAuthenticationFactory.create(
        validate_authority=not custom_login,
        to_channel_from_bot_login_url=(login_url or DEFAULT_LOGIN_URL).rstrip("/"),
        to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        to_bot_from_channel_token_issuer=(
            token_issuer or AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
        ),
        oauth_url=AuthenticationConstants.OAUTH_URL,
        to_bot_from_channel_open_id_metadata_url=(
            openid_metadata_url or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
        ),
        to_bot_from_emulator_open_id_metadata_url=(
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        ),
        caller_id=CallerIdConstants.public_azure_channel,
        credential_factory=credentials,
        auth_configuration=AuthenticationConfiguration(),
    )
    return _RejectInvalidTokens(inner)


def _credentials_factory(
    kind: AppType,
    app_id: str,
    app_password: str | None,
    tenant_id: str | None,
    custom_login: bool,
) -> ServiceClientCredentialsFactory:
    if kind is AppType.USER_ASSIGNED_MSI:
        if not tenant_id:
            raise ValueError("MICROSOFT_APP_TENANT_ID is required for UserAssignedMSI")
        if custom_login:
            raise ValueError("MICROSOFT_LOGIN_URL does not apply to UserAssignedMSI")
        return ManagedIdentityServiceClientCredentialsFactory(app_id)
    if not app_password:
        raise ValueError(f"MICROSOFT_APP_PASSWORD is required for {kind.value}")
    if kind is AppType.SINGLE_TENANT:
        if not tenant_id:
            raise ValueError("MICROSOFT_APP_TENANT_ID is required for SingleTenant")
        return _ClientSecretCredentialsFactory(app_id, app_password, tenant_id)
    return _ClientSecretCredentialsFactory(app_id, app_password, _MULTI_TENANT_AUTHORITY_TENANT)


class _ClientSecretCredentialsFactory(PasswordServiceClientCredentialFactory):
    """Client-secret credentials for authority ``{login_endpoint}/{tenant}``, one per scope."""

    def __init__(self, app_id: str, password: str, tenant_id: str) -> None:
        super().__init__(app_id, password, tenant_id)
        self._cache: dict[tuple[str, str, bool], _ClientSecretCredentials] = {}

    async def create_credentials(
        self, app_id: str, oauth_scope: str, login_endpoint: str, validate_authority: bool
    ) -> MicrosoftAppCredentials:
        if not await self.is_valid_app_id(app_id):
            raise PermissionError(f"credentials requested for an unknown app id: {app_id!r}")
        key = (oauth_scope, login_endpoint, validate_authority)
        credentials = self._cache.get(key)
        if credentials is None:
            credentials = _ClientSecretCredentials(
                app_id,
                self.password,
                authority=f"{login_endpoint.rstrip('/')}/{self.tenant_id}",
                oauth_scope=oauth_scope,
                validate_authority=validate_authority,
            )
            self._cache[key] = credentials
        return credentials


class _ClientSecretCredentials(MicrosoftAppCredentials):
    """``MicrosoftAppCredentials`` whose MSAL client honours ``validate_authority``."""

    def __init__(
        self,
        app_id: str,
        password: str,
        *,
        authority: str,
        oauth_scope: str,
        validate_authority: bool,
    ) -> None:
        super().__init__(app_id, password, oauth_scope=oauth_scope)
        self.oauth_endpoint = authority
        self._validate_authority = validate_authority

    def get_access_token(self, force_refresh: bool = False) -> str:
        if self.app is None:
            # botbuilder builds this lazily without validate_authority; pre-building it here makes
            # the inherited token logic (cache first, then client credentials) use ours.
            self.app = ConfidentialClientApplication(
                client_id=self.microsoft_app_id,
                client_credential=self.microsoft_app_password,
                authority=self.oauth_endpoint,
                validate_authority=self._validate_authority,
            )
        token: str = super().get_access_token(force_refresh)
        return token


class _RejectInvalidTokens(BotFrameworkAuthentication):
    """Delegates to botbuilder, reporting every failed token check as ``PermissionError``.

    ``CloudAdapter.process`` maps only ``PermissionError`` to 401; botbuilder lets PyJWT errors
    (expired, bad signature), an unknown ``kid`` (``IndexError``) or a missing header
    (``AttributeError``) escape as 500s. Failing to *fetch* the keys stays a server error.
    """

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        # CloudAdapter passes "" for a missing header; botbuilder only refuses None.
        return await _as_permission_error(
            self._inner.authenticate_request(activity, auth_header or None)
        )

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        return await _as_permission_error(
            self._inner.authenticate_streaming_request(auth_header, channel_id_header)
        )

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        return await _as_permission_error(self._inner.authenticate_channel_request(auth_header))

    def create_connector_factory(self, claims_identity: ClaimsIdentity) -> ConnectorFactory:
        factory: ConnectorFactory = self._inner.create_connector_factory(claims_identity)
        return factory

    async def create_user_token_client(self, claims_identity: ClaimsIdentity) -> UserTokenClient:
        client: UserTokenClient = await self._inner.create_user_token_client(claims_identity)
        return client

    def create_bot_framework_client(self) -> BotFrameworkClient:
        client: BotFrameworkClient = self._inner.create_bot_framework_client()
        return client

    def get_originating_audience(self) -> str:
        audience: str = self._inner.get_originating_audience()
        return audience


async def _as_permission_error(check: Awaitable[_T]) -> _T:
    try:
        return await check
    except (PermissionError, requests.RequestException):
        raise
    except Exception as exc:
        _log.info("rejected channel token: %s: %s", type(exc).__name__, exc)
        raise PermissionError("invalid channel token") from exc
