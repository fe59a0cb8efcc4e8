"""Helpers to drive the real `spatius` SDK against an emulator (tests, benchmarks)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

import spatius
from agoraiotools import RtcTokenBuilder2

PUBLISHER_ROLE = 1
SUBSCRIBER_ROLE = 2


class _Credentials(Protocol):
    console_url: str
    ingress_url: str
    api_key: str
    app_id: str
    avatar_id: str
    agora_app_id: str
    agora_app_cert: str
    agora_channel: str
    agora_uid: str


def publisher_token(
    app_id: str,
    app_cert: str,
    channel: str,
    uid: int,
    *,
    role: int = PUBLISHER_ROLE,
    expire_s: int = 3600,
) -> str:
    """An Agora RTC token (AccessToken2) built the way the extension builds one."""
    return RtcTokenBuilder2.build_token_with_uid(
        app_id, app_cert, channel, uid, role, expire_s, expire_s
    )


@dataclass
class SessionEvents:
    """Collects what the SDK reports through its callbacks."""

    errors: list[Exception] = field(default_factory=list)
    frames: list[tuple[bytes, bool]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    def on_error(self, error: Exception) -> None:
        self.errors.append(error)

    def on_close(self) -> None:
        self.closed.set()

    def transport_frames(self, data: bytes, last: bool) -> None:
        self.frames.append((data, last))

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_error": self.on_error,
            "on_close": self.on_close,
            "transport_frames": self.transport_frames,
        }


def new_sdk_session(
    emulator: _Credentials,
    events: SessionEvents | None = None,
    *,
    egress: bool = True,
    agora_token: str | None = None,
    **overrides: Any,
) -> spatius.AvatarSession:
    """`spatius.new_avatar_session` aimed at `emulator`, with its test credentials.

    `egress=True` adds an Agora egress with a valid publisher token (unless `agora_token`
    is given); keyword overrides go straight to `new_avatar_session`.
    """
    uid = int(emulator.agora_uid)
    kwargs: dict[str, Any] = {
        "avatar_id": emulator.avatar_id,
        "api_key": emulator.api_key,
        "app_id": emulator.app_id,
        "sample_rate": 24000,
        "console_endpoint_url": emulator.console_url,
        "ingress_endpoint_url": emulator.ingress_url,
    }
    if egress:
        token = agora_token
        if token is None:
            token = publisher_token(
                emulator.agora_app_id, emulator.agora_app_cert, emulator.agora_channel, uid
            )
        kwargs["agora_egress"] = spatius.AgoraEgressConfig(
            channel_name=emulator.agora_channel,
            token=token,
            uid=uid,
            publisher_id=f"spatius-avatar-{uid}",
        )
    if events is not None:
        kwargs.update(events.callbacks())
    kwargs.update(overrides)
    return spatius.new_avatar_session(**kwargs)
