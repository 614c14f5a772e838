"""A local stand-in for the Bot Framework / Entra identity endpoints.

Lets tests send the bot JWTs signed exactly as the Bot Connector signs them, and lets the bot's
outbound token requests (MSAL client credentials) succeed, with no traffic beyond 127.0.0.1.

It serves HTTPS because MSAL refuses a non-``https`` authority; the certificate chains to a CA
generated per instance, so point ``requests`` (``REQUESTS_CA_BUNDLE``) and httpx
(``SSL_CERT_FILE``) at ``ca_bundle_path``, e.g. with ``monkeypatch.setenv``, before the bot talks
to it.

Routes (shapes from the reference ``auth/`` examples):

* ``GET /v1/.well-known/openidconfiguration`` - channel OpenID metadata, ``jwks_uri`` -> self;
  it can be made slow (``hold_metadata``) or failing (``fail_metadata``)
* ``GET /v1/.well-known/keys`` - JWKS of every published key (``rotate_signing_key`` publishes a
  new one); every key carries ``endorsements`` (channel ids)
* ``GET /{tenant}/v2.0/.well-known/openid-configuration`` - tenant discovery MSAL does first
* ``POST /{tenant}/oauth2/v2.0/token`` - ``client_credentials`` grant, recorded
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import secrets
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from botframework.connector.auth import JwtTokenExtractor
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from jwt.algorithms import RSAAlgorithm

from tests.fakes.teams._server import BackgroundServer, Observations, ThreadedFake

BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
"""``iss`` of tokens the Bot Connector sends to bots (reference: openidconfiguration example)."""

BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
"""Scope a bot requests to call the connector."""

_CHANNEL_METADATA_PATH = "/v1/.well-known/openidconfiguration"
_JWKS_PATH = "/v1/.well-known/keys"
_TOKEN_LIFETIME_S = 3600


@dataclass(frozen=True)
class SigningKey:
    """An RSA key with the ``kid`` it is published under."""

    kid: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self, endorsements: Sequence[str]) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key.public_key(), as_dict=True)
        return {**jwk, "use": "sig", "kid": self.kid, "endorsements": list(endorsements)}


def generate_signing_key(kid: str | None = None) -> SigningKey:
    """A fresh RS256 key; pass ``kid`` to impersonate a published key id."""
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return SigningKey(kid=kid or secrets.token_urlsafe(16), private_key=private_key)


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint; ``access_token`` is None when it was refused."""

    tenant: str
    grant_type: str | None
    client_id: str | None
    scope: str | None
    had_client_secret: bool
    access_token: str | None


class FakeIdentityProvider(ThreadedFake):
    """OpenID metadata + JWKS for inbound channel tokens, and a token endpoint for outbound calls.

    ``clients`` maps app id -> password; when given, the token endpoint refuses anything else
    with ``invalid_client`` (as Entra does), otherwise it issues tokens to any client.
    """

    def __init__(
        self,
        *,
        endorsements: Sequence[str] = ("msteams",),
        token_issuer: str = BOT_FRAMEWORK_ISSUER,
        clients: Mapping[str, str] | None = None,
    ) -> None:
        self._endorsements = tuple(endorsements)
        self._token_issuer = token_issuer
        self._clients = dict(clients) if clients is not None else None
        self.signing_key = generate_signing_key()
        self._published: tuple[SigningKey, ...] = (self.signing_key,)
        self._foreign_key: SigningKey | None = None
        self._metadata_failure: int | None = None
        self._metadata_hold: float | None = None
        self._metadata_released = threading.Event()
        self._holding = 0  # metadata requests being held right now (changed on the server thread)
        self._held: Observations[str] = Observations("held metadata request")
        self._issued: set[str] = set()
        self._issued_lock = threading.Lock()
        self._token_requests: Observations[TokenRequest] = Observations("token request")
        self._served: Observations[tuple[str, str]] = Observations("identity request")
        self._ca_pem = b""
        self._ca_dir: Path | None = None
        self._server = BackgroundServer(
            self._build_app, name="fake-identity-provider", ssl_context=self._tls_context()
        )

    # -- lifecycle hooks ------------------------------------------------------------------------

    def _after_start(self) -> None:
        self._ca_dir = Path(tempfile.mkdtemp(prefix="fake-idp-ca-"))
        (self._ca_dir / "ca.pem").write_bytes(self._ca_pem)
        self._forget_cached_metadata()

    def _before_stop(self) -> None:
        self.release_metadata()  # a held request must not keep the server from stopping
        self._forget_cached_metadata()

    def _after_stop(self) -> None:
        if self._ca_dir is not None:
            shutil.rmtree(self._ca_dir, ignore_errors=True)
            self._ca_dir = None

    # -- where the bot should point --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self._server.port}"

    @property
    def openid_metadata_url(self) -> str:
        """Value for ``MICROSOFT_OPENID_METADATA_URL``."""
        return self.base_url + _CHANNEL_METADATA_PATH

    @property
    def token_issuer(self) -> str:
        """Value for ``MICROSOFT_TOKEN_ISSUER`` (the ``iss`` of minted channel tokens)."""
        return self._token_issuer

    @property
    def login_url(self) -> str:
        """Value for ``MICROSOFT_LOGIN_URL``: the authority is ``{login_url}/{tenant}``."""
        return self.base_url

    @property
    def ca_bundle_path(self) -> str:
        """PEM of the CA behind this server's certificate, for ``REQUESTS_CA_BUNDLE``."""
        if self._ca_dir is None:
            raise RuntimeError("the identity provider is not running")
        return str(self._ca_dir / "ca.pem")

    # -- tokens ----------------------------------------------------------------------------------

    @property
    def foreign_key(self) -> SigningKey:
        """A key this provider never publishes, under the published ``kid`` (a forgery)."""
        if self._foreign_key is None:
            self._foreign_key = generate_signing_key(kid=self.signing_key.kid)
        return self._foreign_key

    def mint_channel_token(
        self,
        app_id: str,
        service_url: str,
        *,
        expired: bool = False,
        issuer: str | None = None,
        audience: str | None = None,
        signing_key: SigningKey | None = None,
        claims: Mapping[str, Any] | None = None,
        algorithm: str = "RS256",
    ) -> str:
        """A JWT as the Bot Connector sends it to the bot in ``Authorization: Bearer``;
        ``claims`` adds or replaces claims (``None`` removes one)."""
        now = int(time.time())
        # Expired tokens end well outside botbuilder's 5 minute clock-skew allowance.
        if expired:
            nbf, exp = now - 2 * _TOKEN_LIFETIME_S, now - _TOKEN_LIFETIME_S
        else:
            nbf, exp = now - 300, now + _TOKEN_LIFETIME_S
        token_claims = {
            "serviceurl": service_url,
            "nbf": nbf,
            "exp": exp,
            "iss": issuer or self._token_issuer,
            "aud": audience or app_id,
        }
        merged = {k: v for k, v in {**token_claims, **(claims or {})}.items() if v is not None}
        return _sign(merged, signing_key or self.signing_key, algorithm)

    def mint_forged_token(self, app_id: str, service_url: str) -> str:
        """Same claims as a good token, signed by ``foreign_key``."""
        return self.mint_channel_token(app_id, service_url, signing_key=self.foreign_key)

    def unpublished_key(self) -> SigningKey:
        """A key under a fresh, never published ``kid``; cheap, so a test can make hundreds."""
        return SigningKey(kid=secrets.token_urlsafe(16), private_key=self.foreign_key.private_key)

    # -- what Microsoft does to its keys -----------------------------------------------------------

    def rotate_signing_key(self, *, keep_previous: bool = True) -> SigningKey:
        """Publish a new key and sign with it from now on; the old one stays published unless
        ``keep_previous`` is false (then it is withdrawn)."""
        new = generate_signing_key()
        self._published = (new, *self._published) if keep_previous else (new,)
        self.signing_key, self._foreign_key = new, None
        return new

    @property
    def published_kids(self) -> list[str]:
        return [key.kid for key in self._published]

    @property
    def metadata_fetches(self) -> int:
        """How many times the channel OpenID metadata was asked for."""
        return self.served.count(("GET", _CHANNEL_METADATA_PATH))

    @property
    def jwks_fetches(self) -> int:
        return self.served.count(("GET", _JWKS_PATH))

    def fail_metadata(self, status: int | None = 503) -> None:
        """Answer the metadata with ``status`` from now on; ``None`` serves it again."""
        self._metadata_failure = status

    def hold_metadata(self, seconds: float = 5.0) -> None:
        """A slow endpoint: each metadata request is answered after ``seconds``, or as soon as
        ``release_metadata`` is called; ``next_held_metadata`` tells when one is being held."""
        self._metadata_released.clear()
        self._metadata_hold = seconds

    def release_metadata(self) -> None:
        """Answer held metadata requests now, and later ones at once."""
        self._metadata_hold = None
        self._metadata_released.set()

    async def next_held_metadata(self, timeout: float = 10.0) -> str:  # noqa: ASYNC109
        return await self._held.next(lambda _: True, timeout=timeout)

    @property
    def holding_metadata(self) -> int:
        """How many metadata requests are being held open right now."""
        return self._holding

    def is_issued_access_token(self, token: str) -> bool:
        with self._issued_lock:
            return token in self._issued

    @property
    def token_requests(self) -> list[TokenRequest]:
        return self._token_requests.all()

    async def next_token_request(self, timeout: float = 10.0) -> TokenRequest:  # noqa: ASYNC109
        return await self._token_requests.next(lambda _: True, timeout=timeout)

    @property
    def served(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request served, in order."""
        return self._served.all()

    # -- internals -------------------------------------------------------------------------------

    def _forget_cached_metadata(self) -> None:
        # botbuilder caches OpenID metadata + keys per URL in a class-level dict for a day. Ports
        # are reused, so a later provider on the same port would otherwise be judged by this
        # provider's keys.
        JwtTokenExtractor.metadataCache.pop(self.openid_metadata_url, None)

    def _build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        app.router.add_get(_CHANNEL_METADATA_PATH, self._channel_metadata)
        app.router.add_get(_JWKS_PATH, self._jwks)
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._tenant_metadata)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self._served.publish((request.method, request.path))
        response: web.StreamResponse = await handler(request)
        # No idle TLS keep-alives: the bot's HTTP clients never close theirs, and a TLS
        # connection still open at shutdown leaks its socket (ResourceWarning).
        response.force_close()
        return response

    async def _channel_metadata(self, request: web.Request) -> web.Response:
        if self._metadata_failure is not None:
            return web.json_response({"error": "unavailable"}, status=self._metadata_failure)
        hold = self._metadata_hold
        if hold is not None:
            self._holding += 1
            self._held.publish(request.path)
            try:
                # Waited for in a worker thread: the test releases it from its own thread.
                await asyncio.to_thread(self._metadata_released.wait, hold)
            finally:
                self._holding -= 1
        return web.json_response(
            {
                "issuer": self._token_issuer,
                # As published by Bot Framework: a deliberately unusable endpoint, never fetched.
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": self.base_url + _JWKS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            }
        )

    async def _jwks(self, request: web.Request) -> web.Response:
        keys = [key.public_jwk(self._endorsements) for key in self._published]
        return web.json_response({"keys": keys})

    async def _tenant_metadata(self, request: web.Request) -> web.Response:
        tenant_url = f"{self.base_url}/{request.match_info['tenant']}"
        return web.json_response(
            {
                "issuer": f"{tenant_url}/v2.0",
                "authorization_endpoint": f"{tenant_url}/oauth2/v2.0/authorize",
                "token_endpoint": f"{tenant_url}/oauth2/v2.0/token",
                "jwks_uri": self.base_url + _JWKS_PATH,
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        form = await request.post()
        grant_type, client_id = _field(form, "grant_type"), _field(form, "client_id")
        scope, secret = _field(form, "scope"), _field(form, "client_secret")
        refusal: tuple[int, str] | None = None
        if grant_type != "client_credentials":
            refusal = (400, "unsupported_grant_type")
        elif self._clients is not None and (
            client_id not in self._clients or self._clients[client_id] != secret
        ):
            refusal = (401, "invalid_client")
        access_token = None
        if refusal is None:
            access_token = self._issue_access_token(tenant, client_id or "", scope or "")
        self._token_requests.publish(
            TokenRequest(tenant, grant_type, client_id, scope, bool(secret), access_token)
        )
        if refusal is not None:
            status, error = refusal
            return web.json_response({"error": error, "error_description": error}, status=status)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": _TOKEN_LIFETIME_S,
                "ext_expires_in": _TOKEN_LIFETIME_S,
                "access_token": access_token,
            }
        )

    def _issue_access_token(self, tenant: str, client_id: str, scope: str) -> str:
        now = int(time.time())
        claims = {
            "aud": scope.removesuffix("/.default"),
            "iss": f"{self.base_url}/{tenant}/v2.0",
            "azp": client_id,
            "tid": tenant,
            "ver": "2.0",
            "iat": now,
            "nbf": now,
            "exp": now + _TOKEN_LIFETIME_S,
            "jti": secrets.token_hex(8),
        }
        token = _sign(claims, self.signing_key)
        with self._issued_lock:
            self._issued.add(token)
        return token

    def _tls_context(self) -> ssl.SSLContext:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-idp test CA")])
        now = dt.datetime.now(dt.UTC)
        ca_cert = (
            _cert_builder(ca_name, ca_name, ca_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        leaf_key = ec.generate_private_key(ec.SECP256R1())
        leaf_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        leaf_cert = (
            _cert_builder(leaf_name, ca_name, leaf_key.public_key(), now)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self._ca_pem = ca_cert.public_bytes(pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        with tempfile.TemporaryDirectory(prefix="fake-idp-tls-") as tmp:
            cert_file, key_file = Path(tmp, "server.pem"), Path(tmp, "server.key")
            cert_file.write_bytes(leaf_cert.public_bytes(pem))
            key_file.write_bytes(
                leaf_key.private_bytes(
                    pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            context.load_cert_chain(cert_file, key_file)
        return context


def _sign(claims: Mapping[str, Any], key: SigningKey, algorithm: str = "RS256") -> str:
    secret: Any = None if algorithm == "none" else key.private_key
    return jwt.encode(
        dict(claims), secret, algorithm=algorithm, headers={"kid": key.kid, "x5t": key.kid}
    )


def _field(form: Mapping[str, Any], name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def _cert_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, now: dt.datetime
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
