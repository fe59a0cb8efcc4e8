"""The real service's error wording, in one place.

Each text is chosen so that the unmodified SDK classifies it as the real one does
(`AvatarSession._classify_error_code`): e.g. no "unauthorized" in a 401 body, since the
SDK reads that word as an egress-credentials problem before it looks at the status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HttpRefusal:
    """An HTTP error answer: status and JSON body."""

    status: int
    body: dict[str, Any]

    def body_bytes(self) -> bytes:
        """The body as the real service writes it: compact JSON and a newline, e.g.
        `{"message":"Invalid session token"}` + "\n" (the SDK's end-to-end test compares
        those bytes)."""
        return (json.dumps(self.body, separators=(",", ":")) + "\n").encode()


def _jsonapi_error(status: int, code: str, title: str, detail: str) -> HttpRefusal:
    return HttpRefusal(
        status,
        {"errors": [{"status": str(status), "code": code, "title": title, "detail": detail}]},
    )


# Console (`POST /session-tokens`) refusals.
TOKEN_INVALID_API_KEY = _jsonapi_error(
    401, "invalid_api_key", "Invalid API key", "the API key is missing, revoked or unknown"
)
TOKEN_BILLING_REQUIRED = _jsonapi_error(
    402, "billing_required", "Payment required", "session denied: billing required"
)
TOKEN_APP_NOT_FOUND = _jsonapi_error(404, "app_not_found", "Not found", "app id unrecognized")


def token_bad_request(reason: str) -> HttpRefusal:
    return HttpRefusal(400, {"message": reason})


def token_refusal(status: int) -> HttpRefusal:
    """The console's answer for a scripted token refusal with this status."""
    known = {401: TOKEN_INVALID_API_KEY, 402: TOKEN_BILLING_REQUIRED, 404: TOKEN_APP_NOT_FOUND}
    if status in known:
        return known[status]
    if status >= 500:
        return HttpRefusal(status, {"message": "internal server error"})
    return token_bad_request("invalid request")


# Ingress WebSocket upgrade refusals.
UPGRADE_INVALID_SESSION_TOKEN = HttpRefusal(400, {"message": "Invalid session token"})
UPGRADE_SESSION_TOKEN_EXPIRED = HttpRefusal(401, {"message": "session token expired"})
UPGRADE_AVATAR_NOT_FOUND = HttpRefusal(404, {"message": "Avatar not found"})
UPGRADE_APP_ID_UNRECOGNIZED = HttpRefusal(404, {"message": "app id unrecognized"})
UPGRADE_APP_ID_MISMATCH = HttpRefusal(400, {"message": "app id mismatch"})


def upgrade_refusal(status: int) -> HttpRefusal:
    """The ingress' answer for a scripted upgrade refusal with this status."""
    known = {
        400: UPGRADE_INVALID_SESSION_TOKEN,
        401: UPGRADE_SESSION_TOKEN_EXPIRED,
        404: UPGRADE_AVATAR_NOT_FOUND,
    }
    if status in known:
        return known[status]
    if status == 503:
        return HttpRefusal(503, {"message": "service unavailable"})
    if status >= 500:
        return HttpRefusal(status, {"message": "internal server error"})
    return HttpRefusal(status, {"message": "bad request"})


# `ServerError` codes (gRPC status numbers plus the service's billing codes).
CODE_INVALID_ARGUMENT = 3
CODE_DEADLINE_EXCEEDED = 4
CODE_OUT_OF_RANGE = 11
CODE_UNAVAILABLE = 14
CODE_UNAUTHENTICATED = 16
CODE_CREDITS_EXHAUSTED = 4001
CODE_SESSION_DURATION_EXCEEDED = 4002

DEFAULT_SERVER_ERROR_MESSAGES: dict[int, str] = {
    CODE_INVALID_ARGUMENT: "invalid argument",
    CODE_UNAVAILABLE: "failed to create egress connection",
    CODE_UNAUTHENTICATED: "unauthorized",
    CODE_CREDITS_EXHAUSTED: "credits exhausted",
    CODE_SESSION_DURATION_EXCEEDED: "maximum session duration reached",
}


def server_error_message(code: int) -> str:
    return DEFAULT_SERVER_ERROR_MESSAGES.get(code, "internal error")


def unsupported_sample_rate_message(sample_rate: int, audio_format: str) -> str:
    return f"unsupported sample rate {sample_rate} for {audio_format}"


def idle_timeout_message(idle_s: float) -> str:
    return f"no audio input for {idle_s:g}s, closing session"


def egress_unauthorized_message(reason: str) -> str:
    return f"unauthorized: agora_egress {reason}"
