"""One line per thing the emulator does for its clients, for the `emulator` command: each
session accepted or refused (token request, upgrade, handshake), each request begun and
ended, each interrupt, each error sent, each session closed. Made by comparing the
emulator's recording with what was already told; secrets never appear (API keys and
tokens are not printed, and the masker catches them in service messages)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .findings import Masker

# What a refused token request most likely means, by HTTP status.
_TOKEN_HINTS = {
    401: "the API key is not one the emulator accepts (its --api-key)",
    400: "the request body is wrong (expireAt)",
}


class EmulatorLog:
    def __init__(self, recording: Any, say: Callable[[str], None], masker: Masker) -> None:
        self._recording = recording
        self._say = say
        self._masker = masker
        self._started = time.monotonic()
        self._tokens = 0
        self._sessions: dict[int, dict[str, Any]] = {}  # connection index -> what was told

    def _line(self, at: float, text: str) -> None:
        self._say(self._masker(f"[emulator {at - self._started:8.2f} s] {text}"))

    def poll(self) -> None:
        """Tell everything new since the last call."""
        for record in self._recording.token_requests[self._tokens :]:
            self._tokens += 1
            if record.status != 200:
                message = _message(record.body)
                hint = _TOKEN_HINTS.get(record.status, "")
                self._line(
                    record.at,
                    f"refused a session token request: HTTP {record.status}"
                    f"{f' {message!r}' if message else ''}{f' ({hint})' if hint else ''}",
                )
        for conn in self._recording.connections:
            told = self._sessions.setdefault(
                conn.index, {"requests": {}, "interrupts": 0, "errors": 0}
            )
            self._connection(conn, told)

    def _connection(self, conn: Any, told: dict[str, Any]) -> None:
        name = f"session #{conn.index}"
        if conn.refused_status is not None and not told.get("refused"):
            told["refused"] = True
            message = _message(conn.refused_body)
            self._line(
                conn.opened_at,
                f"refused {name} at the WebSocket upgrade: HTTP {conn.refused_status}"
                f"{f' {message!r}' if message else ''} (app {conn.app_id!r}, avatar {conn.avatar_id!r})",
            )
        if conn.handshake_error is not None and not told.get("refused"):
            told["refused"] = True
            error = conn.handshake_error
            self._line(
                error.at, f"refused {name} at the handshake: code {error.code} {error.message!r}"
            )
        if conn.connection_id is not None and not told.get("accepted"):
            told["accepted"] = True
            egress = conn.agora
            where = (
                f"Agora channel {egress.channel_name!r} as uid {egress.uid}"
                if egress is not None
                else f"egress {conn.egress_type or 'none'}"
            )
            self._line(
                conn.confirmed_at or conn.opened_at,
                f"{name} accepted: avatar {conn.avatar_id!r}, {conn.audio_format} at {conn.sample_rate} Hz, {where}",
            )
        requests: dict[str, str] = told["requests"]
        for request in conn.requests:
            state = requests.get(request.req_id)
            if state is None:
                requests[request.req_id] = state = "begun"
                self._line(
                    request.first_arrival_at or time.monotonic(),
                    f"{name}: request {request.req_id} begins",
                )
            if request.ended and state != "ended":
                requests[request.req_id] = "ended"
                self._line(
                    request.end_at or time.monotonic(),
                    f"{name}: request {request.req_id} ended, {request.duration_s:.2f} s of audio",
                )
        for interrupt in conn.interrupts[told["interrupts"] :]:
            told["interrupts"] += 1
            self._line(
                interrupt.at,
                f"{name}: interrupt of request {interrupt.req_id} after {interrupt.played_s:.2f} s "
                f"played ({interrupt.queued_s:.2f} s queued dropped)",
            )
        errors = [e for e in conn.errors_sent if e is not conn.handshake_error]
        for error in errors[told["errors"] :]:
            told["errors"] += 1
            self._line(error.at, f"{name}: sent error code {error.code} {error.message!r}")
        if (
            conn.closed
            and not told.get("closed")
            and (conn.connection_id is not None or told.get("refused"))
        ):
            told["closed"] = True
            if conn.connection_id is not None:
                self._line(
                    conn.closed_at,
                    f"{name} closed by the {conn.closed_by or 'peer'} (code {conn.close_code})",
                )


def _message(body: Any) -> str:
    """The service's message in an error answer: {"message"} or JSON:API {"errors": [...]}."""
    if not isinstance(body, dict):
        return ""
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("detail") or errors[0].get("title") or "")
    return str(body.get("message") or "")
