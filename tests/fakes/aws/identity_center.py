"""moto's server (sso-admin and identitystore over real HTTP) behind a proxy the test steers.

The bot's boto3 clients reach the proxy through `AWS_ENDPOINT_URL`, as they would reach AWS. The
proxy forwards each request to moto unchanged and can instead answer as AWS does when it throttles
(HTTP 400 `ThrottlingException`) or when the caller lacks a permission (`AccessDeniedException`),
and can answer a create or delete as AWS really does, `IN_PROGRESS`, leaving the outcome to the
status call (moto answers SUCCEEDED at once). The test arranges the world (instance, users,
permission sets, assignments) with boto3 straight to moto, not through the proxy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import boto3
from aiohttp import web
from moto.server import ThreadedMotoServer

ACCOUNT = "111122223333"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class IdentityCenterProxy:
    """What the bot's AWS calls meet on the way to moto."""

    moto_url: str
    throttle_next: int = 0  # answer this many requests with ThrottlingException first
    deny: set[str] = field(default_factory=set)  # operations refused with AccessDeniedException
    in_progress: bool = False  # answer Create/DeleteAccountAssignment with IN_PROGRESS
    lose_answers: Counter[str] = field(default_factory=Counter)  # done in moto, answered 500
    latency: float = 0.0  # seconds added to every answer, as a distant region would
    rate: float | None = None  # requests per second allowed (burst of one second's worth)
    throttled: int = 0
    calls: Counter[str] = field(default_factory=Counter)  # every request, by operation
    _session: aiohttp.ClientSession | None = None
    _tokens: float = 0.0
    _refilled: float = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        operation = request.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        self.calls[operation] += 1
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.throttle_next > 0 or not self._within_rate():
            self.throttle_next = max(0, self.throttle_next - 1)
            self.throttled += 1
            return _error(400, "ThrottlingException", "Rate exceeded")
        if operation in self.deny:
            return _error(
                400,
                "AccessDeniedException",
                f"User: arn:aws:sts::{ACCOUNT}:assumed-role/oncall-access/bot is not authorized "
                f"to perform: sso:{operation}",
            )
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_HEADERS}
        async with self._session.post(
            self.moto_url + request.path_qs, data=body, headers=headers
        ) as answer:
            payload = await answer.read()
            status = answer.status
            content_type = answer.headers.get("Content-Type", "application/x-amz-json-1.1")
            error_type = answer.headers.get("x-amzn-ErrorType")
        if self.lose_answers[operation] > 0:
            self.lose_answers[operation] -= 1
            return _error(500, "InternalServerException", "The answer was lost on the way back")
        if (
            self.in_progress
            and status == 200
            and operation
            in (
                "CreateAccountAssignment",
                "DeleteAccountAssignment",
            )
        ):
            payload = _in_progress(payload)
        headers_out = {"x-amzn-ErrorType": error_type} if error_type else {}
        return web.Response(
            status=status, body=payload, headers={"Content-Type": content_type, **headers_out}
        )

    def total(self) -> int:
        return sum(self.calls.values())

    def _within_rate(self) -> bool:
        """A token bucket of `rate` per second, as AWS's throttling behaves from outside."""
        if self.rate is None:
            return True
        now = time.monotonic()
        if not self._refilled:
            self._tokens, self._refilled = self.rate, now
        self._tokens = min(self.rate, self._tokens + (now - self._refilled) * self.rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def _in_progress(payload: bytes) -> bytes:
    data = json.loads(payload)
    for key in ("AccountAssignmentCreationStatus", "AccountAssignmentDeletionStatus"):
        if key in data:
            data[key] = {**data[key], "Status": "IN_PROGRESS"}
    return json.dumps(data).encode()


def _error(status: int, code: str, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=json.dumps({"__type": code, "message": message, "Message": message}),
        headers={"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": code},
    )


@dataclass
class IdentityCenterWorld:
    """The instance as the test arranges it, straight in moto."""

    moto_url: str
    instance_arn: str = ""
    identity_store_id: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(service, endpoint_url=self.moto_url, region_name=REGION, **CREDENTIALS)

    def setup(self) -> None:
        (instance,) = self.client("sso-admin").list_instances()["Instances"]
        self.instance_arn = instance["InstanceArn"]
        self.identity_store_id = instance["IdentityStoreId"]

    def permission_set(self, name: str) -> str:
        created = self.client("sso-admin").create_permission_set(
            Name=name, InstanceArn=self.instance_arn
        )
        return str(created["PermissionSet"]["PermissionSetArn"])

    def user(self, email: str, *, user_name: str | None = None) -> str:
        """A user whose primary email is `email` (and user name its local part, unless given)."""
        given, _, _ = email.partition("@")
        created = self.client("identitystore").create_user(
            IdentityStoreId=self.identity_store_id,
            UserName=user_name or given,
            DisplayName=given,
            Name={"GivenName": given, "FamilyName": "Example"},
            Emails=[{"Value": email, "Primary": True}],
        )
        return str(created["UserId"])

    def assignments(self, permission_set_arn: str, account: str = ACCOUNT) -> list[str]:
        """The user ids holding `permission_set_arn` in `account` now."""
        pages = (
            self.client("sso-admin")
            .get_paginator("list_account_assignments")
            .paginate(
                InstanceArn=self.instance_arn,
                AccountId=account,
                PermissionSetArn=permission_set_arn,
            )
        )
        return sorted(a["PrincipalId"] for page in pages for a in page["AccountAssignments"])

    def assign(self, permission_set_arn: str, user_id: str, account: str = ACCOUNT) -> None:
        self.client("sso-admin").create_account_assignment(
            **_params(self.instance_arn, permission_set_arn, user_id, account)
        )

    def unassign(self, permission_set_arn: str, user_id: str, account: str = ACCOUNT) -> None:
        self.client("sso-admin").delete_account_assignment(
            **_params(self.instance_arn, permission_set_arn, user_id, account)
        )


def _params(instance: str, permission_set: str, user_id: str, account: str) -> dict[str, str]:
    return {
        "InstanceArn": instance,
        "TargetId": account,
        "TargetType": "AWS_ACCOUNT",
        "PermissionSetArn": permission_set,
        "PrincipalType": "USER",
        "PrincipalId": user_id,
    }


@asynccontextmanager
async def moto_server() -> AsyncIterator[str]:
    """moto's server on an ephemeral loopback port, started off the event loop."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    await asyncio.to_thread(server.start)
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def identity_center_proxy(moto_url: str) -> AsyncIterator[tuple[IdentityCenterProxy, str]]:
    proxy = IdentityCenterProxy(moto_url)
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", proxy.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    proxy._session = aiohttp.ClientSession()
    try:
        yield proxy, f"http://127.0.0.1:{port}"
    finally:
        await proxy._session.close()
        await runner.cleanup()
