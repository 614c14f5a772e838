"""Bot Framework authentication for ``CloudAdapter``, built from plain settings.

Why not ``ConfigurationBotFrameworkAuthentication``: as soon as one endpoint is overridden it
switches botbuilder to its parameterized mode, which takes every other endpoint verbatim with no
defaults, so a partial override silently yields ``None`` URLs. Here every value is filled in
(public-cloud defaults + our overrides), and four botbuilder 4.17 behaviours are corrected:

* inbound tokens are checked by ``tokens.ChannelTokenValidator`` on ``ChannelSigningKeys``:
  botbuilder fetched the channel's keys with blocking calls on the event loop and refused a key
  published after its daily refresh until the next one;
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
from enum import StrEnum

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

from adapters.teams.signing_keys import ChannelSigningKeys
from adapters.teams.tokens import ChannelTokenValidator

__all__ = ["DEFAULT_LOGIN_URL", "AppType", "build_bot_framework_authentication"]

_log = logging.getLogger(__name__)

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
    signing_keys: ChannelSigningKeys | None = None,
) -> BotFrameworkAuthentication:
    """Authentication for ``CloudAdapter``: validates inbound channel JWTs, signs outbound calls.

    ``openid_metadata_url`` / ``token_issuer`` decide which inbound tokens are genuine;
    ``login_url`` is the Entra host outbound tokens come from (authority ``{login_url}/{tenant}``,
    tenant ``botframework.com`` for MultiTenant). ``signing_keys`` replaces the keys fetched from
    ``openid_metadata_url`` (tests give theirs a clock).
    """
    kind = AppType.parse(app_type)
    if not app_id:
        # botbuilder treats an empty app id as "authentication disabled" and accepts anything.
        raise ValueError("MICROSOFT_APP_ID is required")
    custom_login = login_url is not None
    credentials = _credentials_factory(kind, app_id, app_password, tenant_id, custom_login)
    metadata_url = (
        openid_metadata_url or AuthenticationConstants.TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL
    )
    issuer = token_issuer or AuthenticationConstants.TO_BOT_FROM_CHANNEL_TOKEN_ISSUER
    inner = BotFrameworkAuthenticationFactory.create(
        validate_authority=not custom_login,
        to_channel_from_bot_login_url=(login_url or DEFAULT_LOGIN_URL).rstrip("/"),
        to_channel_from_bot_oauth_scope=AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE,
        to_bot_from_channel_token_issuer=issuer,
        oauth_url=AuthenticationConstants.OAUTH_URL,
        to_bot_from_channel_open_id_metadata_url=metadata_url,
        to_bot_from_emulator_open_id_metadata_url=(
            AuthenticationConstants.TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL
        ),
        caller_id=CallerIdConstants.public_azure_channel,
        credential_factory=credentials,
        auth_configuration=AuthenticationConfiguration(),
    )
    keys = signing_keys or ChannelSigningKeys(metadata_url)
    return _ChannelAuthentication(inner, ChannelTokenValidator(app_id, issuer, keys))


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

    app: ConfidentialClientApplication | None  # botbuilder's MSAL client, None until first built

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


class _ChannelAuthentication(BotFrameworkAuthentication):
    """Inbound tokens checked by ``ChannelTokenValidator``; everything outbound is botbuilder's.

    Only the Bot Connector's channel tokens are accepted: botbuilder would also send Emulator and
    skill tokens through checks of their own, on keys fetched with blocking calls.
    Every refusal is a ``PermissionError`` (401); ``KeysUnavailable`` (no key ever fetched) is
    not a refusal: the route answers it with 503.
    """

    def __init__(self, inner: BotFrameworkAuthentication, tokens: ChannelTokenValidator) -> None:
        self._inner = inner
        self._tokens = tokens

    async def authenticate_request(
        self, activity: Activity, auth_header: str
    ) -> AuthenticateRequestResult:
        try:
            claims = await self._tokens.validate(
                auth_header, activity.channel_id, activity.service_url
            )
        except PermissionError as exc:
            _log.info("rejected channel token: %s", exc)
            raise
        # What botbuilder's parameterized authentication answers for a channel token.
        result = AuthenticateRequestResult()
        result.claims_identity = claims
        result.audience = self._inner.get_originating_audience()
        result.caller_id = CallerIdConstants.public_azure_channel
        result.connector_factory = self._inner.create_connector_factory(claims)
        return result

    async def authenticate_streaming_request(
        self, auth_header: str, channel_id_header: str
    ) -> AuthenticateRequestResult:
        raise PermissionError("streaming connections are not served")

    async def authenticate_channel_request(self, auth_header: str) -> ClaimsIdentity:
        raise PermissionError("skill calls are not served")

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
