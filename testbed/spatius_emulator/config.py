"""What an emulator instance accepts: credentials, avatars, Agora checks, behaviour knobs."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass


@dataclass
class EmulatorConfig:
    """Settings of one emulator. Empty collections mean "accept any non-empty value".

    api_keys: console API keys accepted by `POST /session-tokens`.
    app_ids: app ids accepted on the ingress WebSocket (`X-App-ID` / `appId`).
    avatar_ids: avatar ids that exist; any other id is refused with 404 "Avatar not found".
    agora_app_id / agora_app_cert: when both are set, the Agora egress token of every
        session must be a valid AccessToken2 for them; otherwise any token is accepted.
    allow_plain_websocket: accept sessions without egress (animation comes back on the
        socket); when False such sessions are refused at the handshake.
    animation_fps: animation frames per second of audio, plain WebSocket mode only.
    idle_timeout_s: close sessions that get no audio for this long (None: never).
    keep_audio: keep every audio byte received (tests); False keeps only counters, for
        long load runs.
    unsupported_sample_rate_code: `ServerError.code` sent with "unsupported sample rate".
        Not 3: the SDK maps code 3 to invalidRequest before it looks at the message, so a
        code outside its special set (3, 14, 16, 4001, 4002) is needed for the SDK to
        report unsupportedSampleRate. 11 is gRPC's OUT_OF_RANGE.
    websocket_compression: accept permessage-deflate when the client offers it (the
        SDK's websockets client does); off saves CPU under load, as PCM hardly compresses.
    idle_timeout_code: `ServerError.code` of the idle-timeout error (gRPC
        DEADLINE_EXCEEDED); the SDK classifies it by its message.
    """

    api_keys: Collection[str] = ()
    app_ids: Collection[str] = ()
    avatar_ids: Collection[str] = ()
    agora_app_id: str | None = None
    agora_app_cert: str | None = None
    allow_plain_websocket: bool = False
    animation_fps: float = 25.0
    idle_timeout_s: float | None = None
    keep_audio: bool = True
    websocket_compression: bool = True
    unsupported_sample_rate_code: int = 11
    idle_timeout_code: int = 4

    @property
    def checks_agora_tokens(self) -> bool:
        return bool(self.agora_app_id and self.agora_app_cert)
