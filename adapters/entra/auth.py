"""Signing in to Microsoft Entra ID as an application (OAuth 2.0 client credentials).

The app proves itself with a client secret, or with a certificate: a JWT client assertion signed
with its private key and naming the certificate by its SHA-256 thumbprint (`x5t#S256`, and the
SHA-1 `x5t` older tenants read), as Microsoft's "certificate credentials" document describes.
The token's `roles` claim lists the application permissions the app was granted, which is how a
connect or a refusal can name exactly the one that is missing.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from adapters.providerhttp import ProviderError, ProviderHTTP
from adapters.providerhttp.tokens import Token
from core.errors import DomainError

LOGIN_URL = "https://login.microsoftonline.com"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class Certificate:
    """A PEM certificate with its private key (one file holding both, as Azure exports it)."""

    private_key: Any
    der: bytes

    @classmethod
    def from_pem(cls, pem: str) -> Certificate:
        data = pem.encode()
        try:
            key = serialization.load_pem_private_key(data, password=None)
            cert = x509.load_pem_x509_certificate(data)
        except ValueError:
            raise DomainError(
                "The certificate file must hold the PEM certificate and its unencrypted private "
                "key."
            ) from None
        return cls(key, cert.public_bytes(serialization.Encoding.DER))

    def assertion(self, client_id: str, audience: str) -> str:
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": str(uuid.uuid4()),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        }
        headers = {
            "x5t#S256": _b64url(hashlib.sha256(self.der).digest()),
            "x5t": _b64url(
                hashlib.sha1(self.der).digest()
            ),  # names the certificate; not a security use
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers=headers)


class EntraLogin:
    """Fetches Graph tokens for one app in one tenant."""

    def __init__(
        self,
        *,
        tenant: str,
        client_id: str,
        client_secret: str = "",
        certificate: str = "",
        login_url: str | None = None,
        **http: Any,
    ) -> None:
        """`http` goes to ProviderHTTP as it is (retry, clock, sleep, transport, timeout)."""
        if not (client_secret or certificate):
            raise DomainError("An Entra ID app needs a client secret or a certificate.")
        self.tenant = tenant
        self.client_id = client_id
        self._secret = client_secret
        self._certificate = Certificate.from_pem(certificate) if certificate else None
        base = (login_url or LOGIN_URL).rstrip("/")
        self.token_url = f"{base}/{tenant}/oauth2/v2.0/token"
        self._http = ProviderHTTP(
            "Microsoft Entra ID",
            base,
            auth=_NoAuth(),
            error_facts=_login_facts,
            **http,
        )
        self.roles: frozenset[str] = frozenset()

    async def fetch(self) -> Token:
        form = {
            "client_id": self.client_id,
            "scope": GRAPH_SCOPE,
            "grant_type": "client_credentials",
        }
        if self._certificate is not None:
            form["client_assertion_type"] = ASSERTION_TYPE
            form["client_assertion"] = self._certificate.assertion(self.client_id, self.token_url)
        else:
            form["client_secret"] = self._secret
        try:
            body = await self._http.request("POST", self.token_url, data=form, authorize=False)
        except ProviderError as exc:
            raise DomainError(_login_refusal(exc)) from None
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise DomainError("Microsoft Entra ID answered the sign-in without a token.")
        self.roles = _roles(body["access_token"])
        return Token(body["access_token"], float(body.get("expires_in") or 3599))

    async def aclose(self) -> None:
        await self._http.aclose()


class _NoAuth:
    async def authorization(self) -> str:  # pragma: no cover - every call is authorize=False
        return ""

    def invalidate(self) -> bool:
        return False


def _roles(token: str) -> frozenset[str]:
    """The application permissions granted, read from our own token to name what is missing.
    Not a trust decision (Graph checks the token), so its signature is not verified here."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return frozenset()
    roles = claims.get("roles")
    return frozenset(str(r) for r in roles) if isinstance(roles, list) else frozenset()


def _login_facts(response: httpx.Response) -> dict[str, str]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    facts = {"error": str(body.get("error") or "")}
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes:
        facts["aadsts"] = str(codes[0])
    return facts


# The AADSTS codes an admin meets when connecting, in Microsoft's words shortened.
_AADSTS = {
    "7000215": "the client secret is wrong (give the secret's value, not its id)",
    "7000222": "the client secret has expired: make a new one",
    "700027": "the certificate is not one the app has uploaded, or its assertion is invalid",
    "700016": "no app with that client id is in this tenant",
    "90002": "no such tenant",
    "900023": "the tenant is not a valid tenant id or domain",
}


def _login_refusal(exc: ProviderError) -> str:
    code = exc.facts.get("aadsts", "")
    if code in _AADSTS:
        return f"Microsoft Entra ID refused the sign-in (AADSTS{code}): {_AADSTS[code]}."
    error = exc.facts.get("error")
    if error:
        return (
            f"Microsoft Entra ID refused the sign-in ({error}): check the tenant, the client id "
            "and the secret or certificate."
        )
    return exc.message
