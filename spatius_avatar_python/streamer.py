"""The Spatius server sessions (Agora egress) behind one avatar, owned by one task.

One owner task holds every piece of session state: the live link (a started Spatius
session), the next link being opened (first connect, reconnect, wake-up or rollover),
links retiring after a rollover while their audio plays out, the audio waiting to be
sent, the open request and its encoder, and the state. Everybody else posts commands:
the TEN callbacks (through the pipeline) post audio, ends, barge-ins and wake-ups; the
SDK's callbacks and the connect sub-tasks post what happened to a link. The owner handles
them one at a time, in order, so no two tasks ever write the same field.

Rules (the README says them for graph authors):
- Ready means a live session exists; audio that arrives before waits, bounded by
  `max_buffered_audio_ms` (the oldest is dropped, and that is reported).
- A lost connection is transient: reconnect with capped, jittered backoff. The utterance
  in flight continues as a new request on the new session; what the lost session had not
  played yet is lost with it and reported (`audio_lost_seconds`), never re-sent.
- Make-before-break rollover: before a session expires a fresh one (fresh token) is opened
  while the old one keeps speaking; the switch happens at an utterance boundary (at the
  latest shortly before expiry), and the old session is closed once its audio has played.
- Barge-in interrupts every request that is still playing or queued, on every session,
  once each; unsent audio is dropped.
- After the service's idle timeout the avatar stays disconnected (no error, no churn)
  with a session token fetched ahead, and connects again when speech comes.
- A bug in our own code (an event callback, the encoder) is reported once as
  `internalError`; the avatar keeps serving and no audio is sent twice.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import itertools
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import spatius
from spatius import AgoraEgressConfig, AudioFormat, AvatarSDKErrorCode

from .config import AvatarConfig
from .failures import Failure, Severity, classify, link_lost, scrub
from .opus import OggOpusRequestEncoder
from .tokens import egress_token
from .turns import Utterance

CONNECT_TIMEOUT_S = 20.0
CLOSE_TIMEOUT_S = 3.0
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 15.0
STABLE_SESSION_S = 10.0  # a session that lived this long resets the backoff
MAX_SEND_BATCH_BYTES = 64 * 1024
PLAYBACK_SLACK_S = 0.5  # this long after its last audio has played, a request is over
PREPARED_TOKEN_MAX_AGE = 0.5  # share of the session lifetime a prefetched token may wait
# Audio written this shortly before a loss was noticed may never have reached the service
# (the socket's buffers, a close on its way): it counts as lost even if "played" by the clock.
IN_FLIGHT_S = 0.25
TIMER_CHECK_S = 0.1
# After a send fails, the SDK's read loop still has to report why (a ServerError such as
# "credits exhausted" comes before the close that made the send fail): wait for its last
# word (on_close) this long at most before concluding from the failed send alone.
SUSPECT_WAIT_S = 1.0  # deadlines are seconds apart: no need to look at them per frame


class StreamerState(enum.Enum):
    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # opening the first session, or waking from dormant
    READY = "ready"  # a live session exists
    RECONNECTING = "reconnecting"  # the session was lost: backing off or opening a new one
    DORMANT = "dormant"  # closed by the service's idle timeout: connects when speech comes
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
class StreamerStats:
    connects: int = 0
    reconnects: int = 0
    rollovers: int = 0
    interrupts: int = 0  # barge-ins handled
    requests_interrupted: int = 0  # Spatius requests an interrupt was sent for
    requests_ended: int = 0
    audio_seconds_sent: float = 0.0
    dropped_audio_seconds: float = 0.0  # never sent: the buffer bound while not ready
    lost_audio_seconds: float = 0.0  # sent, not yet played, when its session was lost
    failures: list[str] = field(default_factory=list)


# ----- commands to the owner (never changed once posted; slots: made per frame) -----


@dataclass(slots=True)
class _Audio:
    utterance: Utterance
    pcm: bytes
    recovered: bool = False  # given back by a lost Opus stream (it never reached anyone)


@dataclass(slots=True)
class _EndOf:
    utterance: Utterance


@dataclass(slots=True)
class _Barge:
    requested_at: float


@dataclass(slots=True)
class _Wake:
    pass


@dataclass(slots=True)
class _Halt:
    pass


@dataclass(slots=True)
class _LinkOpened:
    link: "_Link"


@dataclass(slots=True)
class _LinkFailed:
    link: "_Link"
    error: BaseException


@dataclass(slots=True)
class _LinkDown:
    link: "_Link"
    failure: Failure | None  # None: closed without an error first (e.g. 1000/1001)
    at: float  # when the SDK said so (the owner may handle it later)


# ----- what the owner keeps -----


@dataclass(eq=False)
class _Link:
    """One Spatius session: created, opened (token, WebSocket, handshake), used, closed."""

    number: int
    session: Any
    created_at: float
    expires_at: float  # the session token's expiry, fixed before connecting
    start_now: bool  # False: fetch the token now, start when `go` is set (dormant)
    go: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task | None = None
    opened_at: float | None = None
    gone: bool = False  # lost or being closed: nothing more is sent on it
    suspect: Failure | None = None  # a send on it failed: the SDK's report is awaited
    suspect_at: float = 0.0
    requests: list["_Request"] = field(default_factory=list)
    playing_until: float = 0.0  # when what it was sent will have played, by real time
    # (time, samples, request) of each send in the last 2 * IN_FLIGHT_S
    recent_sends: collections.deque = field(default_factory=collections.deque)


@dataclass(eq=False)
class _Request:
    """One Spatius request: the audio of one utterance on one link."""

    utterance: Utterance
    link: _Link
    encoder: OggOpusRequestEncoder | None
    req_id: str | None = None
    samples: int = 0  # PCM samples handed to Spatius (sent raw, or given to the encoder)
    ended: bool = False
    interrupted: bool = False
    plays_until: float = 0.0
    given_back: int | None = None  # samples put back in the backlog after a failed send

    def withheld_samples(self) -> int:
        if self.encoder is None or self.given_back is not None:
            return 0
        return self.encoder.withheld_samples


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


async def interrupt_request(session: Any, req_id: str) -> None:
    """Interrupt one request of a session, not only its newest.

    The SDK's `interrupt()` targets the request it sent last; a request that has ended but
    still plays while the next one has started would keep playing. The SDK has no
    per-request interrupt, so point its record of the last request at the one to stop.
    """
    if getattr(session, "_last_req_id", req_id) != req_id:
        session._last_req_id = req_id
    await session.interrupt()


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
        self._events = events
        self._session_factory = session_factory
        self._clock = clock
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._lifetime_s = float(session_lifetime_s or config.session_expire_minutes * 60)
        self._secrets = config.secrets()
        self._rate = config.sample_rate
        self._opus = config.audio_format == "ogg_opus"
        self._max_backlog_bytes = config.max_buffered_audio_ms * config.sample_rate * 2 // 1000
        self.stats = StreamerStats()
        self.connect_started_at: float | None = None
        self.connected_at: float | None = None
        # The inbox is the only thing both sides touch: callers append, the owner drains.
        self._inbox: collections.deque[Any] = collections.deque()
        self._inbox_ready = asyncio.Event()
        self._owner: asyncio.Task | None = None
        # Everything below is written by the owner task only.
        self._state = StreamerState.IDLE
        self._live: _Link | None = None
        self._next: _Link | None = None
        self._retiring: list[_Link] = []
        self._closing: set[asyncio.Task] = set()
        self._open: _Request | None = None
        self._backlog: collections.deque[_Audio | _EndOf] = collections.deque()
        self._backlog_bytes = 0
        self._link_numbers = itertools.count(1)
        self._attempt = 0
        self._retry_at: float | None = None  # when to open the next link after a failure
        self._ever_connected = False
        self._dropping_reported = False
        self._last_reported: tuple[str, str] | None = None
        self._internal_reported: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._timer_due = False
        self._timers_checked_at = float("-inf")
        self._hard_rollover_warned = False

    # ----- what the TEN callbacks call (synchronous, never blocking: they only post) -----

    @property
    def state(self) -> StreamerState:
        return self._state

    def start(self) -> None:
        if self._state is not StreamerState.IDLE or self._owner is not None:
            return
        apply_telemetry(self._config.telemetry, self._events.log)
        self._state = StreamerState.CONNECTING
        self._owner = asyncio.get_running_loop().create_task(self._run(), name="spatius-session-owner")
        self._owner.add_done_callback(self._owner_ended)

    def push_audio(self, utterance: Utterance, pcm: bytes) -> None:
        """Queue mono s16le PCM at the session rate for `utterance`."""
        if pcm and self._accepting():
            self._post(_Audio(utterance, pcm))

    def end_utterance(self, utterance: Utterance) -> None:
        """End the Spatius request of `utterance` after all its queued audio."""
        if self._accepting():
            self._post(_EndOf(utterance))

    def interrupt(self) -> None:
        """Barge-in: drop the audio not yet sent, interrupt whatever still plays."""
        if self._accepting():
            self._post(_Barge(self._clock()))

    def wake(self) -> None:
        """Speech is coming (a TTS request started): connect now if the avatar is dormant."""
        if self._state is StreamerState.DORMANT:
            self._post(_Wake())

    async def stop(self) -> None:
        """Stop taking audio, close every session within a bounded time, leave no task behind."""
        owner = self._owner
        if owner is None or owner.done():
            await self._await_closing()
            self._state = StreamerState.CLOSED
            return
        self._post(_Halt())
        try:
            await asyncio.wait_for(asyncio.shield(owner), CLOSE_TIMEOUT_S + 1.0)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            owner.cancel()
            await asyncio.wait({owner}, timeout=1.0)
        await self._await_closing()
        self._state = StreamerState.CLOSED

    def _accepting(self) -> bool:
        # Before start() too: the runtime delivers frames between on_init and on_start, and
        # they wait in the inbox for the owner.
        return self._state not in (StreamerState.FAILED, StreamerState.CLOSED)

    def _post(self, command: Any) -> None:
        self._inbox.append(command)
        if not self._inbox_ready.is_set():
            self._inbox_ready.set()

    def _owner_ended(self, task: asyncio.Task) -> None:
        # The owner never fails by design; if it does, say so instead of going silent.
        if task.cancelled() or task.exception() is None:
            return
        self._state = StreamerState.FAILED
        failure = Failure(
            Severity.FATAL, "internalError",
            scrub(f"the Spatius session task stopped: {task.exception()!r}", self._secrets), "internal",
        )
        self._events.log("error", f"giving up on Spatius: {failure.message}")
        try:
            self._events.on_failure(failure, None)
        except Exception:
            pass

    # ----- the owner -----

    async def _run(self) -> None:
        self._open_next_link()
        while self._state not in (StreamerState.FAILED, StreamerState.CLOSED):
            if not self._inbox and not self._can_send():
                self._arm_timer(self._next_deadline())
                await self._inbox_ready.wait()
            self._inbox_ready.clear()
            while self._inbox and self._state not in (StreamerState.FAILED, StreamerState.CLOSED):
                command = self._inbox.popleft()
                if type(command) is _Barge:
                    await self._guarded(self._on_barge(command))
                else:
                    try:
                        self._handle(command)
                    except Exception as error:  # a bug of ours: say it once, keep serving
                        self._internal_error(error, "handling a command")
            if self._state in (StreamerState.FAILED, StreamerState.CLOSED):
                break
            # Timers: when the timer fired, else at most every TIMER_CHECK_S (not per frame).
            now = self._clock()
            if self._timer_due or now - self._timers_checked_at >= TIMER_CHECK_S:
                self._timer_due = False
                self._timers_checked_at = now
                await self._guarded(self._on_time())
            if self._can_send():
                head = self._backlog[0]
                try:
                    await self._send_next()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # a bug of ours: say it once, keep serving, never re-send
                    if self._backlog and self._backlog[0] is head:
                        self._backlog_take_head()  # the item it failed on would fail again forever
                    self._internal_error(error, "in the session task")
        if self._timer is not None:
            self._timer.cancel()
        await self._close_everything()

    async def _guarded(self, step: Any) -> None:
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug of ours: say it once, keep serving
            self._internal_error(error, "in the session task")

    def _handle(self, command: Any) -> None:
        kind = type(command)
        if kind is _Audio:
            self._on_audio(command)
        elif kind is _EndOf:
            self._backlog.append(command)
            if self._state is StreamerState.DORMANT and self._backlog_bytes:
                self._wake_up()  # the end of a recovered tail: send them
        elif kind is _Wake:
            self._wake_up()
        elif kind is _LinkOpened:
            self._on_link_opened(command.link)
        elif kind is _LinkFailed:
            self._on_link_failed(command.link, command.error)
        elif kind is _LinkDown:
            self._on_link_lost(command.link, command.failure, command.at)
        elif kind is _Halt:
            self._state = StreamerState.CLOSED

    def _arm_timer(self, deadline: float | None) -> None:
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, deadline - self._clock())
            self._timer = loop.call_later(delay, self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = None
        self._timer_due = True
        self._inbox_ready.set()

    def _enter(self, state: StreamerState) -> None:
        self._state = state
        assert (state is StreamerState.READY) == (self._live is not None), (state, self._live)

    # ----- audio in -----

    def _on_audio(self, command: _Audio) -> None:
        if self._state is StreamerState.DORMANT:
            self._wake_up()
        self._backlog.append(command)
        self._backlog_bytes += len(command.pcm)
        # The bound is for audio waiting on a session that is not there; a ready session
        # takes it all (a long frame is not a reason to drop speech).
        if self._live is None and self._backlog_bytes > self._max_backlog_bytes:
            self._drop_oldest_audio()

    def _backlog_take_head(self) -> _Audio | _EndOf:
        item = self._backlog.popleft()
        if isinstance(item, _Audio):
            self._backlog_bytes -= len(item.pcm)
        return item

    def _drop_oldest_audio(self) -> None:
        dropped = 0
        kept: list[_EndOf] = []
        # Oldest audio goes first; ends stay so each utterance still ends.
        while self._backlog and self._backlog_bytes > self._max_backlog_bytes:
            item = self._backlog_take_head()
            if isinstance(item, _Audio):
                dropped += len(item.pcm)
            else:
                kept.append(item)
        self._backlog.extendleft(reversed(kept))
        self.stats.dropped_audio_seconds += dropped / 2 / self._rate
        if not self._dropping_reported:
            self._dropping_reported = True
            self._report(
                Failure(
                    Severity.TRANSIENT, "audioDropped",
                    f"the Spatius session was not ready and more than {self._config.max_buffered_audio_ms} ms "
                    "of audio was waiting: the oldest audio was dropped",
                    "buffer",
                ),
                None,
            )

    def _can_send(self) -> bool:
        live = self._live
        return live is not None and live.suspect is None and bool(self._backlog) and self._state is StreamerState.READY

    def _send_failed(self, link: _Link, failure: Failure) -> None:
        """A send on `link` failed: stop using it, and let the SDK's own report (on_error /
        on_close, in order after what it read) say why, or conclude after SUSPECT_WAIT_S."""
        if link.gone or link.suspect is not None:
            return
        link.suspect = failure
        link.suspect_at = self._clock()
        self._timer_due = True  # the wait is a deadline

    async def _send_next(self) -> None:
        """Send one batch (or one end) from the backlog on the live link."""
        item = self._backlog[0]
        if isinstance(item, _EndOf):
            self._backlog_take_head()
            if self._open is not None and self._open.utterance is item.utterance:
                await self._finish_open()
            return  # else: an end with no audio sent, a duplicate, or of a dropped turn
        utterance = item.utterance
        if self._open is not None and self._open.utterance is not utterance:
            await self._finish_open()  # a new utterance began without an end for the last
            if self._live is None:
                return
        if self._open is None:
            if self._next is not None and self._next.opened_at is not None:
                await self._switch()  # an utterance boundary: the moment to roll over
            self._open = self._new_request(utterance)
        request = self._open
        pcm = self._take_batch(utterance)
        link = request.link
        if request.encoder is not None:
            held = request.encoder.withheld_pcm()  # what the stream holds back before this batch
            try:
                payload = await request.encoder.encode(pcm, end=False)
            except Exception as error:  # our encoder: this request's stream is broken
                self._open = None
                self._internal_error(error, "encoding Ogg Opus")
                await self._end_quietly(request)
                return
        else:
            payload = pcm
        if link.gone:  # lost while encoding: the audio waits for the next session
            self._give_back(request, held if request.encoder is not None else b"", pcm)
            return
        if payload:
            try:
                request.req_id = await link.session.send_audio(payload, end=False)
            except Exception as error:
                # A failed send wrote nothing: the batch, and with Opus what the stream held
                # back before it, go first on the next session.
                self._give_back(request, held if request.encoder is not None else b"", pcm)
                self._send_failed(link, link_lost(error, self._secrets))
                return
        self._account_sent(request, pcm)

    def _give_back(self, request: _Request, held: bytes, pcm: bytes, *, end: bool = False) -> None:
        request.given_back = len(held) // 2
        if end:
            self._backlog.appendleft(_EndOf(request.utterance))
        if held or pcm:
            self._requeue(request.utterance, held + pcm)

    def _take_batch(self, utterance: Utterance) -> bytes:
        """The queued audio of `utterance` at the head of the backlog, up to a batch."""
        parts: list[bytes] = []
        size = 0
        while self._backlog and size < MAX_SEND_BATCH_BYTES:
            item = self._backlog[0]
            if not isinstance(item, _Audio) or item.utterance is not utterance:
                break
            self._backlog_take_head()
            parts.append(item.pcm)
            size += len(item.pcm)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _requeue(self, utterance: Utterance, pcm: bytes) -> None:
        self._backlog.appendleft(_Audio(utterance, pcm))
        self._backlog_bytes += len(pcm)

    def _new_request(self, utterance: Utterance) -> _Request:
        link = self._live
        now = self._clock()
        # Forget requests that are over; keep those that may still play.
        link.requests = [r for r in link.requests if not (r.ended or r.interrupted) or r.plays_until + PLAYBACK_SLACK_S > now]
        encoder = OggOpusRequestEncoder(self._rate) if self._opus else None
        request = _Request(utterance, link, encoder)
        link.requests.append(request)
        return request

    def _account_sent(self, request: _Request, pcm: bytes) -> None:
        samples = len(pcm) // 2
        seconds = samples / self._rate
        now = self._clock()
        link = request.link
        link.playing_until = max(link.playing_until, now) + seconds
        request.plays_until = link.playing_until
        recent = link.recent_sends
        recent.append((now, samples, request))
        while recent[0][0] < now - 2 * IN_FLIGHT_S:
            recent.popleft()
        request.samples += samples
        self.stats.audio_seconds_sent += seconds
        if self._events.on_audio_sent is not None:
            self._emit(self._events.on_audio_sent, request.utterance, pcm)

    async def _finish_open(self) -> None:
        """End the open request: its last Ogg pages and end=True."""
        request, self._open = self._open, None
        tail = b""
        held = b""
        if request.encoder is not None:
            held = request.encoder.withheld_pcm()
            try:
                tail = await request.encoder.encode(b"", end=True)
            except Exception as error:
                self._internal_error(error, "encoding Ogg Opus")
        link = request.link
        if link.gone:
            return
        if request.req_id is None and not tail:
            return  # nothing of it was ever sent: there is no request to end
        try:
            request.req_id = await link.session.send_audio(tail, end=True)
        except Exception as error:
            self._give_back(request, held, b"", end=True)  # the tail and the end, on the next session
            self._send_failed(link, link_lost(error, self._secrets))
            return
        request.ended = True
        self._request_finished(request, interrupted=False)

    async def _end_quietly(self, request: _Request) -> None:
        """Close a request whose stream broke, so the next audio opens a fresh one."""
        if request.req_id is None or request.link.gone:
            return
        try:
            await request.link.session.send_audio(b"", end=True)
        except Exception as error:
            self._send_failed(request.link, link_lost(error, self._secrets))
            return
        request.ended = True
        self._request_finished(request, interrupted=False)

    def _request_finished(self, request: _Request, *, interrupted: bool) -> None:
        self.stats.requests_ended += 1
        self._emit(
            self._events.on_metrics,
            {"request_audio_seconds": round(request.samples / self._rate, 3), "request_interrupted": int(interrupted)},
            request.utterance,
        )
        if self._events.on_request_end is not None:
            self._emit(self._events.on_request_end, request.utterance)

    # ----- barge-in -----

    async def _on_barge(self, command: _Barge) -> None:
        dropped = self._backlog_bytes
        self._backlog.clear()
        self._backlog_bytes = 0
        self.stats.interrupts += 1
        open_request, self._open = self._open, None
        now = self._clock()
        targets: list[_Request] = []
        for link in [*self._retiring, self._live]:
            if link is None or link.gone or link.suspect is not None:
                continue  # a link whose send failed plays nothing more
            for request in link.requests:
                if request.interrupted or request.req_id is None:
                    continue
                # The open request is always stopped (the service waits for its end);
                # an ended one only while it may still play.
                if request is open_request or now < request.plays_until + PLAYBACK_SLACK_S:
                    targets.append(request)
        interrupted = 0
        for request in targets:
            link = request.link
            if link.gone or link.suspect is not None:
                continue
            try:
                await interrupt_request(link.session, request.req_id)
            except Exception as error:  # the SDK's ValueError too: its socket is gone
                self._send_failed(link, link_lost(error, self._secrets))
                continue
            request.interrupted = True
            link.playing_until = min(link.playing_until, self._clock())
            request.plays_until = link.playing_until
            interrupted += 1
            if not request.ended:
                self._request_finished(request, interrupted=True)
        if open_request is not None and not open_request.interrupted and not open_request.ended:
            self._request_finished(open_request, interrupted=True)  # nothing of it was sent yet
        self.stats.requests_interrupted += interrupted
        latency_ms = (self._clock() - command.requested_at) * 1000
        self._events.log(
            "info",
            f"barge-in: interrupted {interrupted} Spatius request(s) {latency_ms:.1f} ms after the flush, "
            f"dropped {dropped} bytes of unsent audio",
        )
        if interrupted:
            self._emit(self._events.on_metrics, {"interrupts": self.stats.interrupts, "interrupt_latency_ms": round(latency_ms, 2)}, None)

    # ----- links -----

    def _open_next_link(self, *, start_now: bool = True) -> None:
        """Create the next link and open it in a sub-task that reports back to the inbox."""
        config = self._config
        now = self._clock()
        number = next(self._link_numbers)
        expire_at = datetime.now(timezone.utc) + timedelta(seconds=self._lifetime_s)
        holder: dict[str, _Link] = {}

        def on_error(error: Exception) -> None:
            self._post(_LinkDown(holder["link"], classify(error, self._secrets), self._clock()))

        def on_close() -> None:
            self._post(_LinkDown(holder["link"], None, self._clock()))

        session = self._session_factory(
            avatar_id=config.avatar_id,
            api_key=config.api_key.get_secret_value(),
            app_id=config.app_id,
            expire_at=expire_at,
            sample_rate=config.sample_rate,
            # Opus is encoded off the loop by us; the SDK passes the Ogg bytes through.
            audio_format=AudioFormat.OGG_OPUS if self._opus else AudioFormat.PCM_S16LE,
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
        link = holder["link"] = _Link(number, session, now, now + self._lifetime_s, start_now)
        if start_now:
            link.go.set()
            self.connect_started_at = now
        self._next = link
        self._retry_at = None
        link.task = asyncio.get_running_loop().create_task(self._open_link(link), name=f"spatius-open-{number}")

    async def _open_link(self, link: _Link) -> None:
        try:
            await asyncio.wait_for(link.session.init(), CONNECT_TIMEOUT_S)
            if not link.go.is_set():
                self._events.log("info", "session token fetched ahead; connecting when speech comes")
                await link.go.wait()
            await asyncio.wait_for(link.session.start(), CONNECT_TIMEOUT_S)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._post(_LinkFailed(link, error))
            return
        self._post(_LinkOpened(link))

    def _on_link_opened(self, link: _Link) -> None:
        if link is not self._next or link.gone:
            self._close_link(link)
            return
        now = link.opened_at = self._clock()
        if self._live is not None:
            self._events.log("info", "a fresh Spatius session is ready; switching to it at the next utterance boundary")
            return
        self._promote(link)
        started = self.connect_started_at or link.created_at
        self.connected_at = now
        self._events.log("info", f"Spatius session ready in {(now - started) * 1000:.0f} ms")
        self._emit(self._events.on_metrics, {"connect_ms": round((now - started) * 1000, 1), "reconnects": self.stats.reconnects}, None)

    def _promote(self, link: _Link) -> None:
        self._next = None
        self._live = link
        link.playing_until = self._clock()
        self.stats.connects += 1
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._dropping_reported = False
        self._last_reported = None
        self._hard_rollover_warned = False
        self._enter(StreamerState.READY)

    def _on_link_failed(self, link: _Link, error: BaseException | Failure) -> None:
        if link is not self._next:
            return
        self._next = None
        self._close_link(link)
        failure = error if isinstance(error, Failure) else classify(error, self._secrets)
        if not link.go.is_set():  # the token fetched ahead for a dormant avatar
            if failure.fatal:
                self._report(failure, None)
                self._fail(failure)
            else:  # tried again when speech comes
                self._events.log("info", f"fetching a session token ahead failed ({failure.vendor_code}); retrying when speech comes")
            return
        self._report(failure, None)
        if failure.fatal:
            self._fail(failure)
            return
        self._attempt += 1
        self._retry_at = self._clock() + backoff_delay(self._attempt, base=self._backoff[0], cap=self._backoff[1])
        if self._live is None:
            self._enter(StreamerState.RECONNECTING)

    def _on_link_lost(self, link: _Link, failure: Failure | None, noticed_at: float | None = None) -> None:
        """A link broke or closed (an SDK callback, or a send that failed)."""
        if link.gone:
            return  # already handled, or closed by us
        now = self._clock()
        noticed_at = now if noticed_at is None else noticed_at
        if link.suspect is not None:  # a send had failed already: that is when it was noticed
            noticed_at = min(noticed_at, link.suspect_at)
            failure = failure or link.suspect
        if link is self._next and link.opened_at is None:
            # Its read loop can report before the opener does: a failure to open.
            self._on_link_failed(link, failure or Failure(
                Severity.TRANSIENT, "connectionClosed", "the Spatius service closed the session right after the handshake",
                "websocket_runtime"))
            return
        if link is self._next:  # opened for a rollover, lost before the switch
            self._next = None
            self._close_link(link)
            self._events.log("info", "the fresh Spatius session closed before the switch; opening another")
            self._retry_at = now + backoff_delay(1, base=self._backoff[0], cap=self._backoff[1])
            return
        lost_samples = self._lost_samples(link, noticed_at)
        cut_short = self._cut_short(link)
        if link in self._retiring:
            self._retiring.remove(link)
            self._close_link(link)
            self._account_lost(lost_samples, cut_short, "the old Spatius session closed while it still played")
            return
        if link is not self._live:
            self._close_link(link)
            return
        self._live = None
        if self._open is not None and self._open.link is link:
            # The utterance continues as a new request on the next session, starting with
            # what the lost Opus stream still held back (never sent, so never heard).
            request, self._open = self._open, None
            if request.encoder is not None and not request.interrupted and request.given_back is None:
                tail = request.encoder.withheld_pcm()
                if tail:
                    self._backlog.appendleft(_Audio(request.utterance, tail, recovered=True))
                    self._backlog_bytes += len(tail)
                    request.given_back = len(tail) // 2
        # What was given back is sent again on the next session: not lost.
        lost_samples = max(0, lost_samples - sum(r.given_back or 0 for r in link.requests))
        self._close_link(link)
        lived = now - (link.opened_at or now)
        code = failure.vendor_code if failure is not None else None
        if code == AvatarSDKErrorCode.idleTimeout.value and lost_samples == 0:
            # The service closed a quiet session, as it does: stay quiet until speech comes
            # (speech that is already waiting wakes it at once). No error: nothing was lost.
            self._events.log("info", "the Spatius session closed after the service's idle timeout; "
                                     "reconnecting when speech comes")
            self._enter(StreamerState.DORMANT)
            self._attempt = 0
            self._retry_at = None
            if self._next is None:
                self._open_next_link(start_now=False)
            if any(type(item) is _EndOf or not item.recovered for item in self._backlog):
                self._wake_up()  # speech is waiting (a recovered tail alone waits for more)
            return
        failure = failure or Failure(
            Severity.TRANSIENT, "connectionClosed", "the Spatius service closed the session", "websocket_runtime"
        )
        if failure.fatal:
            self._report(failure, cut_short)
            self._fail(failure)
            return
        lost_s = lost_samples / self._rate
        if lost_samples:
            failure = Failure(failure.severity, failure.vendor_code,
                              f"{failure.message}; {lost_s:.2f} s of speech sent but not yet played was lost with it",
                              failure.phase, failure.fix)
        self._report(failure, cut_short)
        self._account_lost(lost_samples, cut_short, None)
        self._attempt = 1 if lived >= STABLE_SESSION_S else self._attempt + 1
        if self._next is not None:
            if self._next.opened_at is not None:  # a fresh session was ready for a rollover
                self._promote(self._next)
                return
            self._enter(StreamerState.RECONNECTING)  # it is being opened: wait for it
            return
        self._enter(StreamerState.RECONNECTING)
        self._retry_at = now + backoff_delay(self._attempt, base=self._backoff[0], cap=self._backoff[1])
        if self._backlog_bytes > self._max_backlog_bytes:  # queued while it was ready
            self._drop_oldest_audio()

    def _lost_samples(self, link: _Link, at: float) -> int:
        """What a link lost at `at` takes with it, counted from the newest audio back: what
        had not played by then, what was written in the last IN_FLIGHT_S, and what the Opus
        encoder still held; each is a suffix of what was sent, so the largest covers all."""
        unplayed = withheld = 0
        for request in link.requests:
            if request.interrupted:
                continue
            ahead = max(0.0, request.plays_until - at)
            unplayed += min(request.samples, int(round(ahead * self._rate)))
            withheld += request.withheld_samples()
        # Audio a barge-in interrupted was not going to play: it is not lost (and has no
        # utterance left to report it for).
        in_flight = sum(samples for sent_at, samples, request in link.recent_sends
                        if sent_at >= at - IN_FLIGHT_S and not request.interrupted)
        return max(unplayed, in_flight, withheld)

    def _cut_short(self, link: _Link) -> Utterance | None:
        for request in reversed(link.requests):
            if not request.interrupted:
                return request.utterance
        return None

    def _account_lost(self, samples: int, utterance: Utterance | None, message: str | None) -> None:
        if not samples:
            return
        seconds = samples / self._rate
        self.stats.lost_audio_seconds += seconds
        if message is not None:
            self._report(Failure(Severity.TRANSIENT, "connectionClosed",
                                 f"{message}: {seconds:.2f} s of speech was lost", "websocket_runtime"), utterance)
        self._emit(self._events.on_metrics, {"audio_lost_seconds": round(seconds, 3)}, utterance)

    def _wake_up(self) -> None:
        if self._state is not StreamerState.DORMANT:
            return
        self._enter(StreamerState.CONNECTING)
        self.connect_started_at = self._clock()
        link = self._next
        if link is not None and not link.go.is_set():
            if self._clock() - link.created_at <= self._lifetime_s * PREPARED_TOKEN_MAX_AGE:
                link.go.set()
                return
            self._next = None
            self._close_link(link)
        if self._next is None:
            self._open_next_link()

    async def _switch(self) -> None:
        """Make the fresh session live; the old one retires and plays out."""
        old, fresh = self._live, self._next
        if self._open is not None and self._open.link is old:
            await self._finish_open()  # at the deadline, mid-utterance: it continues on the fresh one
        self._next = None
        self._live = fresh
        fresh.playing_until = self._clock()
        self.stats.rollovers += 1
        self.stats.connects += 1
        self._hard_rollover_warned = False
        if old is not None and not old.gone:
            self._retiring.append(old)
        self._events.log("info", "rolled over to a fresh Spatius session; the old one closes once its audio has played")

    def _rollover_times(self, link: _Link) -> tuple[float, float]:
        """(soft, hard): open a fresh session from `soft`, switch at the latest at `hard`."""
        lifetime = link.expires_at - link.created_at
        margin = min(300.0, lifetime * 0.1)
        return link.expires_at - margin, link.expires_at - min(15.0, margin / 2)

    def _retire_at(self, link: _Link) -> float:
        return min(link.playing_until + PLAYBACK_SLACK_S, link.expires_at)

    def _next_deadline(self) -> float | None:
        times: list[float] = []
        if self._retry_at is not None:
            times.append(self._retry_at)
        live = self._live
        if live is not None:
            soft, hard = self._rollover_times(live)
            if self._next is None:
                times.append(soft)
            elif self._next.opened_at is not None:
                times.append(hard)
        times.extend(self._retire_at(link) for link in self._retiring)
        if live is not None and live.suspect is not None:
            times.append(live.suspect_at + SUSPECT_WAIT_S)
        return min(times) if times else None

    async def _on_time(self) -> None:
        now = self._clock()
        for link in [self._live, *self._retiring]:
            if link is not None and link.suspect is not None and now >= link.suspect_at + SUSPECT_WAIT_S:
                self._on_link_lost(link, link.suspect)  # the SDK never said more
        if self._retry_at is not None and now >= self._retry_at and self._next is None:
            if self._live is not None or self._state is StreamerState.RECONNECTING:
                self._events.log("info", f"opening a new Spatius session (attempt {self._attempt + 1})")
                self._open_next_link()
            else:
                self._retry_at = None
        live = self._live
        if live is not None:
            soft, hard = self._rollover_times(live)
            if self._next is None and self._retry_at is None and now >= soft:
                self._events.log("info", "opening a fresh Spatius session before this one expires")
                self._open_next_link()
            elif self._next is not None and self._next.opened_at is not None:
                if self._open is None or now >= hard:
                    await self._switch()
            elif now >= hard and not self._hard_rollover_warned:
                self._hard_rollover_warned = True
                self._events.log("warn", "the Spatius session is about to expire and no fresh one is ready yet")
        for link in list(self._retiring):
            if now >= self._retire_at(link):
                self._retiring.remove(link)
                self._close_link(link)

    def _fail(self, failure: Failure) -> None:
        self._events.log("error", f"giving up on Spatius: {failure.vendor_code}: {failure.message}")
        self._drop_everything()
        self._retry_at = None
        self._enter(StreamerState.FAILED)

    def _drop_everything(self) -> None:
        """Close every link and forget every piece of audio and request."""
        for link in [self._live, self._next, *self._retiring]:
            if link is not None:
                self._close_link(link)
        self._live = self._next = None
        self._retiring.clear()
        self._backlog.clear()
        self._backlog_bytes = 0
        self._open = None

    # ----- closing -----

    def _close_link(self, link: _Link) -> None:
        if link.gone and link.task is None:
            return
        link.gone = True
        task, link.task = link.task, None
        if task is not None and not task.done():
            task.cancel()
        closer = asyncio.get_running_loop().create_task(self._close_session(link.session, task), name=f"spatius-close-{link.number}")
        self._closing.add(closer)
        closer.add_done_callback(self._closing.discard)

    async def _close_session(self, session: Any, opener: asyncio.Task | None) -> None:
        if opener is not None:
            await asyncio.wait({opener}, timeout=CLOSE_TIMEOUT_S)
        try:
            await asyncio.wait_for(session.close(), CLOSE_TIMEOUT_S)
        except (Exception, asyncio.CancelledError) as error:  # a dead peer must not hold stop
            self._events.log("debug", f"closing a Spatius session: {type(error).__name__}")

    async def _close_everything(self) -> None:
        self._drop_everything()
        await self._await_closing()

    async def _await_closing(self) -> None:
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=CLOSE_TIMEOUT_S + 1.0)

    # ----- reporting -----

    def _report(self, failure: Failure, utterance: Utterance | None) -> None:
        # The same problem again and again (e.g. while reconnecting) is said once.
        if failure.signature == self._last_reported:
            self._events.log("debug", f"again: {failure.vendor_code}: {failure.message}")
            return
        self._last_reported = failure.signature
        self.stats.failures.append(failure.vendor_code)
        self._emit(self._events.on_failure, failure, utterance)

    def _emit(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            callback(*args)
        except Exception as error:
            self._internal_error(error, f"in {getattr(callback, '__name__', 'a callback')}", report=callback != self._events.on_failure)

    def _internal_error(self, error: BaseException, where: str = "", *, report: bool = True) -> None:
        text = scrub(f"{type(error).__name__}: {error}", self._secrets)
        key = f"{where}|{type(error).__name__}"
        if key in self._internal_reported:
            self._events.log("debug", f"again: internal error {where}: {text}")
            return
        self._internal_reported.add(key)
        self._events.log("error", f"internal error {where}: {text}".replace("  ", " "))
        if report:
            failure = Failure(Severity.TRANSIENT, "internalError", f"internal error {where}: {text}".replace("  ", " "), "internal")
            self.stats.failures.append(failure.vendor_code)
            try:
                self._events.on_failure(failure, None)
            except Exception:
                pass
