"""The connect forms the surfaces offer, in order: where each provider is registered (roster
providers first, then the grant targets)."""

from __future__ import annotations

from adapters.entra.form import FORM as ENTRA
from adapters.github.form import FORM as GITHUB
from adapters.jsm.form import FORM as JSM
from adapters.okta.form import FORM as OKTA
from adapters.opsgenie.form import FORM as OPSGENIE
from adapters.pagerduty.form import FORM as PAGERDUTY
from core.connection_form import ProviderForm

FORMS: tuple[ProviderForm, ...] = (PAGERDUTY, OPSGENIE, JSM, ENTRA, OKTA, GITHUB)
