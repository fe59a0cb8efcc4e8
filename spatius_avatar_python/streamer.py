"""One Spatius server session with Agora egress, kept alive for the life of the extension.

Two tasks share the work:
- the supervisor opens the session (token, WebSocket, handshake), watches it, reconnects
  after transient failures with capped exponential backoff and jitter, gives up on fatal
  ones, and rolls over to a fresh session (fresh token) at a pause before it expires;
- the pump sends queued audio, ends of utterances and interrupts, in order.

Callers (the TEN callbacks) only append to a queue and return: nothing here blocks the
event loop, and audio that arrives while the session is not ready waits (bounded).

Rule for the utterance in flight when the connection drops: its remaining audio continues
as a new Spatius request on the new session (what the old session received is already
lost with it; a request cannot span two sessions).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import spatius
from spatius import AgoraEgressConfig, AudioFormat

from .config import AvatarConfig
from .failures import Failure, Severity, classify, scrub
from .opus import OggOpusRequestEncoder
from .tokens import egress_token
from .turns import Utterance

CONNECT_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 3.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 15.0
STABLE_SESSION_S = 10.0  # a session that lived this long resets the backoff
MAX_SEND_BATCH_BYTES = 64 * 1024
PLAYBACK_SLACK_S = 0.5  # after the last audio has played, the avatar is quiet


class StreamerState(enum.Enum):
    IDLE = "idle"  # not started
    CONNECTING = "connecting"
    READY = "ready"
    RECONNECTING = "reconnecting"
    FAILED = "failed"  # a fatal failure: never connects again
    CLOSED = "closed"


@dataclass
class StreamerEvents:
    """How the streamer talks back (the TEN glue turns these into data and logs)."""

    on_failure: Callable[[Failure, Utterance | None], None] = lambda failure, utterance: None
    on_metrics: Callable[[dict[str, float], Utterance | None], None] = lambda metrics, utterance: None
    on_audio_sent: Callable[[Utterance, bytes], None] | None = None  # for dumps
    on_request_end: Callable[[Utterance], None] | None = None
    log: Callable[[str, str], None] = lambda level, message: None  # level: debug/info/warn/error


@dataclass
class _Chunk:
    utterance: Utterance
    pcm: bytes
    epoch: int


@dataclass
class _End:
    utterance: Utterance
    epoch: int


@dataclass
class _Interrupt:
    session_generation: int
    requested_at: float


_Item = _Chunk | _End | _Interrupt


@dataclass
class _OpenRequest:
    utterance: Utterance
    encoder: OggOpusRequestEncoder | None
    session_generation: int
    samples: int = 0


@dataclass
class StreamerStats:
    connects: int = 0
    reconnects: int = 0
    interrupts: int = 0
    requests_ended: int = 0
    audio_seconds_sent: float = 0.0
    dropped_audio_seconds: float = 0.0
    failures: list[str] = field(default_factory=list)


def backoff_delay(attempt: int, *, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S, rng: Callable[[], float] = random.random) -> float:
    """Exponential backoff with equal jitter: uniform in [c/2, c], c = min(cap, base * 2**(attempt-1)).

    Half fixed, half random: sessions that failed together spread out, and none retries at once."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling * (0.5 + 0.5 * rng())


_telemetry_applied: str | None = None


def apply_telemetry(setting: str, log: Callable[[str, str], None]) -> None:
    """The SDK's telemetry is process-wide: set it once, before the first session."""
    global _telemetry_applied
    if _telemetry_applied == setting:
        return
    endpoint = {"on": None, "off": ""}.get(setting, setting)
    try:
        spatius.configure_telemetry(endpoint)
        _telemetry_applied = setting
    except Exception as error:  # already initialised by another session with another endpoint
        log("warn", f"Spatius telemetry left as it was ({setting!r} not applied: {error})")


class AvatarStreamer:
    def __init__(
        self,
        config: AvatarConfig,
        events: StreamerEvents,
        *,
        session_factory: Callable[..., Any] = spatius.new_avatar_session,
        clock: Callable[[], float] = time.monotonic,
        backoff_base_s: float = BACKOFF_BASE_S,
        backoff_cap_s: float = BACKOFF_CAP_S,
        session_lifetime_s: float | None = None,
    ) -> None:
        self._config = config
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._lifetime_s = session_lifetime_s or config.session_expire_minutes * 60
        self._events = events
        self._session_factory = session_factory
        self._clock = clock
        self._secrets = config.secrets()
        self._state = StreamerState.IDLE
        self._pending: collections.deque[_Item] = collections.deque()
        self._pending_bytes = 0
        self._max_pending_bytes = config.max_buffered_audio_ms * config.sample_rate * 2 // 1000
        self._wakeup = asyncio.Event()
        self._epoch = 0
        self._session: Any = None
        self._session_generation = 0
        self._session_down = asyncio.Event()
        self._session_failure: Failure | None = None
        self._session_has_requests = False
        self._open: _OpenRequest | None = None
        self._playing_until = 0.0
        self._supervisor: asyncio.Task | None = None
        self._pump: asyncio.Task | None = None
        self._stop_requested = asyncio.Event()
        self._dropping_reported = False
        self._last_reported: tuple[str, str] | None = None
        self.stats = StreamerStats()
        self.connect_started_at: float | None = None
        self.connected_at: float | None = None

    # ----- what the TEN callbacks call (synchronous, never blocking) -----

    @property
    def state(self) -> StreamerState:
        return self._state

    def start(self) -> None:
        if self._state is not StreamerState.IDLE:
            return
        apply_telemetry(self._config.telemetry, self._events.log)
        self._state = StreamerState.CONNECTING
        self._supervisor = asyncio.create_task(self._supervise(), name="spatius-supervisor")
        self._pump = asyncio.create_task(self._run_pump(), name="spatius-pump")
        for task in (self._supervisor, self._pump):
            task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task) -> None:
        # Neither task should ever fail; if one does, the avatar would go silent without a word.
        if task.cancelled() or task.exception() is None:
            return
        failure = Failure(Severity.FATAL, "internalError", scrub(f"{task.get_name()} stopped: {task.exception()!r}", self._secrets), "internal")
        self._fail(failure)
        self._events.on_failure(failure, None)

    def push_audio(self, utterance: Utterance, pcm: bytes) -> None:
        """Queue mono s16le PCM at the session rate for `utterance`."""
        if not pcm or self._state in (StreamerState.FAILED, StreamerState.CLOSED):
            return
        self._pending.append(_Chunk(utterance, pcm, self._epoch))
        self._pending_bytes += len(pcm)
        # The bound is for audio waiting on a session that is not there; a ready session
        # takes it all (a long frame is not a reason to drop speech).
        if self._pending_bytes > self._max_pending_bytes and self._state is not StreamerState.READY:
            self._drop_oldest_audio()
        self._wakeup.set()

    def end_utterance(self, utterance: Utterance) -> None:
        """End the Spatius request of `utterance` after all its queued audio."""
        if self._state in (StreamerState.FAILED, StreamerState.CLOSED):
            return
        self._pending.append(_End(utterance, self._epoch))
        self._wakeup.set()

    def interrupt(self) -> int:
        """Barge-in: drop everything not yet sent and interrupt the current request.

        Returns the number of PCM bytes dropped."""
        dropped = self._pending_bytes
        self._pending.clear()
        self._pending_bytes = 0
        self._epoch += 1
        self._open_abandoned()
        self.stats.interrupts += 1
        if self._state not in (StreamerState.FAILED, StreamerState.CLOSED):
            self._pending.append(_Interrupt(self._session_generation, self._clock()))
            self._wakeup.set()
        return dropped

    async def stop(self) -> None:
        """Stop taking audio, close the session within a bounded time, leave no task behind."""
        if self._state is StreamerState.CLOSED:
            return
        self._state = StreamerState.CLOSED
        self._stop_requested.set()
        self._pending.clear()
        self._pending_bytes = 0
        tasks = [t for t in (self._supervisor, self._pump) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
        await self._close_session(self._session)
        self._session = None

    # ----- internals -----

    def _drop_oldest_audio(self) -> None:
        dropped = 0
        kept: collections.deque[_Item] = collections.deque()
        # Oldest audio goes first; ends and interrupts stay so the request structure holds.
        while self._pending and self._pending_bytes > self._max_pending_bytes:
            item = self._pending.popleft()
            if isinstance(item, _Chunk):
                self._pending_bytes -= len(item.pcm)
                dropped += len(item.pcm)
            else:
                kept.append(item)
        self._pending.extendleft(reversed(kept))
        seconds = dropped / 2 / self._config.sample_rate
        self.stats.dropped_audio_seconds += seconds
        if not self._dropping_reported:
            self._dropping_reported = True
            self._report(
                Failure(
                    Severity.TRANSIENT,
                    "audioDropped",
                    f"the Spatius session was not ready and more than {self._config.max_buffered_audio_ms} ms "
                    "of audio was waiting: the oldest audio was dropped",
                    "buffer",
                ),
                None,
            )

    def _report(self, failure: Failure, utterance: Utterance | None) -> None:
        # The same problem again and again (e.g. while reconnecting) is said once.
        if failure.signature == self._last_reported:
            self._events.log("debug", f"again: {failure.vendor_code}: {failure.message}")
            return
        self._last_reported = failure.signature
        self.stats.failures.append(failure.vendor_code)
        self._events.on_failure(failure, utterance)

    def _open_abandoned(self) -> None:
        if self._open is not None:
            self._request_finished(self._open, interrupted=True)
            self._open = None

    def _request_finished(self, request: _OpenRequest, *, interrupted: bool) -> None:
        seconds = request.samples / self._config.sample_rate
        self.stats.requests_ended += 1
        self._events.on_metrics(
            {"request_audio_seconds": round(seconds, 3), "request_interrupted": int(interrupted)},
            request.utterance,
        )
        if self._events.on_request_end is not None:
            self._events.on_request_end(request.utterance)

    def _new_session(self) -> Any:
        config = self._config
        generation = self._session_generation + 1

        def on_error(error: Exception) -> None:
            if generation == self._session_generation:
                self._session_broke(classify(error, self._secrets))

        def on_close() -> None:
            if generation == self._session_generation:
                self._session_down.set()

        expire_at = datetime.now(timezone.utc) + timedelta(minutes=config.session_expire_minutes)
        opus = config.audio_format == "ogg_opus"
        return self._session_factory(
            avatar_id=config.avatar_id,
            api_key=config.api_key.get_secret_value(),
            app_id=config.app_id,
            expire_at=expire_at,
            sample_rate=config.sample_rate,
            # Opus is encoded off the loop by us; the SDK passes the Ogg bytes through.
            audio_format=AudioFormat.OGG_OPUS if opus else AudioFormat.PCM_S16LE,
            on_error=on_error,
            on_close=on_close,
            region=config.region,
            console_endpoint_url=config.console_endpoint_url,
            ingress_endpoint_url=config.ingress_endpoint_url,
            agora_egress=AgoraEgressConfig(
                channel_name=config.channel,
                token=egress_token(config),
                uid=config.uid,
                publisher_id=config.publisher_id,
            ),
        )

    def _session_broke(self, failure: Failure) -> None:
        if self._session_failure is None:
            self._session_failure = failure
        self._session_down.set()

    async def _close_session(self, session: Any) -> None:
        if session is None:
            return
        try:
            await asyncio.wait_for(session.close(), CLOSE_TIMEOUT_S)
        except (Exception, asyncio.CancelledError) as error:  # a dead peer must not hold stop
            self._events.log("debug", f"closing the Spatius session: {type(error).__name__}")

    async def _connect_once(self) -> Any:
        session = self._new_session()
        self._session_generation += 1
        try:
            await asyncio.wait_for(self._init_and_start(session), CONNECT_TIMEOUT_S)
        except BaseException:
            await self._close_session(session)
            raise
        return session

    @staticmethod
    async def _init_and_start(session: Any) -> str:
        await session.init()
        return await session.start()

    async def _supervise(self) -> None:
        attempt = 0
        first = True
        while not self._stop_requested.is_set():
            if first and attempt == 0:
                self._state = StreamerState.CONNECTING
            self._session_down.clear()
            self._session_failure = None
            self.connect_started_at = started = self._clock()
            self._events.log("info", "connecting to Spatius" if first else f"reconnecting to Spatius (attempt {attempt})")
            try:
                session = await self._connect_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = classify(error, self._secrets)
                self._report(failure, None)
                if failure.fatal:
                    self._fail(failure)
                    return
                attempt += 1
                self._state = StreamerState.RECONNECTING
                await self._pause(backoff_delay(attempt, base=self._backoff[0], cap=self._backoff[1]))
                continue

            connected_at = self.connected_at = self._clock()
            self._session = session
            self._session_has_requests = False
            self._playing_until = connected_at
            self._dropping_reported = False
            self._last_reported = None
            self.stats.connects += 1
            if not first:
                self.stats.reconnects += 1
            first = False
            self._state = StreamerState.READY
            self._events.log("info", f"Spatius session ready in {(connected_at - started) * 1000:.0f} ms")
            self._events.on_metrics(
                {"connect_ms": round((connected_at - started) * 1000, 1), "reconnects": self.stats.reconnects},
                None,
            )
            self._wakeup.set()

            rolled_over = await self._watch(connected_at)
            self._session = None
            cut_short = self._open.utterance if self._open is not None else None
            if self._open is not None:
                self._request_finished(self._open, interrupted=False)
                self._open = None
            await self._close_session(session)
            if self._stop_requested.is_set():
                return
            if rolled_over:
                self._events.log("info", "rolling over to a fresh Spatius session before this one expires")
                attempt = 0
                continue
            failure = self._session_failure or Failure(
                Severity.TRANSIENT, "connectionClosed", "the Spatius session closed", "websocket_runtime"
            )
            self._report(failure, cut_short)  # with the turn it cut short, if any
            if failure.fatal:
                self._fail(failure)
                return
            attempt = 1 if self._clock() - connected_at >= STABLE_SESSION_S else attempt + 1
            self._state = StreamerState.RECONNECTING
            if self._pending_bytes > self._max_pending_bytes:  # queued while it was ready
                self._drop_oldest_audio()
            await self._pause(backoff_delay(attempt, base=self._backoff[0], cap=self._backoff[1]))

    def _fail(self, failure: Failure) -> None:
        self._state = StreamerState.FAILED
        self._events.log("error", f"giving up on Spatius: {failure.vendor_code}: {failure.message}")
        self._pending.clear()
        self._pending_bytes = 0
        self._wakeup.set()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stop_requested.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    def _rollover_due(self, connected_at: float) -> tuple[float, float]:
        """(soft, hard): roll over at a pause after `soft`, at the latest at `hard`."""
        lifetime = self._lifetime_s
        margin = min(300.0, lifetime * 0.1)
        return connected_at + lifetime - margin, connected_at + lifetime - min(15.0, margin / 2)

    def _quiet(self) -> bool:
        return not self._pending and self._open is None and self._clock() >= self._playing_until + PLAYBACK_SLACK_S

    async def _watch(self, connected_at: float) -> bool:
        """Wait until the session breaks (False) or is due to roll over at a pause (True)."""
        soft, hard = self._rollover_due(connected_at)
        down = asyncio.ensure_future(self._session_down.wait())
        try:
            while True:
                now = self._clock()
                if now >= hard or (now >= soft and self._quiet()):
                    return True
                wait_s = (soft - now) if now < soft else 1.0
                done, _ = await asyncio.wait({down}, timeout=max(0.05, min(wait_s, hard - now)))
                if done:
                    return False
        finally:
            down.cancel()

    async def _run_pump(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._pending and self._state is StreamerState.READY:
                session, generation = self._session, self._session_generation
                item = self._pending.popleft()
                try:
                    if isinstance(item, _Chunk):
                        item = _Chunk(item.utterance, self._take_batch(item), item.epoch)
                        await self._send_chunks(session, generation, item)
                    elif isinstance(item, _End):
                        await self._send_end(session, item)
                    else:
                        await self._send_interrupt(session, generation, item)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    # The connection broke under us: keep the item for the next session.
                    if isinstance(item, _Chunk) and item.epoch == self._epoch:
                        self._pending.appendleft(item)
                        self._pending_bytes += len(item.pcm)
                    if self._open is not None and self._open.session_generation == generation:
                        self._open = None  # continues as a new request on the next session
                    if generation == self._session_generation:
                        self._session_broke(classify(error, self._secrets))
                    break

    def _take_batch(self, first: _Chunk) -> bytes:
        """The first chunk plus the queued chunks of the same utterance right behind it."""
        self._pending_bytes -= len(first.pcm)
        if not self._pending or not isinstance(self._pending[0], _Chunk):
            return first.pcm
        parts = [first.pcm]
        size = len(first.pcm)
        while self._pending and size < MAX_SEND_BATCH_BYTES:
            nxt = self._pending[0]
            if not isinstance(nxt, _Chunk) or nxt.utterance is not first.utterance or nxt.epoch != first.epoch:
                break
            self._pending.popleft()
            self._pending_bytes -= len(nxt.pcm)
            parts.append(nxt.pcm)
            size += len(nxt.pcm)
        return b"".join(parts)

    async def _send_chunks(self, session: Any, generation: int, first: _Chunk) -> None:
        pcm = first.pcm
        if first.epoch != self._epoch:
            return
        request = self._open
        if request is None or request.utterance is not first.utterance or request.session_generation != generation:
            if request is not None and request.session_generation == generation:
                await self._finish(session, request)
            opus = self._config.audio_format == "ogg_opus"
            request = self._open = _OpenRequest(
                first.utterance, OggOpusRequestEncoder(self._config.sample_rate) if opus else None, generation
            )
        try:
            payload = pcm if request.encoder is None else await request.encoder.encode(pcm, end=False)
        except Exception:
            self._open = None
            raise
        if first.epoch != self._epoch or self._open is not request:
            return  # interrupted while encoding: this audio is stale
        if payload:
            await session.send_audio(payload, end=False)
            self._session_has_requests = True
        request.samples += len(pcm) // 2
        seconds = len(pcm) / 2 / self._config.sample_rate
        self.stats.audio_seconds_sent += seconds
        now = self._clock()
        self._playing_until = max(self._playing_until, now) + seconds
        if self._events.on_audio_sent is not None:
            self._events.on_audio_sent(first.utterance, pcm)

    async def _finish(self, session: Any, request: _OpenRequest) -> None:
        self._open = None
        tail = b"" if request.encoder is None else await request.encoder.encode(b"", end=True)
        await session.send_audio(tail, end=True)
        self._session_has_requests = True
        self._request_finished(request, interrupted=False)

    async def _send_end(self, session: Any, item: _End) -> None:
        request = self._open
        if item.epoch != self._epoch or request is None or request.utterance is not item.utterance:
            return  # an end with no audio sent, a duplicate, or one for an interrupted turn
        await self._finish(session, request)

    async def _send_interrupt(self, session: Any, generation: int, item: _Interrupt) -> None:
        if item.session_generation != generation or not self._session_has_requests:
            return  # nothing was said on this session: nothing to interrupt
        try:
            await session.interrupt()
        except ValueError:  # the SDK knows no request on this connection: nothing is playing
            return
        self._playing_until = self._clock()
        latency_ms = (self._clock() - item.requested_at) * 1000
        self._events.log("info", f"interrupted the avatar ({latency_ms:.1f} ms after the flush)")
        self._events.on_metrics({"interrupts": self.stats.interrupts, "interrupt_latency_ms": round(latency_ms, 2)}, None)
