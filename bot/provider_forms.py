"""The connect forms the surfaces offer, in order: where each provider is registered."""

from __future__ import annotations

from adapters.jsm.form import FORM as JSM
from adapters.opsgenie.form import FORM as OPSGENIE
from adapters.pagerduty.form import FORM as PAGERDUTY
from core.connection_form import ProviderForm

FORMS: tuple[ProviderForm, ...] = (PAGERDUTY, OPSGENIE, JSM)
