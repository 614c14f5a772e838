"""Settings from the environment (and `.env`), read once by the composition root.

Names are a contract with users (see the README's settings table); nothing reads the environment
anywhere else.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

from croniter import croniter
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.audit import AuditKeys
from core.durations import parse_duration
from core.errors import CommandError
from core.identity import normalize_email, parse_aliases
from core.retention import parse_retention


def _env(name: str) -> AliasChoices:
    return AliasChoices(name, name.lower())


_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _items(text: str) -> list[str]:
    """A list setting: separated by commas, semicolons or spaces."""
    return [item for item in re.split(r"[,;\s]+", text) if item]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    database_url: str = Field(
        "sqlite+aiosqlite:///./oncall-access.db",
        validation_alias=_env("ONCALL_ACCESS_DATABASE_URL"),
    )
    secret_key: str | None = Field(None, validation_alias=_env("ONCALL_ACCESS_SECRET_KEY"))
    audit_key_text: str = Field("", validation_alias=_env("ONCALL_ACCESS_AUDIT_KEY"))
    audit_checkpoint_dir: Path | None = Field(
        None, validation_alias=_env("ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR")
    )
    audit_checkpoint_schedule: str = Field(
        "0 * * * *", validation_alias=_env("ONCALL_ACCESS_AUDIT_CHECKPOINT_SCHEDULE")
    )
    policy_file: Path | None = Field(None, validation_alias=_env("ONCALL_ACCESS_POLICY_FILE"))
    roster_file: Path | None = Field(None, validation_alias=_env("ONCALL_ACCESS_ROSTER_FILE"))
    admins_text: str = Field("", validation_alias=_env("ONCALL_ACCESS_ADMINS"))
    sync_schedule: str = Field("5,35 * * * *", validation_alias=_env("ONCALL_ACCESS_SYNC_SCHEDULE"))
    roster_max_age_text: str = Field("45m", validation_alias=_env("ONCALL_ACCESS_ROSTER_MAX_AGE"))
    email_aliases_text: str = Field("", validation_alias=_env("ONCALL_ACCESS_EMAIL_ALIASES"))
    retention_text: str = Field("", validation_alias=_env("ONCALL_ACCESS_RETENTION"))
    tick_seconds: float = Field(5.0, validation_alias=_env("ONCALL_ACCESS_TICK_SECONDS"))
    shutdown_seconds: float = Field(
        20.0, gt=0, validation_alias=_env("ONCALL_ACCESS_SHUTDOWN_SECONDS")
    )
    port: int = Field(3000, validation_alias=_env("PORT"))
    log_level: str = Field("INFO", validation_alias=_env("ONCALL_ACCESS_LOG_LEVEL"))
    log_format: str = Field("text", validation_alias=_env("ONCALL_ACCESS_LOG_FORMAT"))

    slack_bot_token: str | None = Field(None, validation_alias=_env("SLACK_BOT_TOKEN"))
    slack_signing_secret: str | None = Field(None, validation_alias=_env("SLACK_SIGNING_SECRET"))
    slack_app_token: str | None = Field(None, validation_alias=_env("SLACK_APP_TOKEN"))
    slack_api_url: str | None = Field(None, validation_alias=_env("SLACK_API_URL"))
    slack_team_id: str | None = Field(None, validation_alias=_env("ONCALL_ACCESS_SLACK_TEAM_ID"))
    slack_enterprise_ids_text: str = Field(
        "", validation_alias=_env("ONCALL_ACCESS_SLACK_ENTERPRISE_IDS")
    )
    slack_approvals_channel: str | None = Field(
        None, validation_alias=_env("ONCALL_ACCESS_SLACK_APPROVALS_CHANNEL")
    )

    microsoft_app_id: str | None = Field(None, validation_alias=_env("MICROSOFT_APP_ID"))
    microsoft_app_password: str | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_PASSWORD")
    )
    microsoft_app_tenant_id: str | None = Field(
        None, validation_alias=_env("MICROSOFT_APP_TENANT_ID")
    )
    microsoft_app_type: str = Field("MultiTenant", validation_alias=_env("MICROSOFT_APP_TYPE"))
    microsoft_openid_metadata_url: str | None = Field(
        None, validation_alias=_env("MICROSOFT_OPENID_METADATA_URL")
    )
    microsoft_token_issuer: str | None = Field(
        None, validation_alias=_env("MICROSOFT_TOKEN_ISSUER")
    )
    microsoft_login_url: str | None = Field(None, validation_alias=_env("MICROSOFT_LOGIN_URL"))
    teams_dev_no_auth: bool = Field(False, validation_alias=_env("ONCALL_ACCESS_TEAMS_DEV_NO_AUTH"))
    teams_tenants_text: str = Field("", validation_alias=_env("ONCALL_ACCESS_TEAMS_TENANTS"))
    teams_allow_any_tenant: bool = Field(
        False, validation_alias=_env("ONCALL_ACCESS_TEAMS_ALLOW_ANY_TENANT")
    )

    pagerduty_api_url: str | None = Field(None, validation_alias=_env("PAGERDUTY_API_URL"))
    pagerduty_webhook_secret_text: str = Field(
        "", validation_alias=_env("PAGERDUTY_WEBHOOK_SECRET")
    )
    pagerduty_identity_url: str | None = Field(
        None, validation_alias=_env("PAGERDUTY_IDENTITY_URL")
    )
    public_url: str | None = Field(None, validation_alias=_env("ONCALL_ACCESS_PUBLIC_URL"))
    metrics_token: str | None = Field(
        None, validation_alias=_env("ONCALL_ACCESS_METRICS_TOKEN"), repr=False
    )
    opsgenie_api_url: str | None = Field(None, validation_alias=_env("OPSGENIE_API_URL"))
    jsm_api_url: str | None = Field(None, validation_alias=_env("JSM_API_URL"))
    # Grant targets: base URL overrides (national clouds, GitHub Enterprise Server, test servers).
    graph_api_url: str | None = Field(None, validation_alias=_env("GRAPH_API_URL"))
    entra_login_url: str | None = Field(None, validation_alias=_env("ENTRA_LOGIN_URL"))
    github_api_url: str | None = Field(None, validation_alias=_env("GITHUB_API_URL"))

    @field_validator("sync_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(f"ONCALL_ACCESS_SYNC_SCHEDULE {value!r} is not a cron expression")
        return value

    @field_validator("audit_checkpoint_schedule")
    @classmethod
    def _checkpoint_cron(cls, value: str) -> str:
        if not croniter.is_valid(value):
            raise ValueError(
                f"ONCALL_ACCESS_AUDIT_CHECKPOINT_SCHEDULE {value!r} is not a cron expression"
            )
        return value

    @field_validator("audit_checkpoint_dir")
    @classmethod
    def _checkpoint_dir(cls, value: Path | None) -> Path | None:
        if value is not None and not (value.is_dir() and os.access(value, os.W_OK)):
            raise ValueError(
                f"ONCALL_ACCESS_AUDIT_CHECKPOINT_DIR {str(value)!r} is not a folder this process "
                "can write"
            )
        return value

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        if value.strip().lower() not in ("text", "json"):
            raise ValueError(f"ONCALL_ACCESS_LOG_FORMAT is `text` or `json`, not {value!r}")
        return value.strip().lower()

    def secret_values(self) -> list[str | None]:
        """Every secret the settings hold, for the logs to mask wherever one turns up."""
        return [
            self.secret_key,
            *(k.strip() for k in self.audit_key_text.split(",")),
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_app_token,
            self.microsoft_app_password,
            self.metrics_token,
        ]

    @field_validator("roster_max_age_text")
    @classmethod
    def _age(cls, value: str) -> str:
        try:
            parse_duration(value)
        except CommandError as exc:
            raise ValueError(f"ONCALL_ACCESS_ROSTER_MAX_AGE: {exc.message}") from None
        return value

    @field_validator("retention_text")
    @classmethod
    def _retention(cls, value: str) -> str:
        if value.strip():
            try:
                parse_retention(value)
            except ValueError as exc:
                raise ValueError(f"ONCALL_ACCESS_RETENTION: {exc}") from None
        return value

    @property
    def retention(self) -> timedelta | None:
        """How long finished requests and their audit events are kept; None: for ever."""
        return parse_retention(self.retention_text) if self.retention_text.strip() else None

    @field_validator("email_aliases_text")
    @classmethod
    def _aliases(cls, value: str) -> str:
        parse_aliases(value)  # raises with a sentence naming the bad pair
        return value

    @field_validator("audit_key_text")
    @classmethod
    def _audit_keys(cls, value: str) -> str:
        keys = [k.strip() for k in value.split(",") if k.strip()]
        if any(len(k) < 32 for k in keys):  # HMAC keys: short ones are guessable offline
            raise ValueError(
                "ONCALL_ACCESS_AUDIT_KEY: each key must be at least 32 characters"
                " (`oncall-access secret-key` prints one)"
            )
        return value

    @property
    def audit_keys(self) -> AuditKeys:
        """Newest first: the first chains new events; older ones still verify theirs."""
        return AuditKeys.parse(self.audit_key_text)

    @field_validator("teams_tenants_text")
    @classmethod
    def _tenants(cls, value: str) -> str:
        for tenant in _items(value):
            if not _GUID.match(tenant.lower()):
                raise ValueError(
                    f"ONCALL_ACCESS_TEAMS_TENANTS: `{tenant}` is not a Microsoft 365 tenant id "
                    "(a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47)"
                )
        return value

    @property
    def teams_tenants(self) -> frozenset[str]:
        return frozenset(t.lower() for t in _items(self.teams_tenants_text))

    @property
    def slack_enterprise_ids(self) -> frozenset[str]:
        return frozenset(e.upper() for e in _items(self.slack_enterprise_ids_text))

    @property
    def email_aliases(self) -> dict[str, str]:
        return parse_aliases(self.email_aliases_text)

    @property
    def admins(self) -> frozenset[str]:
        return frozenset(
            normalize_email(a) for a in self.admins_text.replace(";", ",").split(",") if a.strip()
        )

    @property
    def pagerduty_webhook_secrets(self) -> tuple[str, ...]:
        """The v3 webhook subscriptions' secrets, comma-separated: several while one rotates."""
        return tuple(s.strip() for s in self.pagerduty_webhook_secret_text.split(",") if s.strip())

    @property
    def roster_max_age(self) -> timedelta:
        return parse_duration(self.roster_max_age_text)
