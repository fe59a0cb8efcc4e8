"""The console API: `POST <console>/session-tokens`."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from dataclasses import dataclass

from aiohttp import web

from . import service_errors as se
from .config import EmulatorConfig
from .faults import FaultScript
from .recording import Recording, TokenRequestRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IssuedToken:
    api_key: str
    expire_at: float  # unix seconds


class SessionTokens:
    """Session tokens the console issued, so the ingress can check them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, IssuedToken] = {}

    def issue(self, api_key: str, expire_at: float) -> str:
        token = "st_" + secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = IssuedToken(api_key, expire_at)
        return token

    def get(self, token: str) -> IssuedToken | None:
        with self._lock:
            return self._tokens.get(token)


class ConsoleHandler:
    def __init__(
        self,
        config: EmulatorConfig,
        faults: FaultScript,
        recording: Recording,
        tokens: SessionTokens,
    ) -> None:
        self._config = config
        self._faults = faults
        self._recording = recording
        self._tokens = tokens
        self._count = 0

    async def create_session_token(self, request: web.Request) -> web.Response:
        self._count += 1
        plan = self._faults.claim_token(self._count)
        if plan.delay_s:
            await asyncio.sleep(plan.delay_s)
        api_key = request.headers.get("X-Api-Key")
        expire_at = None
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            expire_at = body.get("expireAt")

        refusal = plan.refusal or self._refusal(api_key, body, expire_at)
        token = None
        if refusal is None:
            assert isinstance(expire_at, int | float)  # _refusal refuses anything else
            token = self._tokens.issue(api_key or "", float(expire_at))
            status, answer = 200, {"sessionToken": token}
        else:
            status, answer = refusal.status, refusal.body
        self._recording.add_token_request(
            TokenRequestRecord(time.monotonic(), api_key, expire_at, status, token, answer)
        )
        log.debug("session token request #%d -> %d", self._count, status)
        if refusal is not None:
            return web.Response(
                body=refusal.body_bytes(), status=status, content_type="application/json"
            )
        return web.json_response(answer, status=status)

    def _refusal(
        self, api_key: str | None, body: object, expire_at: object
    ) -> se.HttpRefusal | None:
        if not api_key or (self._config.api_keys and api_key not in self._config.api_keys):
            return se.TOKEN_INVALID_API_KEY
        if not isinstance(body, dict):
            return se.token_bad_request("request body must be a JSON object")
        if isinstance(expire_at, bool) or not isinstance(expire_at, int | float):
            return se.token_bad_request("expireAt is required (unix seconds)")
        if expire_at <= time.time():
            return se.token_bad_request("expireAt must be in the future")
        return None
