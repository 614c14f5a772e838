"""`record`: the audit trail is the record; the team acts on it."""

from core.grant_types import GrantType

GRANT_TYPE = GrantType("record")
