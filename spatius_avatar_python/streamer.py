"""The Spatius server sessions (Agora egress) behind one avatar, owned by one task.

One owner task holds every piece of session state. Everybody else posts commands: the TEN
callbacks (through the pipeline) post audio, ends, barge-ins and wake-ups; the SDK's
callbacks and the connect sub-tasks post what happened to a link. The owner handles them
one at a time, in order, so no two tasks ever write the same field.

Three parts, one job each:
- lifecycle.py decides which sessions exist and when to open, switch, retry or close
  (a pure state machine; its docstring has the state table);
- the send path below (frames → backlog → sends, requests.py) moves audio to the live
  session and tells the lifecycle only what changed (audio waiting, a request open, a send
  failed);
- sessions.py does the I/O of one SDK session (open, send with a deadline, bounded close).

Rules (docs/session-lifecycle.md says them for graph authors):
- Ready means a live session exists; audio that arrives before waits, bounded by
  `max_buffered_audio_ms` (the oldest is dropped, and that is reported).
- A lost connection is transient: reconnect with capped, jittered backoff. The utterance
  in flight continues as a new request on the new session. What the lost session had
  played-out-pending is lost with it and reported (`audio_lost_seconds`); with Ogg Opus,
  the PCM its encoder still held back (never sent, so never heard) is sent again first on
  the new session, once, and not counted as lost. Nothing that reached the service is
  sent twice.
- A send that does not complete in SEND_TIMEOUT_S is a lost connection.
- Make-before-break rollover: before a session expires a fresh one (fresh token) is opened
  while the old one keeps speaking; the switch happens at the first utterance boundary
  after the fresh one is ready (at the latest shortly before expiry), and the old session
  is closed once its audio has played.
- Barge-in interrupts every request that is still playing or queued, on every session,
  once each; unsent audio is dropped.
- After the service's idle timeout the avatar stays disconnected (no error, no churn)
  with a session token fetched ahead, and connects again when speech comes.
- `stop()` closes every session within STOP_BOUND_S, also when the owner task is
  cancelled, and leaves no task of ours or of the SDK behind.
- A bug in our own code (an event callback, the encoder) is reported once as
  `internalError`; the avatar keeps serving; audio it could not send is counted as dropped.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import spatius
from spatius import AgoraEgressConfig, AudioFormat, AvatarSDKErrorCode

from . import lifecycle as lc
from .batching import IDLE, BatchDecision, BatchPolicy
from .config import AvatarConfig
from .failure_codes import ExtensionErrorCode, Phase
from .failures import Failure, Severity, classify, scrub
from .lifecycle import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    Lifecycle,
    LinkState,
    StreamerState,
    backoff_delay,
)
from .requests import Audio, EndOf
from .sdk_internals import sdk_internals
from .sendpath import SendPath, interrupt_request  # noqa: F401  (interrupt_request: re-exported)
from .sessions import (
    CLOSE_BOUND_S,
    CLOSE_TIMEOUT_S,
    CONNECT_TIMEOUT_S,
    SEND_TIMEOUT_S,
    SessionLink,
    close_session,
    open_session,
)
from .tokens import egress_token
from .turns import Utterance

__all__ = [
    "AvatarStreamer",
    "StreamerEvents",
    "StreamerState",
    "StreamerStats",
    "backoff_delay",
    "CONNECT_TIMEOUT_S",
    "CLOSE_TIMEOUT_S",
    "SEND_TIMEOUT_S",
    "STOP_BOUND_S",
    "BACKOFF_BASE_S",
    "BACKOFF_CAP_S",
]

# stop(): the owner finishes (at worst a send in progress, then its closes), else it is
# cancelled and its `finally` closes; every close is bounded by CLOSE_BOUND_S.
STOP_BOUND_S = SEND_TIMEOUT_S + 2 * CLOSE_BOUND_S + 1.0


@dataclass
class StreamerEvents:
    """How the streamer talks back (the TEN glue turns these into data and logs)."""

    on_failure: Callable[[Failure, Utterance | None], None] = lambda failure, utterance: None
    on_metrics: Callable[[dict[str, float], Utterance | None], None] = lambda metrics, utterance: (
        None
    )
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
    dropped_audio_seconds: float = (
        0.0  # never sent: the buffer bound, a superseded turn, a bug of ours
    )
    lost_audio_seconds: float = 0.0  # sent, not yet played, when its session was lost
    failures: list[str] = field(default_factory=list)


# ----- commands to the owner (never changed once posted; slots: made per frame) -----


@dataclass(slots=True)
class _Barge:
    requested_at: float


@dataclass(slots=True)
class _Superseded:
    turn: str
    seconds: float


@dataclass(slots=True)
class _Wake:
    pass


@dataclass(slots=True)
class _Halt:
    pass


@dataclass(slots=True)
class _LinkOpened:
    link: SessionLink


@dataclass(slots=True)
class _LinkFailed:
    link: SessionLink
    error: BaseException


@dataclass(slots=True)
class _LinkDown:
    link: SessionLink
    failure: Failure | None  # None: closed without an error first (e.g. 1000/1001)
    at: float  # when the SDK said so (the owner may handle it later)


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


BUILT_SECRETS_KEPT = 8  # tokens built for recent sessions: a log line may still quote one


def remember_built_secret(secrets: list[str], configured: int, token: str) -> None:
    """Scrub a token the extension built, like the configured secrets. Only the newest built
    tokens are kept; the first `configured` entries (API key, certificate, given token) stay."""
    if not token or token in secrets:
        return
    secrets.append(token)
    excess = len(secrets) - configured - BUILT_SECRETS_KEPT
    if excess > 0:
        del secrets[configured : configured + excess]


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
        batch_policy: BatchPolicy | None = None,
    ) -> None:
        self._config = config
        self._events = events
        self._session_factory = session_factory
        self._clock = clock
        self._lifetime_s = float(session_lifetime_s or config.session_expire_minutes * 60)
        self._secrets = config.secrets()
        self._configured_secrets = len(self._secrets)  # built tokens are appended after them
        self._rate = config.sample_rate
        self._opus = config.audio_format == "ogg_opus"
        self._max_backlog_bytes = config.max_buffered_audio_ms * config.sample_rate * 2 // 1000
        self.stats = StreamerStats()
        # The inbox is the only thing both sides touch: callers append, the owner drains.
        self._inbox: collections.deque[Any] = collections.deque()
        self._inbox_ready = asyncio.Event()
        # Audio in the inbox the owner was not woken for (the batching rule said wait):
        # written by push_audio, reset by the owner when it drains the inbox.
        self._inbox_audio_bytes = 0
        self._inbox_audio_since: float | None = None
        self._inbox_audio_of: Utterance | None = None
        self._hold: asyncio.TimerHandle | None = None  # wakes the owner when a batch's hold ends
        self._hold_at = 0.0
        self._hold_due = False
        self._owner: asyncio.Task[None] | None = None
        # Everything below is written by the owner task only.
        self._lifecycle = Lifecycle(self._lifetime_s, backoff=(backoff_base_s, backoff_cap_s))
        self._links: dict[lc.Link, SessionLink] = {}
        self._closing: set[asyncio.Task[None]] = set()
        self._facts = (False, False)  # (audio waiting, a request open) as last told the lifecycle
        self._superseded: dict[str, None] = {}  # turns whose late audio was dropped, and said so
        self._ever_connected = False
        self._connect_started_at: float | None = None
        self._dropping_reported = False
        self._last_reported: tuple[str, str] | None = None
        self._internal_reported: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._timer_due = False
        # How often in a row the timer was armed at a time already past (it may once, when
        # the loop was busy past a deadline; twice would be a spin): tests check the maximum.
        self.past_arms_in_a_row = 0
        self.max_past_arms_in_a_row = 0
        self._internals = sdk_internals()
        self._send = SendPath(
            rate=self._rate,
            opus=self._opus,
            stats=self.stats,
            events=events,
            secrets=self._secrets,
            clock=clock,
            per_request_interrupt=self._internals.per_request_interrupt,
            emit=self._emit,
            internal_error=self._internal_error,
            on_send_failed=self._send_failed,
            policy=batch_policy,
        )

    # ----- what the TEN callbacks call (synchronous, never blocking: they only post) -----

    @property
    def state(self) -> StreamerState:
        return self._lifecycle.state

    def start(self) -> None:
        if self._lifecycle.state is not StreamerState.IDLE or self._owner is not None:
            return
        apply_telemetry(self._config.telemetry, self._events.log)
        for problem in self._internals.problems():
            self._events.log("warn", problem)
        actions = self._lifecycle.start(self._clock())
        self._owner = asyncio.get_running_loop().create_task(
            self._run(actions), name="spatius-session-owner"
        )
        self._owner.add_done_callback(self._owner_ended)

    def push_audio(self, utterance: Utterance, pcm: bytes) -> None:
        """Queue mono s16le PCM at the session rate for `utterance`.

        The owner is woken per batch, not per frame: only when the batching rule says the
        queued audio goes out now (a request's first audio, enough queued), else one timer
        for the hold. Before a live session every frame wakes it (the lifecycle and the
        buffer bound need to see the audio)."""
        if not pcm or not self._accepting():
            return
        now = self._clock()
        self._inbox.append(Audio(utterance, pcm, False, now))
        if self._inbox_ready.is_set():
            return
        send = self._send
        if self._inbox_audio_of is not utterance:
            live = send.live
            if self._inbox_audio_of is not None or live is None or live.suspect is not None:
                self._inbox_ready.set()
                return
            self._inbox_audio_of = utterance
            self._inbox_audio_since = now
        self._inbox_audio_bytes += len(pcm)
        decision = send.due(
            now,
            inbox_bytes=self._inbox_audio_bytes,
            inbox_since=self._inbox_audio_since,
            utterance=utterance,
        )
        if decision.send:
            self._inbox_ready.set()
        elif decision.wake_at is not None:
            self._arm_hold(decision.wake_at)

    def end_utterance(self, utterance: Utterance) -> None:
        """End the Spatius request of `utterance` after all its queued audio."""
        if self._accepting():
            self._post(EndOf(utterance))

    def drop_superseded(self, turn: str, seconds: float) -> None:
        """Late audio of a turn a newer one replaced was dropped (counted, said once per turn)."""
        if self._accepting():
            self._post(_Superseded(turn, seconds))

    def interrupt(self) -> None:
        """Barge-in: drop the audio not yet sent, interrupt whatever still plays. The owner
        handles it next, without waiting for an encoder job it may be awaiting."""
        if self._accepting():
            self._post(_Barge(self._clock()))
            self._send.overtake()

    def wake(self) -> None:
        """Speech is coming (a TTS request started): connect now if the avatar is dormant."""
        if self._lifecycle.state is StreamerState.DORMANT:
            self._post(_Wake())

    async def stop(self) -> None:
        """Stop taking audio, close every session within STOP_BOUND_S, leave no task behind."""
        owner = self._owner
        if owner is not None and not owner.done():
            self._post(_Halt())
            try:
                await asyncio.wait_for(asyncio.shield(owner), SEND_TIMEOUT_S + CLOSE_BOUND_S + 0.5)
            except (asyncio.TimeoutError, asyncio.CancelledError):
                owner.cancel()  # its `finally` closes every session
                await asyncio.wait({owner}, timeout=CLOSE_BOUND_S)
        if not self._lifecycle.over() or self._links:
            self._perform_closes(self._lifecycle.stop(self._clock()))
        await self._await_closing()
        self._lifecycle.state = StreamerState.CLOSED

    def _accepting(self) -> bool:
        # Before start() too: the runtime delivers frames between on_init and on_start, and
        # they wait in the inbox for the owner.
        return not self._lifecycle.over()

    def _post(self, command: Any) -> None:
        self._inbox.append(command)
        if not self._inbox_ready.is_set():
            self._inbox_ready.set()

    def _owner_ended(self, task: asyncio.Task[None]) -> None:
        # The owner never fails by design; if it does, say so instead of going silent.
        if task.cancelled() or task.exception() is None:
            return
        self._lifecycle.state = StreamerState.FAILED
        failure = Failure(
            Severity.FATAL,
            ExtensionErrorCode.INTERNAL_ERROR,
            scrub(f"the Spatius session task stopped: {task.exception()!r}", self._secrets),
            Phase.INTERNAL,
        )
        self._events.log("error", f"giving up on Spatius: {failure.message}")
        try:
            self._events.on_failure(failure, None)
        except Exception:
            pass

    # ----- the owner -----

    async def _run(self, first: list[lc.Action]) -> None:
        life = self._lifecycle
        try:
            await self._perform(first)
            while not life.over():
                if not self._inbox and not self._hold_due:
                    wait = self._send_decision()
                    if not wait.send:
                        await self._tell_facts()
                        self._arm_timer(life.next_time())
                        if wait.wake_at is not None:
                            self._arm_hold(wait.wake_at)
                        if not self._inbox and not self._timer_due and not self._hold_due:
                            await self._inbox_ready.wait()
                self._inbox_ready.clear()
                while self._inbox and not life.over():
                    command = self._inbox.popleft()
                    try:
                        await self._handle(command)
                    except asyncio.CancelledError:
                        raise
                    except Exception as error:  # a bug of ours: say it once, keep serving
                        self._internal_error(error, "handling a command")
                self._inbox_audio_bytes = 0  # all of it is in the backlog now
                self._inbox_audio_since = self._inbox_audio_of = None
                if life.over():
                    break
                await self._tell_facts()
                if self._timer_due:
                    self._timer_due = False
                    await self._guarded(self._perform(life.tick(self._clock())))
                held, self._hold_due = self._hold_due, False
                if self._send_decision(held_long_enough=held).send:
                    if self._hold is not None:
                        self._hold.cancel()
                        self._hold = None
                    await self._send.send_guarded()
        finally:
            if self._timer is not None:
                self._timer.cancel()
            if self._hold is not None:
                self._hold.cancel()
            if not life.over() or self._links:
                self._drop_everything()
                self._perform_closes(life.stop(self._clock()))
            await self._await_closing()

    def _send_decision(self, *, held_long_enough: bool = False) -> BatchDecision:
        if not self._send.can_send():
            return IDLE
        return self._send.due(self._clock(), held_long_enough=held_long_enough)

    def _arm_hold(self, at: float) -> None:
        """One timer per batch: when the oldest queued audio has waited the hold."""
        if self._hold is not None:
            if self._hold_at <= at:
                return
            self._hold.cancel()
        self._hold_at = at
        delay = max(0.0, at - self._clock())
        self._hold = asyncio.get_running_loop().call_later(delay, self._hold_ended)

    def _hold_ended(self) -> None:
        self._hold = None
        self._hold_due = True
        self._inbox_ready.set()

    async def _guarded(self, step: Any) -> None:
        try:
            await step
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a bug of ours: say it once, keep serving
            self._internal_error(error, "in the session task")

    async def _handle(self, command: Any) -> None:
        kind = type(command)
        if kind is Audio:
            self._on_audio(command)
        elif kind is EndOf:
            self._send.backlog.append(command)
        elif kind is _Superseded:
            self._on_superseded(command)
        elif kind is _Barge:
            await self._send.barge(command.requested_at, list(self._links.values()))
        elif kind is _Wake:
            await self._perform(self._lifecycle.wake(self._clock()))
        elif kind is _LinkOpened:
            await self._perform(self._lifecycle.opened(command.link.link, self._clock()))
        elif kind is _LinkFailed:
            failure = (
                command.error
                if isinstance(command.error, Failure)
                else classify(command.error, self._secrets)
            )
            await self._perform(
                self._lifecycle.open_failed(command.link.link, failure, self._clock())
            )
        elif kind is _LinkDown:
            await self._on_link_lost(command.link, command.failure, command.at)
        elif kind is _Halt:
            self._drop_everything()
            self._perform_closes(self._lifecycle.stop(self._clock()))

    async def _tell_facts(self) -> None:
        """Tell the lifecycle what the data path changed (only when it did: rarely per frame)."""
        facts = (self._send.live is None and bool(self._send.backlog), self._send.open is not None)
        if facts != self._facts:
            self._facts = facts
            await self._perform(
                self._lifecycle.facts(self._clock(), audio_waiting=facts[0], mid_utterance=facts[1])
            )

    def _arm_timer(self, deadline: float) -> None:
        if deadline == self._timer_at and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = None
        if deadline == float("inf"):
            return
        self._timer_at = deadline
        delay = deadline - self._clock()
        self.past_arms_in_a_row = self.past_arms_in_a_row + 1 if delay <= 0 else 0
        self.max_past_arms_in_a_row = max(self.max_past_arms_in_a_row, self.past_arms_in_a_row)
        self._timer = asyncio.get_running_loop().call_later(max(0.0, delay), self._timer_fired)

    def _timer_fired(self) -> None:
        self._timer = None
        self._timer_at = None
        self._timer_due = True
        self._inbox_ready.set()

    # ----- the lifecycle's actions -----

    async def _perform(self, actions: list[lc.Action]) -> None:
        for action in actions:
            if isinstance(action, lc.Open):
                self._open_link(action.link)
            elif isinstance(action, lc.Go):
                self._links[action.link].go.set()
                self._connect_started_at = self._clock()
            elif isinstance(action, lc.Close):
                self._close_link(action.link)
            elif isinstance(action, lc.Promote):
                self._promote(self._links[action.link], just_opened=action.just_opened)
            elif isinstance(action, lc.Switch):
                await self._switch(self._links[action.old], self._links[action.fresh])
            elif isinstance(action, lc.ConcludeLost):
                link = self._links.get(action.link)
                if link is not None:  # the SDK never said more
                    await self._on_link_lost(link, link.suspect, action.link.suspect_at)
            elif isinstance(action, lc.Report):
                self._report(action.failure, None)
            elif isinstance(action, lc.Fail):
                self._events.log(
                    "error",
                    f"giving up on Spatius: {action.failure.vendor_code}: {action.failure.message}",
                )
                self._drop_everything()
            elif isinstance(action, lc.Log):
                self._events.log(action.level, action.message)
        if actions and not self._lifecycle.over():
            self._arm_timer(self._lifecycle.next_time())

    def _perform_closes(self, actions: list[lc.Action]) -> None:
        """stop(): only closes are left to do, and they must not wait."""
        for action in actions:
            if type(action) is lc.Close:
                self._close_link(action.link)

    # ----- audio in -----

    def _on_audio(self, item: Audio) -> None:
        self._send.backlog.append(item)
        # The bound is for audio waiting on a session that is not there; a ready session
        # takes it all (a long frame is not a reason to drop speech).
        if self._send.live is None and self._send.backlog.bytes > self._max_backlog_bytes:
            self._drop_oldest_audio()

    def _on_superseded(self, command: _Superseded) -> None:
        self.stats.dropped_audio_seconds += command.seconds
        if command.turn in self._superseded:
            return
        self._superseded[command.turn] = None
        while len(self._superseded) > 64:
            del self._superseded[next(iter(self._superseded))]
        self._report(
            Failure(
                Severity.TRANSIENT,
                ExtensionErrorCode.AUDIO_DROPPED,
                f"audio of TTS turn {command.turn} arrived after a newer turn had started: the "
                "newer turn owns the avatar, so the older one's late audio was dropped",
                Phase.TURNS,
            ),
            None,
        )

    def _drop_oldest_audio(self) -> None:
        dropped = self._send.backlog.drop_oldest(self._max_backlog_bytes)
        self.stats.dropped_audio_seconds += dropped / 2 / self._rate
        if not self._dropping_reported:
            self._dropping_reported = True
            self._report(
                Failure(
                    Severity.TRANSIENT,
                    ExtensionErrorCode.AUDIO_DROPPED,
                    "the Spatius session was not ready and more than "
                    f"{self._config.max_buffered_audio_ms} ms of audio was waiting: the oldest "
                    "audio was dropped",
                    Phase.BUFFER,
                ),
                None,
            )

    # ----- what the send path tells -----

    async def _send_failed(self, link: SessionLink, failure: Failure) -> None:
        """A send on `link` failed: stop using it, and let the SDK's own report (on_error /
        on_close, in order after what it read) say why, or conclude after SUSPECT_WAIT_S."""
        if link.suspect is not None or link.link not in self._links:
            return
        link.suspect = failure
        await self._perform(self._lifecycle.send_failed(link.link, self._clock()))

    # ----- links -----

    def _open_link(self, record: lc.Link) -> None:
        """Create the SDK session of `record`; open it in a sub-task that reports to the inbox."""
        config = self._config
        expire_at = datetime.now(timezone.utc) + timedelta(seconds=self._lifetime_s)
        holder: dict[str, SessionLink] = {}

        def on_error(error: Exception) -> None:
            self._post(_LinkDown(holder["link"], classify(error, self._secrets), self._clock()))

        def on_close() -> None:
            self._post(_LinkDown(holder["link"], None, self._clock()))

        agora_token = egress_token(config)
        remember_built_secret(self._secrets, self._configured_secrets, agora_token)
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
                token=agora_token,
                uid=config.uid,
                publisher_id=config.publisher_id,
            ),
            extra_params=dict(config.extra_params),
        )
        link = holder["link"] = SessionLink(record, session)
        self._links[record] = link
        if record.go:
            link.go.set()
            self._connect_started_at = record.created_at
        link.task = asyncio.get_running_loop().create_task(
            self._opener(link), name=f"spatius-open-{record.number}"
        )

    async def _opener(self, link: SessionLink) -> None:
        def token_ahead() -> None:
            self._events.log("info", "session token fetched ahead; connecting when speech comes")

        try:
            await open_session(link, token_ahead)
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self._post(_LinkFailed(link, error))
            return
        self._post(_LinkOpened(link))

    def _promote(self, link: SessionLink, *, just_opened: bool) -> None:
        self._send.live = link
        self.stats.connects += 1
        if self._ever_connected:
            self.stats.reconnects += 1
        self._ever_connected = True
        self._dropping_reported = False
        self._last_reported = None
        if just_opened:
            now = self._clock()
            started = self._connect_started_at or link.link.created_at
            self._events.log("info", f"Spatius session ready in {(now - started) * 1000:.0f} ms")
            self._emit(
                self._events.on_metrics,
                {
                    "connect_ms": round((now - started) * 1000, 1),
                    "reconnects": self.stats.reconnects,
                },
                None,
            )

    async def _switch(self, old: SessionLink, fresh: SessionLink) -> None:
        """Make the fresh session live; the old one retires and plays out."""
        request = self._send.open
        if request is not None and request.link is old:
            if old.suspect is None and request.given_back is None:
                await (
                    self._send.finish_open()
                )  # at the deadline, mid-utterance: it continues on the fresh one
            else:
                self._send.open = (
                    None  # its send failed: what it held went back to the backlog once already
                )
        self._send.live = fresh
        self.stats.rollovers += 1
        self.stats.connects += 1
        self._events.log(
            "info",
            "rolled over to a fresh Spatius session; the old one closes once its audio has played",
        )

    async def _on_link_lost(
        self, link: SessionLink, failure: Failure | None, noticed_at: float | None = None
    ) -> None:
        """A link broke or closed (an SDK callback, or a send that failed): count what it took
        with it (the data path's part), then tell the lifecycle."""
        record = link.link
        if record not in self._links:
            return  # already handled, or closed by us
        now = self._clock()
        noticed_at = now if noticed_at is None else noticed_at
        if link.suspect is not None:  # a send had failed already: that is when it was noticed
            noticed_at = min(noticed_at, record.suspect_at or noticed_at)
            failure = failure or link.suspect
        life = self._lifecycle
        if record.state in (LinkState.OPENING, LinkState.OPEN):
            await self._perform(life.lost(record, failure, now))
            return
        lost_samples = link.sent.lost_samples(noticed_at, self._rate)
        cut_short = link.sent.cut_short()
        if record.state is LinkState.RETIRING:
            await self._perform(life.lost(record, failure, now))
            self._account_lost(
                lost_samples, cut_short, "the old Spatius session closed while it still played"
            )
            return
        self._send.live = None
        if self._send.open is not None and self._send.open.link is link:
            # The utterance continues as a new request on the next session, starting with
            # what the lost Opus stream still held back (never sent, so never heard).
            request, self._send.open = self._send.open, None
            if not request.interrupted:
                tail = request.withheld_pcm()
                if tail:
                    self._send.backlog.put_back(request.utterance, tail, recovered=True)
                    request.given_back = len(tail) // 2
        # What was given back is sent again on the next session: not lost.
        lost_samples = max(0, lost_samples - link.sent.given_back())
        code = failure.code if failure is not None else None
        quiet_idle = code is AvatarSDKErrorCode.idleTimeout and lost_samples == 0
        if not quiet_idle:
            failure = failure or Failure(
                Severity.TRANSIENT,
                AvatarSDKErrorCode.connectionClosed,
                "the Spatius service closed the session",
                Phase.WEBSOCKET_RUNTIME,
            )
            if lost_samples and not failure.fatal:
                failure = dataclasses.replace(
                    failure,
                    message=f"{failure.message}; {lost_samples / self._rate:.2f} s of speech "
                    "sent but not yet played was lost with it",
                )
            self._report(failure, cut_short)
            if not failure.fatal:
                self._account_lost(lost_samples, cut_short, None)
        await self._perform(life.lost(record, failure, now, quiet_idle=quiet_idle))
        # Audio queued while it was ready may now be over the bound for a missing session.
        # (Asked through a method: `_perform` may have promoted a fresh link.)
        if not self._send.has_live() and self._send.backlog.bytes > self._max_backlog_bytes:
            self._drop_oldest_audio()

    def _account_lost(self, samples: int, utterance: Utterance | None, message: str | None) -> None:
        if not samples:
            return
        seconds = samples / self._rate
        self.stats.lost_audio_seconds += seconds
        if message is not None:
            self._report(
                Failure(
                    Severity.TRANSIENT,
                    AvatarSDKErrorCode.connectionClosed,
                    f"{message}: {seconds:.2f} s of speech was lost",
                    Phase.WEBSOCKET_RUNTIME,
                ),
                utterance,
            )
        self._emit(self._events.on_metrics, {"audio_lost_seconds": round(seconds, 3)}, utterance)

    def _drop_everything(self) -> None:
        """Forget every piece of audio and request (the lifecycle closes the links)."""
        self._send.live = None
        self._send.backlog.clear()
        self._send.open = None

    # ----- closing -----

    def _close_link(self, record: lc.Link) -> None:
        link = self._links.pop(record, None)
        if link is None:
            return
        if link is self._send.live:
            self._send.live = None
        if self._send.open is not None and self._send.open.link is link:
            self._send.open = None
        task, link.task = link.task, None
        closer = asyncio.get_running_loop().create_task(
            close_session(link.session, task, self._events.log),
            name=f"spatius-close-{record.number}",
        )
        self._closing.add(closer)
        closer.add_done_callback(self._closing.discard)

    async def _await_closing(self) -> None:
        if self._closing:
            await asyncio.wait(set(self._closing), timeout=CLOSE_BOUND_S + 0.5)

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
            self._internal_error(
                error,
                f"in {getattr(callback, '__name__', 'a callback')}",
                report=callback != self._events.on_failure,
            )

    def _internal_error(
        self, error: BaseException, where: str = "", *, report: bool = True
    ) -> None:
        text = scrub(f"{type(error).__name__}: {error}", self._secrets)
        key = f"{where}|{type(error).__name__}"
        if key in self._internal_reported:
            self._events.log("debug", f"again: internal error {where}: {text}")
            return
        self._internal_reported.add(key)
        self._events.log("error", f"internal error {where}: {text}".replace("  ", " "))
        if report:
            failure = Failure(
                Severity.TRANSIENT,
                ExtensionErrorCode.INTERNAL_ERROR,
                f"internal error {where}: {text}".replace("  ", " "),
                Phase.INTERNAL,
            )
            self.stats.failures.append(failure.vendor_code)
            try:
                self._events.on_failure(failure, None)
            except Exception:
                pass
