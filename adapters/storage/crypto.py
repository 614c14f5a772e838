"""Credentials encrypted at rest with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`).

The key comes from ONCALL_ACCESS_SECRET_KEY: either a Fernet key (`oncall-access secret-key` prints
a new one) or any passphrase of 32+ characters, stretched with HKDF-SHA256.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import DomainError

HOW_TO_MAKE_A_KEY = (
    "set ONCALL_ACCESS_SECRET_KEY to a key made with `oncall-access secret-key` "
    "(or any passphrase of 32 or more characters) and keep it safe"
)


class SecretKeyMissing(DomainError):
    """Credentials cannot be stored or read without ONCALL_ACCESS_SECRET_KEY."""


def new_key() -> str:
    return Fernet.generate_key().decode()


def _fernet(secret_key: str | None) -> Fernet:
    if not secret_key:
        raise SecretKeyMissing(f"Credentials are stored encrypted: {HOW_TO_MAKE_A_KEY}.")
    try:
        return Fernet(secret_key.encode())
    except ValueError:
        if len(secret_key) < 32:
            raise SecretKeyMissing(
                f"ONCALL_ACCESS_SECRET_KEY is too short to protect credentials: {HOW_TO_MAKE_A_KEY}."
            ) from None
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=b"oncall-access", info=b"credentials"
        ).derive(secret_key.encode())
        return Fernet(base64.urlsafe_b64encode(derived))


class SecretBox:
    def __init__(self, secret_key: str | None) -> None:
        self._secret_key = secret_key

    def seal(self, secrets: dict[str, Any]) -> str:
        return _fernet(self._secret_key).encrypt(json.dumps(secrets).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        try:
            return json.loads(_fernet(self._secret_key).decrypt(token.encode()))
        except InvalidToken:
            raise SecretKeyMissing(
                "Stored credentials cannot be decrypted with this ONCALL_ACCESS_SECRET_KEY; "
                "use the key they were stored with, or connect the provider again."
            ) from None
