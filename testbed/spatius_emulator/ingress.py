"""The ingress: `<ingress>/websocket?id=<avatar_id>`, its handshake and its audio stream."""

from __future__ import annotations

import asyncio
import logging
import math
import socket
import time
import uuid

from aiohttp import WSMsgType, web
from google.protobuf.message import DecodeError
from spatius.proto.generated import message_pb2 as pb

from . import service_errors as se
from . import wire
from .agora_tokens import AgoraTokenRejected, verify_publisher_token
from .config import EmulatorConfig
from .console import SessionTokens
from .faults import Close, ConnectionPlan, Drop, FaultScript, HandshakeError, RuntimeFault
from .ogg_opus import OggOpusDurationMeter
from .recording import AgoraEgress, AudioChunk, ConnectionRecord, Recording, SentError

log = logging.getLogger(__name__)

SHUTDOWN_CLOSE_CODE = 1001  # "going away"


class IngressHandler:
    """Accepts or refuses WebSocket upgrades and runs one `IngressSession` per socket."""

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
        self._open: set[IngressSession] = set()

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        conn = self._recording.open_connection()
        plan = self._faults.claim_connection(conn.index)
        app_id, session_token, auth_mode = _credentials(request)
        avatar_id = request.query.get("id", "")
        conn.update(
            avatar_id=avatar_id, app_id=app_id, session_token=session_token, auth_mode=auth_mode
        )
        refusal = plan.upgrade_refusal or self._upgrade_refusal(app_id, session_token, avatar_id)
        if refusal is not None:
            conn.update(
                refused_status=refusal.status,
                refused_body=refusal.body,
                closed_at=time.monotonic(),
                closed_by="server",
            )
            log.debug("connection #%d refused with %d", conn.index, refusal.status)
            return web.Response(
                body=refusal.body_bytes(), status=refusal.status, content_type="application/json"
            )

        transport = request.transport
        if plan.read_delay_s and transport is not None:
            _shrink_receive_buffer(transport)
        ws = web.WebSocketResponse(compress=self._config.websocket_compression)
        try:
            await ws.prepare(request)
        except ConnectionError:
            conn.update(closed_at=time.monotonic(), closed_by="client")
            raise
        session = IngressSession(self._config, conn, plan, ws, transport)
        self._open.add(session)
        try:
            await session.run()
        finally:
            self._open.discard(session)
        return ws

    async def close_all(self) -> None:
        await asyncio.gather(*(s.shutdown() for s in list(self._open)), return_exceptions=True)

    def _upgrade_refusal(self, app_id: str, token: str, avatar_id: str) -> se.HttpRefusal | None:
        issued = self._tokens.get(token) if token else None
        if issued is None:
            return se.UPGRADE_INVALID_SESSION_TOKEN
        if issued.expire_at <= time.time():
            return se.UPGRADE_SESSION_TOKEN_EXPIRED
        if not app_id or (self._config.app_ids and app_id not in self._config.app_ids):
            return se.UPGRADE_APP_ID_UNRECOGNIZED
        if not avatar_id or (self._config.avatar_ids and avatar_id not in self._config.avatar_ids):
            return se.UPGRADE_AVATAR_NOT_FOUND
        return None


SLOW_READER_RCVBUF_BYTES = 64 * 1024


def _shrink_receive_buffer(transport: asyncio.BaseTransport) -> None:
    """Make a slow reader's backpressure reach the client soon.

    Loopback TCP may buffer tens of MB (net.ipv4.tcp_rmem), which would hide a slow
    reader for a long time; a fixed small buffer also turns off receive autotuning.
    """
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SLOW_READER_RCVBUF_BYTES)


def _credentials(request: web.Request) -> tuple[str, str, str]:
    """(app id, session token, auth mode) from headers (mobile style) or query (web style)."""
    headers, query = request.headers, request.query
    if "X-Session-Key" in headers or "X-App-ID" in headers:
        return headers.get("X-App-ID", ""), headers.get("X-Session-Key", ""), "header"
    if "sessionKey" in query or "appId" in query:
        return query.get("appId", ""), query.get("sessionKey", ""), "query"
    return "", "", "none"


class IngressSession:
    """One accepted WebSocket: handshake, then audio and interrupts until it closes."""

    def __init__(
        self,
        config: EmulatorConfig,
        conn: ConnectionRecord,
        plan: ConnectionPlan,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport | None,
    ) -> None:
        self._config = config
        self._conn = conn
        self._plan = plan
        self._ws = ws
        self._transport = transport
        self._connection_id = ""
        self._sample_rate = 0
        self._opus = False
        self._plain = False
        self._latest_req_id = ""
        self._last_audio_at = time.monotonic()
        self._meters: dict[str, OggOpusDurationMeter] = {}
        self._frames_sent: dict[str, int] = {}
        self._count_triggers: list[RuntimeFault] = []
        self._fired: set[int] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed_by: str | None = None
        self._close_code: int | None = None

    async def run(self) -> None:
        try:
            if await self._handshake():
                await self._serve()
        except ConnectionError:
            pass  # the peer went away; recorded below
        finally:
            for task in self._tasks:
                task.cancel()
            closed_by = self._closed_by or "client"
            code = self._close_code if self._closed_by else self._ws.close_code
            self._conn.update(closed_at=time.monotonic(), closed_by=closed_by, close_code=code)
            log.debug("connection #%d closed by %s (%s)", self._conn.index, closed_by, code)

    async def shutdown(self) -> None:
        await self._close(SHUTDOWN_CLOSE_CODE, "server shutting down")

    # ---- handshake ----------------------------------------------------------------
    async def _handshake(self) -> bool:
        msg = await self._ws.receive()
        if msg.type != WSMsgType.BINARY:
            if msg.type == WSMsgType.TEXT:
                await self._refuse_handshake(
                    HandshakeError(
                        se.CODE_INVALID_ARGUMENT,
                        "failed during websocket handshake: expected binary protobuf message",
                    )
                )
            return False
        try:
            first = wire.parse(msg.data)
        except DecodeError:
            await self._refuse_handshake(
                HandshakeError(se.CODE_INVALID_ARGUMENT, "failed to unmarshal initial message")
            )
            return False
        if first.type != pb.MESSAGE_CLIENT_CONFIGURE_SESSION:
            await self._refuse_handshake(
                HandshakeError(se.CODE_INVALID_ARGUMENT, "expected ClientConfigureSession message")
            )
            return False
        configure = first.client_configure_session
        self._record_configure(configure)

        if self._plan.handshake_silence:
            async for _ in self._ws:  # keep reading until the client gives up
                pass
            return False
        if self._plan.handshake_delay_s:
            await asyncio.sleep(self._plan.handshake_delay_s)
        refusal = self._plan.handshake_error or self._handshake_refusal(configure)
        if refusal is not None:
            await self._refuse_handshake(refusal)
            return False

        self._connection_id = uuid.uuid4().hex
        await self._ws.send_bytes(wire.confirm_session(self._connection_id))
        now = time.monotonic()
        self._last_audio_at = now
        self._conn.update(connection_id=self._connection_id, confirmed_at=now)
        return True

    def _record_configure(self, configure: pb.ClientConfigureSession) -> None:
        audio_format = wire.AUDIO_FORMAT_NAMES.get(
            configure.audio_format, str(configure.audio_format)
        )
        egress_type = wire.EGRESS_TYPE_NAMES.get(configure.egress_type, str(configure.egress_type))
        agora = None
        if configure.HasField("agora_egress"):
            a = configure.agora_egress
            agora = AgoraEgress(a.channel_name, a.uid, a.token, a.publisher_id)
        self._sample_rate = configure.sample_rate
        self._opus = audio_format == "ogg_opus"
        self._plain = egress_type is None
        self._conn.update(
            configure=wire.configure_to_dict(configure),
            sample_rate=configure.sample_rate,
            audio_format=audio_format,
            egress_type=egress_type,
            agora=agora,
        )

    def _handshake_refusal(self, configure: pb.ClientConfigureSession) -> HandshakeError | None:
        audio_format = wire.AUDIO_FORMAT_NAMES.get(configure.audio_format)
        if audio_format is None:
            return HandshakeError(se.CODE_INVALID_ARGUMENT, "unsupported audio format")
        if configure.sample_rate not in wire.allowed_sample_rates(audio_format):
            return HandshakeError(
                self._config.unsupported_sample_rate_code,
                se.unsupported_sample_rate_message(configure.sample_rate, audio_format),
            )
        if configure.egress_type == pb.EGRESS_TYPE_AGORA:
            reason = self._agora_egress_problem(configure)
            if reason:
                return HandshakeError(
                    se.CODE_UNAUTHENTICATED, se.egress_unauthorized_message(reason)
                )
            return None
        if configure.egress_type == pb.EGRESS_TYPE_LIVEKIT:
            return HandshakeError(se.CODE_UNAVAILABLE, "egress client is not configured on server")
        if not self._config.allow_plain_websocket:
            return HandshakeError(
                se.CODE_INVALID_ARGUMENT, "egress is required: configure agora_egress"
            )
        return None

    def _agora_egress_problem(self, configure: pb.ClientConfigureSession) -> str | None:
        if not configure.HasField("agora_egress"):
            return "config is missing"
        agora = configure.agora_egress
        if not agora.channel_name:
            return "channel_name is empty"
        if agora.uid == 0:
            return "uid is 0"
        if self._config.checks_agora_tokens:
            try:
                verify_publisher_token(
                    agora.token,
                    app_id=self._config.agora_app_id or "",
                    app_cert=self._config.agora_app_cert or "",
                    channel_name=agora.channel_name,
                    uid=agora.uid,
                )
            except AgoraTokenRejected as exc:
                return str(exc)
        return None

    async def _refuse_handshake(self, refusal: HandshakeError) -> None:
        await self._send_error(refusal.code, refusal.message, handshake=True)
        await self._close(1000, "")

    # ---- running session ----------------------------------------------------------
    async def _serve(self) -> None:
        idle_s = self._plan.idle_timeout_s or self._config.idle_timeout_s
        if idle_s:
            self._tasks.append(asyncio.create_task(self._idle_watchdog(idle_s)))
        for fault in self._plan.runtime:
            trigger = fault.trigger
            if trigger.after_audio_messages is None and trigger.after_seconds is None:
                await self._fire(fault)
                continue
            if trigger.after_audio_messages is not None:
                self._count_triggers.append(fault)
            if trigger.after_seconds is not None:
                self._tasks.append(
                    asyncio.create_task(self._fire_later(fault, trigger.after_seconds))
                )

        read_delay = self._plan.read_delay_s
        async for msg in self._ws:
            if msg.type == WSMsgType.BINARY:
                await self._on_message(msg.data)
            if self._closed_by:
                break
            if read_delay:
                await asyncio.sleep(read_delay)

    async def _on_message(self, data: bytes) -> None:
        try:
            msg = wire.parse(data)
        except DecodeError:
            await self._send_error(se.CODE_INVALID_ARGUMENT, "invalid protobuf payload")
            return
        if msg.type == pb.MESSAGE_CLIENT_AUDIO_INPUT:
            await self._on_audio(msg.client_audio_input)
        elif msg.type == pb.MESSAGE_CLIENT_INTERRUPT:
            self._on_interrupt(msg.client_interrupt.req_id)
        else:
            await self._send_error(se.CODE_INVALID_ARGUMENT, f"unexpected message type {msg.type}")

    async def _on_audio(self, audio_input: pb.ClientAudioInput) -> None:
        now = time.monotonic()
        req_id = audio_input.req_id
        audio = audio_input.audio
        if self._opus:
            meter = self._meters.get(req_id)
            if meter is None:
                meter = self._meters[req_id] = OggOpusDurationMeter()
            duration = meter.feed(audio)
            if audio_input.end:
                del self._meters[req_id]
        else:
            duration = len(audio) / (2 * self._sample_rate)
        chunk = AudioChunk(now, len(audio), duration, audio if self._config.keep_audio else None)
        request = self._conn.add_audio(req_id, chunk, audio_input.end)
        self._last_audio_at = now
        self._latest_req_id = req_id

        if self._plain and request.interrupt is None:
            await self._send_animation(req_id, request.duration_s, request.ended)
        for fault in list(self._count_triggers):
            if self._conn.audio_messages >= (fault.trigger.after_audio_messages or 0):
                self._count_triggers.remove(fault)
                await self._fire(fault)

    def _on_interrupt(self, req_id: str) -> None:
        self._conn.add_interrupt(req_id, time.monotonic())

    async def _send_animation(self, req_id: str, duration_s: float, ended: bool) -> None:
        """Plain WebSocket mode: `animation_fps` frames per second of audio received."""
        fps = self._config.animation_fps
        sent = self._frames_sent.get(req_id, 0)
        if sent < 0:
            return  # this request's last frame has gone already
        due = max(1, math.ceil(duration_s * fps - 1e-9)) if ended else int(duration_s * fps)
        for n in range(sent, due):
            last = ended and n == due - 1
            if not await self._send(wire.animation_frame(self._connection_id, req_id, last)):
                return
        self._frames_sent[req_id] = -1 if ended else max(sent, due)
        if due > sent:
            self._conn.update(animation_frames_sent=self._conn.animation_frames_sent + due - sent)

    # ---- faults -------------------------------------------------------------------
    async def _idle_watchdog(self, idle_s: float) -> None:
        # Sleeps to the deadline, which each audio message moves on: not a poll.
        while (remaining := self._last_audio_at + idle_s - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(remaining)
        await self._send_error(self._config.idle_timeout_code, se.idle_timeout_message(idle_s))
        await self._close(1000, "idle timeout")

    async def _fire_later(self, fault: RuntimeFault, seconds: float) -> None:
        await asyncio.sleep(seconds)
        await self._fire(fault)

    async def _fire(self, fault: RuntimeFault) -> None:
        if id(fault) in self._fired or self._closed_by:
            return
        self._fired.add(id(fault))
        if isinstance(fault, Drop):
            self._abort()
        elif isinstance(fault, Close):
            await self._close(fault.code, fault.reason)
        else:
            await self._send_error(fault.code, fault.message, req_id=self._latest_req_id)
            if fault.close_code is not None:
                await self._close(fault.close_code, "")

    def _abort(self) -> None:
        """Drop the TCP connection without a close frame."""
        self._closed_by = "abort"
        if self._transport is not None:
            self._transport.abort()

    async def _close(self, code: int, reason: str) -> None:
        if self._closed_by:
            return
        self._closed_by = "server"
        self._close_code = code
        await self._ws.close(code=code, message=reason.encode())

    # ---- sending ------------------------------------------------------------------
    async def _send_error(
        self, code: int, message: str, *, req_id: str = "", handshake: bool = False
    ) -> None:
        frame = wire.server_error(code, message, connection_id=self._connection_id, req_id=req_id)
        if await self._send(frame):
            self._conn.add_error(
                SentError(time.monotonic(), code, message, req_id), handshake=handshake
            )

    async def _send(self, frame: bytes) -> bool:
        if self._closed_by or self._ws.closed:
            return False
        try:
            await self._ws.send_bytes(frame)
        except ConnectionError:
            return False
        return True
