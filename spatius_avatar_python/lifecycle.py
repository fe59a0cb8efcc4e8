"""The session lifecycle of one avatar: a pure state machine (no asyncio, no sockets, no clock).

The owner task (streamer.py) feeds it events with the current monotonic time and performs
the actions it returns, in order; then it arms one timer at `deadline` and calls `tick`
when it fires. Everything here can be driven by a test with a fake clock.

After every event the machine reconciles: from the facts (is audio waiting? a request
open on the live link? which links exist, in which state? a retry due? the live token's
deadlines?) it derives what should exist and moves toward it, idempotently. No handler
patches its own subset of fields; all decisions are in `_reconcile`.

Avatar states (`StreamerState`): IDLE → CONNECTING → READY ⇄ RECONNECTING, READY → DORMANT
(idle close) → CONNECTING (speech), any → FAILED (fatal) or CLOSED (stop). READY exactly
when a LIVE link exists.

Link states: OPENING (token, WebSocket, handshake; `go` False: token fetched ahead for a
dormant avatar, waits for speech) → OPEN (ready, not yet live: a rollover's fresh link) →
LIVE (audio goes here) → RETIRING (rolled over from; plays out) → CLOSING (Close emitted;
the owner ends it within its close bound; the machine forgets it).

  state / link        event                        actions
  ------------------  ---------------------------  ---------------------------------------
  IDLE                start                        Open(go)                → CONNECTING
  no LIVE, no OPENING retry due (or none set)      Open(go)
  no LIVE             link OPENING→OPEN            Promote(link)           → READY
  no LIVE, OPENING    open fails (transient)       Close, Report, retry at now+backoff
  any                 open fails (fatal)           Close, Report, Fail     → FAILED
  OPENING (not go)    open fails (transient)       Close (retried when speech comes)
  READY               now ≥ soft, no other link,   Open(go)  (the rollover's fresh link)
                      no retry pending
  READY + OPEN        no request open, or ≥ hard   Switch(live, fresh): live → RETIRING
  RETIRING            played out (+slack) / expiry Close
  LIVE                send failed                  (no more sends) ; after SUSPECT_WAIT_S
                                                   without the SDK's report: ConcludeLost
  LIVE                lost (transient)             Close; OPEN fresh → Promote; OPENING
                                                   fresh → wait; else retry  → RECONNECTING
  LIVE                lost (fatal)                 Close all, Fail         → FAILED
  LIVE                idle close, nothing lost     Close; with a fresh link → as transient
                                                   (no error); else Open(not go) → DORMANT
  OPEN (fresh)        lost                         Close, retry at now+backoff(1)
  RETIRING            lost                         Close (the owner counts what it lost)
  DORMANT             speech waits / wake          Go(prepared) if its token is young
                                                   enough, else Close + Open(go) → CONNECTING
  any                 stop                         Close all               → CLOSED

The timer: `deadline` is the earliest of the future times that matter (a retry, the soft
or hard rollover time, a retiring link's play-out, a suspect link's wait); every time that
is already due is acted upon in the same step, so the timer is never armed in the past.
"""

from __future__ import annotations

import enum
import itertools
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from spatius import AvatarSDKErrorCode

from .failure_codes import Phase
from .failures import Failure, Severity

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 15.0
STABLE_SESSION_S = 10.0  # a session that lived this long resets the backoff
PLAYBACK_SLACK_S = 0.5  # this long after its last audio has played, a request is over
PREPARED_TOKEN_MAX_AGE = 0.5  # share of the session lifetime a prefetched token may wait
# After a send fails, the SDK's read loop still has to report why (a ServerError such as
# "credits exhausted" comes before the close that made the send fail): wait for its last
# word (on_close) this long at most before concluding from the failed send alone.
SUSPECT_WAIT_S = 1.0


class StreamerState(enum.Enum):
    IDLE = "idle"  # not started
    CONNECTING = "connecting"  # opening the first session, or waking from dormant
    READY = "ready"  # a live session exists
    RECONNECTING = "reconnecting"  # the session was lost: backing off or opening a new one
    DORMANT = "dormant"  # closed by the service's idle timeout: connects when speech comes
    FAILED = "failed"  # a fatal failure: never connects again
    CLOSED = "closed"


class LinkState(enum.Enum):
    OPENING = "opening"
    OPEN = "open"
    LIVE = "live"
    RETIRING = "retiring"
    CLOSING = "closing"


@dataclass(eq=False)
class Link:
    """What the machine knows of one Spatius session. `plays_until` is fed by the send path."""

    number: int
    created_at: float
    expires_at: float  # the session token's expiry, fixed before connecting
    go: bool  # False: fetch the token now, connect when speech comes
    state: LinkState = LinkState.OPENING
    opened_at: float | None = None
    suspect_at: float | None = None  # a send on it failed at this time
    concluded: bool = False  # ConcludeLost was emitted
    plays_until: float = 0.0  # when what it was sent will have played

    def rollover_times(self) -> tuple[float, float]:
        """(soft, hard): open a fresh session from `soft`, switch at the latest at `hard`."""
        lifetime = self.expires_at - self.created_at
        margin = min(300.0, lifetime * 0.1)
        return self.expires_at - margin, self.expires_at - min(15.0, margin / 2)

    def retire_at(self) -> float:
        return min(self.plays_until + PLAYBACK_SLACK_S, self.expires_at)


# ----- actions (the owner performs them in order) -----


@dataclass(frozen=True)
class Open:
    link: Link


@dataclass(frozen=True)
class Go:
    link: Link  # a prepared link: connect now


@dataclass(frozen=True)
class Close:
    link: Link


@dataclass(frozen=True)
class Promote:
    link: Link  # becomes live with no live before it (connect, reconnect)
    just_opened: bool


@dataclass(frozen=True)
class Switch:
    old: Link  # live until now: finish its open request, then it retires
    fresh: Link


@dataclass(frozen=True)
class ConcludeLost:
    link: Link  # a send on it failed and the SDK never said why


@dataclass(frozen=True)
class Report:
    failure: Failure


@dataclass(frozen=True)
class Fail:
    failure: Failure


@dataclass(frozen=True)
class Log:
    level: str
    message: str


Action = Open | Go | Close | Promote | Switch | ConcludeLost | Report | Fail | Log


def backoff_delay(
    attempt: int,
    *,
    base: float = BACKOFF_BASE_S,
    cap: float = BACKOFF_CAP_S,
    rng: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff, equal jitter: uniform in [c/2, c], c = min(cap, base * 2**(attempt-1)).

    Half fixed, half random: sessions that failed together spread out, and none retries at once."""
    ceiling = min(cap, base * (2.0 ** max(0, attempt - 1)))
    return ceiling * (0.5 + 0.5 * rng())


_CLOSED_RIGHT_AFTER = Failure(
    Severity.TRANSIENT,
    AvatarSDKErrorCode.connectionClosed,
    "the Spatius service closed the session right after the handshake",
    Phase.WEBSOCKET_RUNTIME,
)


class Lifecycle:
    def __init__(
        self,
        lifetime_s: float,
        *,
        backoff: tuple[float, float] = (BACKOFF_BASE_S, BACKOFF_CAP_S),
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.lifetime_s = lifetime_s
        self._backoff = backoff
        self._rng = rng
        self.state = StreamerState.IDLE
        self.links: list[Link] = []
        self.attempt = 0
        self.retry_at: float | None = None
        self.audio_waiting = False  # fact: the backlog holds audio or an end
        self.mid_utterance = False  # fact: a request is open on the live link
        self._dormant = False
        self._prefetch_failed = False
        self._hard_warned = False
        self._numbers = itertools.count(1)
        self._out: list[Action] = []

    # ----- queries -----

    @property
    def live(self) -> Link | None:
        return next((link for link in self.links if link.state is LinkState.LIVE), None)

    def _find(self, state: LinkState, go: bool | None = None) -> Link | None:
        return next(
            (link for link in self.links if link.state is state and (go is None or link.go is go)),
            None,
        )

    def over(self) -> bool:
        """FAILED or CLOSED: nothing more happens. (A method, not a property: the owner asks
        again after every await, and a type checker narrows a property as if it could not
        change in between.)"""
        return self.state in (StreamerState.FAILED, StreamerState.CLOSED)

    # ----- events -----

    def start(self, now: float) -> list[Action]:
        if self.state is StreamerState.IDLE:
            self.state = StreamerState.CONNECTING
        return self._step(now)

    def facts(self, now: float, *, audio_waiting: bool, mid_utterance: bool) -> list[Action]:
        """The data path changed: audio waits or not, a request is open or not."""
        self.audio_waiting, self.mid_utterance = audio_waiting, mid_utterance
        return self._step(now)

    def wake(self, now: float) -> list[Action]:
        """Speech is coming (a TTS request started)."""
        if self.state is StreamerState.DORMANT:
            self._wake_up()
        return self._step(now)

    def tick(self, now: float) -> list[Action]:
        return self._step(now)

    def opened(self, link: Link, now: float) -> list[Action]:
        if link in self.links and link.state is LinkState.OPENING:
            link.state, link.opened_at = LinkState.OPEN, now
            if self.live is not None:
                self._out.append(
                    Log(
                        "info",
                        "a fresh Spatius session is ready; "
                        "switching to it at the next utterance boundary",
                    )
                )
            return self._step(now, just_opened=link)
        if link not in self.links:
            self._out.append(Close(link))  # opened after it was given up: close it again
        return self._step(now)

    def open_failed(self, link: Link, failure: Failure, now: float) -> list[Action]:
        if link not in self.links:
            return self._step(now)
        self._close(link)
        if not link.go:  # the token fetched ahead for a dormant avatar
            if failure.fatal:
                self._fail(failure, report=True)
            else:
                self._prefetch_failed = True
                self._out.append(
                    Log(
                        "info",
                        f"fetching a session token ahead failed ({failure.vendor_code}); "
                        "retrying when speech comes",
                    )
                )
            return self._step(now)
        self._out.append(Report(failure))
        if failure.fatal:
            self._fail(failure, report=False)
            return self._step(now)
        self.attempt += 1
        self.retry_at = now + self._delay(self.attempt)
        if self.live is None:
            self.state = StreamerState.RECONNECTING
        return self._step(now)

    def send_failed(self, link: Link, now: float) -> list[Action]:
        if link in self.links and link.suspect_at is None:
            link.suspect_at = now
        return self._step(now)

    def lost(
        self, link: Link, failure: Failure | None, now: float, *, quiet_idle: bool = False
    ) -> list[Action]:
        """A link broke or closed. For the live one the owner has reported it (with what was
        lost); `quiet_idle`: the service's idle timeout closed it and nothing was lost."""
        if link not in self.links:
            return self._step(now)
        if link.state is LinkState.OPENING:  # its read loop reported before its opener did
            return self.open_failed(link, failure or _CLOSED_RIGHT_AFTER, now)
        state = link.state
        self._close(link)
        if state is LinkState.OPEN:
            self._out.append(
                Log("info", "the fresh Spatius session closed before the switch; opening another")
            )
            self.retry_at = now + self._delay(1)
        elif state is LinkState.LIVE:
            fresh = self._find(LinkState.OPEN) or self._find(LinkState.OPENING, go=True)
            if quiet_idle and fresh is None:
                self._out.append(
                    Log(
                        "info",
                        "the Spatius session closed after the service's idle timeout; "
                        "reconnecting when speech comes",
                    )
                )
                self.state, self._dormant, self._prefetch_failed = (
                    StreamerState.DORMANT,
                    True,
                    False,
                )
                self.attempt, self.retry_at = 0, None
            elif failure is not None and failure.fatal:
                self._fail(failure, report=False)
            elif quiet_idle:  # a fresh link is there: it takes over, no error, no backoff
                self.state = StreamerState.RECONNECTING
            else:
                lived = now - (link.opened_at if link.opened_at is not None else now)
                self.attempt = 1 if lived >= STABLE_SESSION_S else self.attempt + 1
                self.state = StreamerState.RECONNECTING
                if fresh is None:
                    self.retry_at = now + self._delay(self.attempt)
        return self._step(now)

    def fail(self, failure: Failure, now: float) -> list[Action]:
        """A fatal failure seen outside the lifecycle's events (already reported)."""
        if not self.over():
            self._fail(failure, report=False)
        return self._step(now)

    def stop(self, now: float) -> list[Action]:
        for link in list(self.links):
            self._close(link)
        self.state = StreamerState.CLOSED
        self.retry_at = None
        return self._step(now)

    # ----- the one place that decides -----

    def _step(self, now: float, just_opened: Link | None = None) -> list[Action]:
        for _ in range(4):  # a move can make another time due (a switch: the old link played out)
            if self.over():
                break
            self._reconcile(now, just_opened)
            if all(t > now for t in self._times()):
                break
        out, self._out = self._out, []
        return out

    def _reconcile(self, now: float, just_opened: Link | None) -> None:
        for link in self.links:
            if (
                link.suspect_at is not None
                and not link.concluded
                and now >= link.suspect_at + SUSPECT_WAIT_S
            ):
                link.concluded = True
                self._out.append(ConcludeLost(link))  # the owner answers with `lost`
        for link in [link for link in self.links if link.state is LinkState.RETIRING]:
            if now >= link.retire_at():
                self._close(link)
        if self._dormant and self.audio_waiting:
            self._wake_up()
        live = self.live
        fresh = self._find(LinkState.OPEN)
        if live is None and fresh is not None:
            self._promote(fresh, now, just_opened=fresh is just_opened)
            live, fresh = fresh, None
        if live is None:
            self._connect(now)
            return
        for prepared in [
            link for link in self.links if link.state is LinkState.OPENING and not link.go
        ]:
            self._close(prepared)  # a token fetched ahead is of no use while a session is live
        soft, hard = live.rollover_times()
        opening = self._find(LinkState.OPENING)
        if fresh is None and opening is None and now >= soft and not self._retry_pending(now):
            self._out.append(Log("info", "opening a fresh Spatius session before this one expires"))
            self._open(now, go=True)
        elif fresh is not None and (not self.mid_utterance or now >= hard):
            self._switch(live, fresh, now)
        elif fresh is None and now >= hard and not self._hard_warned:
            self._hard_warned = True
            self._out.append(
                Log("warn", "the Spatius session is about to expire and no fresh one is ready yet")
            )

    def _connect(self, now: float) -> None:
        """No live link: get one, unless dormant and nothing is waiting."""
        if self._dormant:
            if self._find(LinkState.OPENING) is None and not self._prefetch_failed:
                self._open(
                    now, go=False
                )  # fetch a token ahead: connecting is faster when speech comes
            return
        if self._find(LinkState.OPENING, go=True) is not None:
            return  # being opened: wait for it
        prepared = self._find(LinkState.OPENING, go=False)
        if prepared is not None:
            if now - prepared.created_at <= self.lifetime_s * PREPARED_TOKEN_MAX_AGE:
                prepared.go = True
                self._out.append(Go(prepared))
                return
            self._close(prepared)
        if not self._retry_pending(now):
            if self.attempt:
                self._out.append(
                    Log("info", f"opening a new Spatius session (attempt {self.attempt + 1})")
                )
            self._open(now, go=True)

    # ----- moves -----

    def _retry_pending(self, now: float) -> bool:
        return self.retry_at is not None and now < self.retry_at

    def _delay(self, attempt: int) -> float:
        return backoff_delay(attempt, base=self._backoff[0], cap=self._backoff[1], rng=self._rng)

    def _wake_up(self) -> None:
        self._dormant = False
        self._prefetch_failed = False
        self.state = StreamerState.CONNECTING

    def _open(self, now: float, *, go: bool) -> None:
        link = Link(next(self._numbers), now, now + self.lifetime_s, go)
        self.links.append(link)
        self.retry_at = None
        self._out.append(Open(link))

    def _close(self, link: Link) -> None:
        if link in self.links:
            self.links.remove(link)
            link.state = LinkState.CLOSING
            self._out.append(Close(link))

    def _promote(self, link: Link, now: float, *, just_opened: bool) -> None:
        link.state = LinkState.LIVE
        link.plays_until = now
        self.state = StreamerState.READY
        self._hard_warned = False
        self._out.append(Promote(link, just_opened))

    def _switch(self, old: Link, fresh: Link, now: float) -> None:
        old.state = LinkState.RETIRING
        fresh.state = LinkState.LIVE
        fresh.plays_until = now
        self.mid_utterance = False  # the owner ends the open request on the old link
        self._hard_warned = False
        self._out.append(Switch(old, fresh))

    def _fail(self, failure: Failure, *, report: bool) -> None:
        if report:
            self._out.append(Report(failure))
        for link in list(self.links):
            self._close(link)
        self.state = StreamerState.FAILED
        self.retry_at = None
        self._out.append(Fail(failure))

    # ----- the timer -----

    def _times(self) -> list[float]:
        """Every time at which the machine would act by itself (all in the future after a step)."""
        if self.over():
            return []
        times = [
            link.suspect_at + SUSPECT_WAIT_S
            for link in self.links
            if link.suspect_at is not None and not link.concluded
        ]
        times += [link.retire_at() for link in self.links if link.state is LinkState.RETIRING]
        live = self.live
        if live is not None:
            soft, hard = live.rollover_times()
            if self._find(LinkState.OPEN) is not None:
                if self.mid_utterance:
                    times.append(hard)
            elif self._find(LinkState.OPENING) is None:
                times.append(max(soft, self.retry_at or soft))
            if self._find(LinkState.OPEN) is None and not self._hard_warned:
                times.append(hard)
        elif (
            not self._dormant
            and self._find(LinkState.OPENING) is None
            and self.retry_at is not None
        ):
            times.append(self.retry_at)
        return times

    def deadline(self, now: float) -> float | None:
        """When to call `tick` next (None: only events move the machine)."""
        times = self._times()
        due = [t for t in times if t <= now]
        assert not due, f"due times left unhandled: {due} at {now}"
        return min(times) if times else None

    def next_time(self) -> float:
        times = self._times()
        return min(times) if times else math.inf
