"""Checks the token the Bot Connector sends with every activity, as Microsoft specifies it.

Bearer scheme; ``iss`` = the configured issuer; ``aud`` = our app id; a lifetime with five
minutes' clock skew; an RS256 signature by a published key that is endorsed for the activity's
channel; ``serviceurl`` = the activity's service URL. It replaces botbuilder's
``JwtTokenExtractor`` so that keys come from ``ChannelSigningKeys``; every refusal is a
``PermissionError``, which ``CloudAdapter`` and the route answer with 401.
"""

from __future__ import annotations

from typing import Any

import jwt
from botframework.connector.auth import ClaimsIdentity, SkillValidation

from adapters.teams.signing_keys import ChannelSigningKeys

__all__ = ["CLOCK_SKEW_S", "ChannelTokenValidator"]

CLOCK_SKEW_S = 300
_ALGORITHMS = ["RS256"]  # what the channel's metadata lists, and all botbuilder ever decodes


class ChannelTokenValidator:
    def __init__(self, app_id: str, issuer: str, keys: ChannelSigningKeys) -> None:
        self._app_id = app_id
        self._issuer = issuer
        self._keys = keys

    async def validate(
        self, auth_header: str | None, channel_id: str | None, service_url: str | None
    ) -> ClaimsIdentity:
        """The token's claims; ``PermissionError`` for any token the channel did not send us."""
        scheme, _, token = (auth_header or "").partition(" ")
        if scheme != "Bearer" or not token or " " in token:
            raise PermissionError("no Bearer token")
        header, payload = _unverified(token)
        if header.get("alg") not in _ALGORITHMS:
            raise PermissionError(f"token signed with {header.get('alg')!r}")
        # The payload checked here is the one the signature covers; checking it first means a
        # token that would be refused anyway never costs a key fetch.
        if payload.get("iss") != self._issuer:
            raise PermissionError("token from another issuer")
        # Exactly our app id, as botbuilder compares it (not one audience among several).
        if payload.get("aud") != self._app_id:
            raise PermissionError("token for another bot")
        if not service_url or payload.get("serviceurl") != service_url:
            raise PermissionError("token for another service URL")
        if SkillValidation.is_skill_claim(payload):
            raise PermissionError("skill tokens are not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise PermissionError("token without a key id")
        key = await self._keys.get(kid)
        if key is None:
            raise PermissionError(f"token signed with an unpublished key {kid!r}")
        if not channel_id or channel_id not in key.endorsements:
            raise PermissionError(f"signing key not endorsed for channel {channel_id!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.public_key,
                algorithms=_ALGORITHMS,
                issuer=self._issuer,
                leeway=CLOCK_SKEW_S,
                options={"require": ["exp", "iss", "aud"], "verify_aud": False},
            )
        except jwt.PyJWTError as exc:
            raise PermissionError(f"invalid token: {exc}") from exc
        return ClaimsIdentity(claims, True)


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise PermissionError(f"malformed token: {exc}") from exc
    return header, claims
