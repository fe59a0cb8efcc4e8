"""Model-based tests of the pure session lifecycle (spatius_avatar_python/lifecycle.py).

The one place a test double is right: hypothesis' stateful testing plays the owner task
and a scripted in-memory Spatius service (links that connect, are slow, are refused,
close with 1000/1001/1011 or for idleness, sends that block or fail) with a deterministic
fake clock, through thousands of interleavings of audio, ends, barge-ins, wake-ups,
rollovers and faults. After every step it checks the invariants of issue 15:

- while not FAILED/CLOSED and audio waits, a link is live or opening, or a retry is
  scheduled at a future time;
- no time the machine acts on is left due after a step (the timer is never armed in the
  past), and a step emits a bounded number of actions (nothing spins);
- at most one live link; READY exactly when one exists; a fresh link that is ready is
  switched to at once when no request is open;
- the machine never closes a link (by itself, not after a loss) while its audio still
  plays, before its token's expiry;
- completeness: every sample pushed is sent, dropped by a barge-in or a failure, lost with
  a lost link, or still waiting;
- after stop() every link that was opened has been closed;
- liveness: once the service behaves, waiting audio is sent (nothing is stuck for good).

LIFECYCLE_EXAMPLES sets the example count (CI: the default; 10x for a soak run).
"""

from __future__ import annotations

import math
import os

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from spatius import AvatarSDKErrorCode as Code

from spatius_avatar_python import lifecycle as lc
from spatius_avatar_python.failure_codes import Phase
from spatius_avatar_python.failures import Failure, Severity
from spatius_avatar_python.lifecycle import Lifecycle, LinkState, StreamerState

LIFETIME_S = 100.0  # soft at 90 s, hard at 95 s: rollovers are frequent, their window wide
EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "300"))
STEPS = 60
MAX_ACTIONS_PER_STEP = 12

TRANSIENT = Failure(Severity.TRANSIENT, Code.connectionFailed, "refused", Phase.WEBSOCKET_CONNECT)
FATAL = Failure(Severity.FATAL, Code.creditsExhausted, "credits exhausted", Phase.WEBSOCKET_RUNTIME)
SERVER_1011 = Failure(Severity.TRANSIENT, Code.connectionClosed, "1011", Phase.WEBSOCKET_RUNTIME)
IDLE = Failure(Severity.TRANSIENT, Code.idleTimeout, "no audio input", Phase.WEBSOCKET_RUNTIME)


class LifecycleModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.life = Lifecycle(LIFETIME_S, backoff=(0.5, 15.0), rng=lambda: 0.5)
        self.opened: set[lc.Link] = set()  # every link an Open was emitted for
        self.closed: set[lc.Link] = set()
        self.loss_expected: set[lc.Link] = set()  # closes that follow a loss/failure/stop
        self.pushed = self.waiting = self.dropped = self.lost = 0
        self.in_play: dict[lc.Link, list[tuple[float, int]]] = {}  # (plays_until, samples) per link
        self.played = 0
        self.mid_utterance = False
        self.stopped = False
        self.perform(self.life.start(self.now))

    # ----- the owner's side: perform actions, keep the data path's facts -----

    def perform(self, actions: list[lc.Action]) -> None:
        assert len(actions) <= MAX_ACTIONS_PER_STEP, actions
        assert sum(type(a) is lc.Open for a in actions) <= 2, actions
        for action in actions:
            if isinstance(action, lc.Open):
                assert action.link not in self.opened
                self.opened.add(action.link)
            elif isinstance(action, lc.Close):
                link = action.link
                self.settle_playback(link)
                unplayed = sum(samples for _, samples in self.in_play.pop(link, []))
                if link not in self.loss_expected and not self.life.over():
                    assert unplayed == 0 or self.now >= link.expires_at, (
                        f"link {link.number} closed with {unplayed} samples still playing"
                    )
                self.lost += unplayed
                self.closed.add(link)
            elif isinstance(action, lc.Switch):
                self.mid_utterance = False  # the owner ends the open request on the old link
            elif isinstance(action, lc.ConcludeLost):
                self.lose(action.link, TRANSIENT)
            elif isinstance(action, lc.Fail):
                self.dropped += self.waiting
                self.waiting = 0
                self.mid_utterance = False
        self.check_step()

    def facts(self) -> None:
        self.perform(
            self.life.facts(
                self.now,
                audio_waiting=self.waiting > 0 and self.life.live is None,
                mid_utterance=self.mid_utterance,
            )
        )

    def settle_playback(self, link: lc.Link) -> None:
        plays = self.in_play.get(link, [])
        done = [p for p in plays if p[0] <= self.now]
        self.played += sum(samples for _, samples in done)
        self.in_play[link] = [p for p in plays if p[0] > self.now]

    def lose(self, link: lc.Link, failure: Failure | None, *, idle: bool = False) -> None:
        if link not in self.life.links:
            return
        self.loss_expected.add(link)
        if link.state is LinkState.LIVE:
            self.mid_utterance = False
        self.settle_playback(link)
        quiet = idle and not self.in_play.get(link)
        self.perform(self.life.lost(link, failure, self.now, quiet_idle=quiet))
        self.facts()

    def links_in(self, *states: LinkState) -> list[lc.Link]:
        return [link for link in self.life.links if link.state in states]

    def check_step(self) -> None:
        deadline = self.life.deadline(self.now)  # asserts nothing due is left
        assert deadline is None or deadline > self.now

    # ----- time -----

    def advance_to(self, target: float) -> None:
        """The owner's timer: tick at every deadline up to `target`."""
        for _ in range(1000):
            deadline = self.life.next_time()
            if deadline > target:
                break
            self.now = max(self.now, deadline)
            self.perform(self.life.tick(self.now))
        else:
            raise AssertionError("the timer fired 1000 times before reaching the target: spinning")
        self.now = target

    @rule(seconds=st.sampled_from([0.05, 0.3, 1.0, 3.0, 8.0, 20.0]))
    def time_passes(self, seconds: float) -> None:
        self.advance_to(self.now + seconds)

    # ----- the service -----

    @precondition(
        lambda self: any(lk.state is LinkState.OPENING and lk.go for lk in self.life.links)
    )
    @rule(data=st.data())
    def connect_ok(self, data: st.DataObject) -> None:
        link = data.draw(
            st.sampled_from(
                [lk for lk in self.life.links if lk.state is LinkState.OPENING and lk.go]
            )
        )
        self.perform(self.life.opened(link, self.now))
        self.facts()

    @precondition(lambda self: any(lk.state is LinkState.OPENING for lk in self.life.links))
    @rule(data=st.data(), fatal=st.sampled_from([False, False, False, True]))
    def connect_refused(self, data: st.DataObject, fatal: bool) -> None:
        link = data.draw(st.sampled_from(self.links_in(LinkState.OPENING)))
        self.loss_expected.add(link)
        self.perform(self.life.open_failed(link, FATAL if fatal else TRANSIENT, self.now))
        self.facts()

    @precondition(lambda self: any(lk.state is not LinkState.OPENING for lk in self.life.links))
    @rule(data=st.data(), how=st.sampled_from(["1000", "1001", "1011", "idle", "fatal"]))
    def service_closes(self, data: st.DataObject, how: str) -> None:
        link = data.draw(
            st.sampled_from([lk for lk in self.life.links if lk.state is not LinkState.OPENING])
        )
        failure = {"1000": None, "1001": None, "1011": SERVER_1011, "idle": IDLE, "fatal": FATAL}[
            how
        ]
        self.lose(link, failure, idle=how == "idle")

    @precondition(lambda self: self.life.live is not None and self.life.live.suspect_at is None)
    @rule()
    def send_fails_or_blocks(self) -> None:
        live = self.life.live
        assert live is not None  # the precondition
        self.perform(self.life.send_failed(live, self.now))

    # ----- the agent's speech -----

    @rule(samples=st.integers(1, 48000))
    def audio(self, samples: int) -> None:
        if self.life.over():
            return
        self.pushed += samples
        self.waiting += samples
        self.facts()

    @precondition(
        lambda self: (
            self.waiting > 0 and self.life.live is not None and self.life.live.suspect_at is None
        )
    )
    @rule()
    def send(self) -> None:
        link = self.life.live
        assert link is not None  # the precondition
        start = max(link.plays_until, self.now)
        link.plays_until = start + self.waiting / 24000
        self.in_play.setdefault(link, []).append((link.plays_until, self.waiting))
        self.waiting = 0
        self.mid_utterance = True
        self.facts()

    @rule()
    def end_of_utterance(self) -> None:
        if self.waiting == 0:
            self.mid_utterance = False
            self.facts()

    @rule()
    def barge_in(self) -> None:
        self.dropped += self.waiting
        self.waiting = 0
        self.mid_utterance = False
        for link in self.links_in(LinkState.LIVE, LinkState.RETIRING):
            if link.suspect_at is None:
                self.settle_playback(link)
                self.dropped += sum(samples for _, samples in self.in_play.pop(link, []))
                link.plays_until = min(link.plays_until, self.now)
        self.facts()

    @rule()
    def wake(self) -> None:
        self.perform(self.life.wake(self.now))

    # ----- invariants -----

    @invariant()
    def audio_waiting_has_a_way_out(self) -> None:
        life = self.life
        if life.over() or self.waiting == 0:
            return
        assert (
            life.live is not None
            or any(lk.state is LinkState.OPENING and lk.go for lk in life.links)
            or (life.retry_at is not None and life.retry_at > self.now)
        ), (
            f"{self.waiting} samples wait with no live link, none opening, no retry: "
            f"{life.state}, {life.links}"
        )

    @invariant()
    def one_live_link_and_ready_iff_live(self) -> None:
        live = self.links_in(LinkState.LIVE)
        assert len(live) <= 1
        if not self.life.over():
            assert (self.life.state is StreamerState.READY) == bool(live), (self.life.state, live)
            assert len(self.life.links) <= 4, self.life.links

    @invariant()
    def a_ready_fresh_link_is_switched_to_at_a_boundary(self) -> None:
        # Issue 15, defect 3: a fresh session that is ready waits for no timer.
        if not self.life.over() and not self.mid_utterance:
            assert not self.links_in(LinkState.OPEN), self.life.links
        live = self.life.live
        if live is not None and self.links_in(
            LinkState.OPEN
        ):  # ... and at the latest at the hard deadline
            assert self.now < live.rollover_times()[1], (self.now, self.life.links)

    @invariant()
    def complete(self) -> None:
        in_play = sum(samples for plays in self.in_play.values() for _, samples in plays)
        assert self.pushed == self.played + in_play + self.lost + self.dropped + self.waiting

    def teardown(self) -> None:
        life = self.life
        # Liveness: with a service that now behaves, what waits is sent.
        for _ in range(200):
            if life.over() or (self.waiting == 0 and not self.mid_utterance):
                break
            for link in [lk for lk in life.links if lk.state is LinkState.OPENING and lk.go]:
                self.perform(life.opened(link, self.now))
            self.facts()
            if self.waiting and life.live is not None and life.live.suspect_at is None:
                self.send()
                self.end_of_utterance_now()
            else:
                nxt = life.next_time()
                self.advance_to(self.now + 0.1 if math.isinf(nxt) else max(nxt, self.now + 0.01))
        if not life.over():
            assert self.waiting == 0, (
                f"{self.waiting} samples stuck: {life.state}, {life.links}, retry {life.retry_at}"
            )
        # stop(): every link that was opened is closed.
        self.perform(life.stop(self.now))
        assert life.state is StreamerState.CLOSED and not life.links
        assert self.opened == self.closed, self.opened - self.closed

    def end_of_utterance_now(self) -> None:
        self.mid_utterance = False
        self.facts()


TestLifecycleModel = LifecycleModel.TestCase
TestLifecycleModel.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
