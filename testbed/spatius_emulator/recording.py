"""What the emulator saw and did, readable from any thread while it runs.

The emulator's loop is the only writer. Readers in other threads take the copies the
properties return (made under the recording's lock) and may wait on `Recording.wait_for`.
Times are `time.monotonic()` seconds (CLOCK_MONOTONIC on Linux: one clock for every
process on the machine).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from .ogg_opus import decode_ogg_opus
from .playback import Playback, simulate_session

T = TypeVar("T")


@dataclass(frozen=True)
class AudioChunk:
    arrived_at: float
    nbytes: int
    duration_s: float  # playable audio this message completed (Opus: whole pages only)
    data: bytes | None  # None when the emulator keeps counters only


@dataclass(frozen=True)
class SentError:
    at: float
    code: int
    message: str
    req_id: str


@dataclass(frozen=True)
class Interrupt:
    at: float
    req_id: str
    played_s: float  # of that request, when the interrupt arrived
    queued_s: float  # received but not yet played then


@dataclass(frozen=True)
class AgoraEgress:
    channel_name: str
    uid: int
    token: str
    publisher_id: str


@dataclass
class TokenRequestRecord:
    at: float
    api_key: str | None
    expire_at: Any  # the body's expireAt as sent
    status: int
    session_token: str | None
    body: dict[str, Any]


class RequestRecord:
    """One `req_id`: its audio in arrival order, its end and its interrupt."""

    def __init__(self, req_id: str, sample_rate: int, audio_format: str) -> None:
        self.req_id = req_id
        self.sample_rate = sample_rate
        self.audio_format = audio_format
        self._chunks: list[AudioChunk] = []
        self.byte_count = 0
        self.message_count = 0
        self.duration_s = 0.0
        self.ended = False
        self.end_at: float | None = None
        self.messages_after_end = 0  # audio for a req_id already ended: a client bug
        self.interrupt: Interrupt | None = None

    @property
    def chunks(self) -> list[AudioChunk]:
        return list(self._chunks)

    @property
    def first_arrival_at(self) -> float | None:
        return self._chunks[0].arrived_at if self._chunks else None

    @property
    def last_arrival_at(self) -> float | None:
        return self._chunks[-1].arrived_at if self._chunks else None

    @property
    def interrupted_at(self) -> float | None:
        return self.interrupt.at if self.interrupt else None

    @property
    def data(self) -> bytes:
        """Every byte received for this request, in order (PCM or the Ogg stream)."""
        chunks = self.chunks
        if any(c.data is None for c in chunks):
            raise RuntimeError("audio bytes were not kept (EmulatorConfig.keep_audio=False)")
        return b"".join(c.data for c in chunks if c.data)

    def pcm(self) -> np.ndarray:
        """The audio as int16 samples (Ogg Opus decoded; decoded anew on each call)."""
        if self.audio_format == "ogg_opus":
            return decode_ogg_opus(self.data, self.sample_rate)
        data = self.data
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.int16)

    def _add(self, chunk: AudioChunk, end: bool) -> None:
        if self.ended:
            self.messages_after_end += 1
        self._chunks.append(chunk)
        self.byte_count += chunk.nbytes
        self.message_count += 1
        self.duration_s += chunk.duration_s
        if end and not self.ended:
            self.ended = True
            self.end_at = chunk.arrived_at

    def __repr__(self) -> str:
        return (
            f"RequestRecord(req_id={self.req_id!r}, bytes={self.byte_count}, "
            f"duration_s={self.duration_s:.3f}, ended={self.ended}, "
            f"interrupted={self.interrupt is not None})"
        )


class ConnectionRecord:
    """One WebSocket attempt at the ingress, from upgrade request to close."""

    def __init__(self, recording: Recording, index: int, opened_at: float) -> None:
        self._recording = recording
        self.index = index  # 1 for the first connection attempt the emulator got
        self.opened_at = opened_at
        self.avatar_id = ""
        self.app_id = ""
        self.auth_mode = ""  # "header" or "query"
        self.session_token = ""
        self.refused_status: int | None = None  # upgrade refused with this HTTP status
        self.refused_body: dict[str, Any] | None = None
        self.configure: dict[str, Any] | None = None  # the ClientConfigureSession
        self.sample_rate: int | None = None
        self.audio_format: str | None = None
        self.egress_type: str | None = None  # "agora", "livekit" or None (plain)
        self.agora: AgoraEgress | None = None
        self.connection_id: str | None = None
        self.confirmed_at: float | None = None
        self.handshake_error: SentError | None = None
        self._errors_sent: list[SentError] = []
        self._requests: dict[str, RequestRecord] = {}
        self._interrupts: list[Interrupt] = []
        self.audio_messages = 0
        self.audio_bytes = 0
        self.animation_frames_sent = 0
        self.closed_at: float | None = None
        self.close_code: int | None = None
        self.closed_by: str | None = None  # "client", "server" or "abort"

    # --- reading -----------------------------------------------------------------
    @property
    def requests(self) -> list[RequestRecord]:
        with self._recording.lock:
            return list(self._requests.values())

    def request(self, req_id: str) -> RequestRecord:
        with self._recording.lock:
            return self._requests[req_id]

    @property
    def errors_sent(self) -> list[SentError]:
        with self._recording.lock:
            return list(self._errors_sent)

    @property
    def interrupts(self) -> list[Interrupt]:
        with self._recording.lock:
            return list(self._interrupts)

    @property
    def closed(self) -> bool:
        return self.closed_at is not None

    def playbacks(self) -> dict[str, Playback]:
        """The playback model of every request so far, by req_id."""
        with self._recording.lock:
            requests = list(self._requests.values())
            inputs = [
                ([(c.arrived_at, c.duration_s) for c in r._chunks], r.interrupted_at)
                for r in requests
            ]
        return dict(zip((r.req_id for r in requests), simulate_session(inputs), strict=True))

    def playback(self, req_id: str) -> Playback:
        return self.playbacks()[req_id]

    def queued_s(self, at: float | None = None) -> float:
        """Audio received but not yet played at `at` (default: now), all requests."""
        at = time.monotonic() if at is None else at
        return sum(p.queued_s(at) for p in self.playbacks().values())

    # --- writing (emulator loop only) ------------------------------------------------
    def add_audio(self, req_id: str, chunk: AudioChunk, end: bool) -> RequestRecord:
        with self._recording.lock:
            request = self._requests.get(req_id)
            if request is None:
                request = RequestRecord(req_id, self.sample_rate or 0, self.audio_format or "")
                self._requests[req_id] = request
            request._add(chunk, end)
            self.audio_messages += 1
            self.audio_bytes += chunk.nbytes
            self._recording._changed()
        return request

    def add_interrupt(self, req_id: str, at: float) -> Interrupt:
        playback = self.playbacks().get(req_id)
        played = playback.played_s(at) if playback else 0.0
        queued = playback.queued_s(at) if playback else 0.0
        interrupt = Interrupt(at, req_id, played, queued)
        with self._recording.lock:
            self._interrupts.append(interrupt)
            request = self._requests.get(req_id)
            if request is not None and request.interrupt is None:
                request.interrupt = interrupt
            self._recording._changed()
        return interrupt

    def add_error(self, error: SentError, *, handshake: bool = False) -> None:
        with self._recording.lock:
            self._errors_sent.append(error)
            if handshake:
                self.handshake_error = error
            self._recording._changed()

    def update(self, **fields: Any) -> None:
        with self._recording.lock:
            for name, value in fields.items():
                if not hasattr(self, name):
                    raise AttributeError(name)
                setattr(self, name, value)
            self._recording._changed()

    def __repr__(self) -> str:
        return (
            f"ConnectionRecord(#{self.index}, connection_id={self.connection_id!r}, "
            f"refused={self.refused_status}, requests={len(self._requests)}, "
            f"closed_by={self.closed_by!r}, close_code={self.close_code})"
        )


class Recording:
    """Everything one emulator saw: token requests and ingress connections."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._condition = threading.Condition(self.lock)
        self._token_requests: list[TokenRequestRecord] = []
        self._connections: list[ConnectionRecord] = []

    @property
    def token_requests(self) -> list[TokenRequestRecord]:
        with self.lock:
            return list(self._token_requests)

    @property
    def connections(self) -> list[ConnectionRecord]:
        """Every WebSocket attempt, refused ones included, in arrival order."""
        with self.lock:
            return list(self._connections)

    @property
    def sessions(self) -> list[ConnectionRecord]:
        """Connections whose handshake the emulator confirmed."""
        with self.lock:
            return [c for c in self._connections if c.connection_id is not None]

    def connection(self, connection_id: str) -> ConnectionRecord:
        for conn in self.connections:
            if conn.connection_id == connection_id:
                return conn
        raise KeyError(connection_id)

    def wait_for(self, predicate: Callable[[], T | Literal[False] | None], timeout: float) -> T:
        """Block until `predicate()` is truthy (re-checked on every change); return it.

        Raises TimeoutError after `timeout` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"emulator condition not met within {timeout}s")
                # Bounded wait: predicates may also depend on time passing.
                self._condition.wait(min(remaining, 0.05))

    # --- writing (emulator loop only) ------------------------------------------------
    def add_token_request(self, record: TokenRequestRecord) -> None:
        with self.lock:
            self._token_requests.append(record)
            self._changed()

    def open_connection(self) -> ConnectionRecord:
        with self.lock:
            record = ConnectionRecord(self, len(self._connections) + 1, time.monotonic())
            self._connections.append(record)
            self._changed()
        return record

    def _changed(self) -> None:
        with self._condition:
            self._condition.notify_all()
