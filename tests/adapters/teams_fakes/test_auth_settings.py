"""``build_bot_framework_authentication``: which settings it accepts and what it builds.

Nothing here talks to an identity endpoint; the autouse network guard proves that building
authentication (including the managed-identity path) stays offline until a token is needed.
"""

from __future__ import annotations

import pytest
from botframework.connector.auth import (
    BotFrameworkAuthentication,
    ClaimsIdentity,
    ManagedIdentityAppCredentials,
    MicrosoftAppCredentials,
)

from adapters.teams.auth import AppType, build_bot_framework_authentication
from tests.adapters.teams_fakes.conftest import APP_ID, APP_PASSWORD, TENANT_ID

SERVICE_URL = "https://smba.trafficmanager.net/amer/"


async def _outbound_credentials(auth: BotFrameworkAuthentication) -> object:
    factory = auth.create_connector_factory(ClaimsIdentity({"aud": APP_ID}, True))
    client = await factory.create(SERVICE_URL, None)
    return client.config.credentials


@pytest.mark.parametrize(
    ("app_type", "tenant_id", "authority"),
    [
        ("MultiTenant", None, "https://login.microsoftonline.com/botframework.com"),
        ("SingleTenant", TENANT_ID, f"https://login.microsoftonline.com/{TENANT_ID}"),
        ("singletenant", TENANT_ID, f"https://login.microsoftonline.com/{TENANT_ID}"),
    ],
)
async def test_public_cloud_defaults(app_type: str, tenant_id: str | None, authority: str) -> None:
    auth = build_bot_framework_authentication(APP_ID, APP_PASSWORD, app_type, tenant_id)

    credentials = await _outbound_credentials(auth)

    assert isinstance(credentials, MicrosoftAppCredentials)
    assert credentials.oauth_endpoint == authority
    assert credentials.oauth_scope == "https://api.botframework.com"
    assert auth.get_originating_audience() == "https://api.botframework.com"


async def test_custom_login_url_sets_the_authority() -> None:
    auth = build_bot_framework_authentication(
        APP_ID, APP_PASSWORD, AppType.SINGLE_TENANT, TENANT_ID, login_url="https://login.example/"
    )

    credentials = await _outbound_credentials(auth)

    assert isinstance(credentials, MicrosoftAppCredentials)
    assert credentials.oauth_endpoint == f"https://login.example/{TENANT_ID}"


async def test_user_assigned_msi_builds_managed_identity_credentials() -> None:
    # Tokens would come from the Azure managed-identity endpoint, which only exists on an
    # Azure host; building the credentials must not touch it.
    auth = build_bot_framework_authentication(APP_ID, None, "UserAssignedMSI", TENANT_ID)

    credentials = await _outbound_credentials(auth)

    assert isinstance(credentials, ManagedIdentityAppCredentials)
    assert credentials.microsoft_app_id == APP_ID
    assert credentials.oauth_scope == "https://api.botframework.com"


@pytest.mark.parametrize(
    ("app_id", "password", "app_type", "tenant_id", "login_url", "complaint"),
    [
        ("", APP_PASSWORD, "MultiTenant", None, None, "MICROSOFT_APP_ID"),
        (APP_ID, APP_PASSWORD, "Federated", None, None, "MICROSOFT_APP_TYPE"),
        (APP_ID, None, "MultiTenant", None, None, "MICROSOFT_APP_PASSWORD"),
        (APP_ID, APP_PASSWORD, "SingleTenant", None, None, "MICROSOFT_APP_TENANT_ID"),
        (APP_ID, None, "UserAssignedMSI", None, None, "MICROSOFT_APP_TENANT_ID"),
        (APP_ID, None, "UserAssignedMSI", TENANT_ID, "https://login.example", "LOGIN_URL"),
    ],
)
def test_incomplete_settings_are_refused(
    app_id: str,
    password: str | None,
    app_type: str,
    tenant_id: str | None,
    login_url: str | None,
    complaint: str,
) -> None:
    with pytest.raises(ValueError, match=complaint):
        build_bot_framework_authentication(
            app_id, password, app_type, tenant_id, login_url=login_url
        )
