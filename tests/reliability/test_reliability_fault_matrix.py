"""The fault matrix: every emulator fault × every moment × both audio formats, one
parametrized table.

The real extension runs in single mode against the emulator at 24 kHz, once with Ogg Opus
(the default format) and once with PCM. The audio is marked so that what reached the
emulator says which signal, which part of it, in which order and how often it arrived:
ramps for PCM (exact), distinct tones per 50 ms for Ogg Opus (lossy: sample counts are
exact, positions to a few ms; see reliability_kit). Each row scripts the same
conversation around its fault:

  A  the utterance in flight when the fault hits (its fate depends on the moment);
  B  a turn the user barges in on: a few frames, `flush`, then late frames of B that
     must never reach Spatius;
  C  the next utterance: after a transient fault (or none) it must arrive whole, in one
     request; after a fatal one nothing reaches Spatius any more.

Faults come in three kinds (attempt, session, idle) and what a moment means depends on
the kind: `MEANINGS` below says it for each pair, and every row carries its meaning. So a
token refusal "during an utterance" is the refusal of the reconnect that the utterance's
broken session needs; slow reading "between utterances" is the session that reconnect
opens reading slowly. Slow reading and added latency are not failures: they must cost
nothing but time. Each row's expected outcome is its fault's (fatal or transient error
with the SDK code, reconnect or not), except during-stop rows: a clean, bounded stop.

Completeness from below, wherever A or C must continue or arrive whole: summed over every
connection and request, nothing arrives twice, and every sample the TTS sent either
reached the emulator or is covered by the loss the extension reported (`metrics`
`audio_lost_seconds`, also stated in the 1000 error's message), which itself is bounded
by the audio sent in the 1.5 s before the report (reliability_kit.completeness_problems
and loss_problems say the exact rule and its tolerances).
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import spatius.avatar_session
from scenario_kit import run_scenario
from spatius_emulator.faults import FaultScript, Trigger
from ten_runtime import StatusCode

from tests.reliability.reliability_kit import (
    FRAME_SAMPLES,
    RAMPS,
    RATE,
    Fate,
    Marking,
    Signal,
    TimedScenario,
    ToneMarking,
    check_fate,
    completeness_problems,
    ended_whole,
    error_payload_problems,
    extension_logs,
    foreign_mixes,
    guard_catches,
    last_run_record,
    loss_reports,
    loss_problems,
    pieces_of,
    reached,
)
from tests.reliability.suite_audit import AUDIT

# ----- the conversation -----

A = Signal("A (in flight)", -32000, RATE)  # 1 s
B_EARLY = Signal("B before the flush", -8000, RATE // 10)
B_LATE = Signal("B after the flush (stale)", -5600, RATE // 10)
C = Signal("C (after recovery)", 0, RATE // 2)
ALL_SIGNALS = (A, B_EARLY, B_LATE, C)
TURN_OF = {A: 1, B_EARLY: 2, B_LATE: 2, C: 3}
MARKINGS: tuple[Marking, ...] = (ToneMarking(ALL_SIGNALS), RAMPS)  # Ogg Opus, the default, first

A_PARTS = 5  # mid-utterance: A is sent in this many parts, each one waited for (send_a_in_parts)
IDLE_TIMEOUT_S = 1.8  # longer than A (1 s): the session idles out after A has played
SLOW_READ_S = 0.02  # per message the emulator reads
ADDED_LATENCY_S = 0.3  # on the token answer and again on the handshake answer
SILENT_HANDSHAKE_GIVE_UP_S = 0.5  # the SDK's handshake timeout (10 s), shortened for CI
# After a failure of the first attempt the retry comes 0.25-0.5 s later (backoff with
# jitter): a retry after a fatal failure there would show within this window. Later
# attempts back off longer; there the extension's "giving up" log is the evidence.
NO_RETRY_WINDOW_S = 0.55
STOP_BOUND_S = 15.0  # generous: only against hangs
SETUP_DROP_CODE = "connectionClosed"
SETUP_REFUSAL_CODE = "serverError"  # the 503 refusing the first reconnect in mid-reconnect


class Kind(enum.Enum):
    ATTEMPT = "attempt"
    SESSION = "session"
    IDLE = "idle"


class Severity(enum.Enum):
    FATAL = "fatal"
    TRANSIENT = "transient"
    NONE = "none"


class Moment(enum.Enum):
    BEFORE_HANDSHAKE = "before-handshake"
    MID_UTTERANCE = "mid-utterance"
    BETWEEN_UTTERANCES = "between-utterances"
    MID_RECONNECT = "mid-reconnect"
    DURING_STOP = "during-stop"


Inject = Callable[[FaultScript, int, Trigger], None]  # (script, attempt/connection number, trigger)

MEANINGS: dict[tuple[Kind, Moment], str] = {
    # attempt faults: token refusals, upgrade refusals, handshake errors and silence, slow
    # reading, latency
    (
        Kind.ATTEMPT,
        Moment.BEFORE_HANDSHAKE,
    ): "hits the first connection attempt; A is queued meanwhile",
    (
        Kind.ATTEMPT,
        Moment.MID_UTTERANCE,
    ): "hits the reconnect after the first session dropped in the middle of A",
    (
        Kind.ATTEMPT,
        Moment.BETWEEN_UTTERANCES,
    ): "hits the reconnect after the first session dropped right after A",
    (
        Kind.ATTEMPT,
        Moment.MID_RECONNECT,
    ): "hits the second attempt, the first was refused (503); A waits through both",
    (
        Kind.ATTEMPT,
        Moment.DURING_STOP,
    ): "the test stops as soon as the attempt reached the emulator",
    # session faults: ServerError 4001/4002, TCP drop, close 1011/1000/1001
    (
        Kind.SESSION,
        Moment.BEFORE_HANDSHAKE,
    ): "fires as soon as the first handshake is confirmed; A was queued before",
    (Kind.SESSION, Moment.MID_UTTERANCE): "fires on the first session after 3 audio messages of A",
    (Kind.SESSION, Moment.BETWEEN_UTTERANCES): "fires on the first session at A's end message",
    (
        Kind.SESSION,
        Moment.MID_RECONNECT,
    ): "fires at once on the session a reconnect opened (after a drop after A)",
    (
        Kind.SESSION,
        Moment.DURING_STOP,
    ): "fires on the first audio message; the test stops right after sending it",
    # the idle timeout ("no audio input for N s")
    (
        Kind.IDLE,
        Moment.BEFORE_HANDSHAKE,
    ): "the first session gets no audio and idles out; A follows",
    (
        Kind.IDLE,
        Moment.MID_UTTERANCE,
    ): "the TTS stalls in the middle of A for longer than the idle timeout",
    (Kind.IDLE, Moment.BETWEEN_UTTERANCES): "the pause after A is longer than the idle timeout",
    (
        Kind.IDLE,
        Moment.MID_RECONNECT,
    ): "the session a reconnect opened (after a drop after A) idles out",
    (
        Kind.IDLE,
        Moment.DURING_STOP,
    ): "the test stops right after the idle close, while the avatar is dormant",
}


@dataclass(frozen=True)
class Fault:
    name: str
    kind: Kind
    inject: Inject


@dataclass(frozen=True)
class Expected:
    severity: Severity
    vendor_code: str | None = None  # the SDK code of the error reported (code -1000 or 1000)
    clean_stop_only: bool = False  # during-stop: no hang, no escape, nothing after the stop

    def __str__(self) -> str:
        if self.clean_stop_only:
            return "clean bounded stop"
        if self.severity is Severity.NONE:
            return "no error, nothing lost"
        code = -1000 if self.severity is Severity.FATAL else 1000
        retry = "no retry" if self.severity is Severity.FATAL else "reconnects"
        return f"{self.severity.value} {code} {self.vendor_code}, {retry}"


@dataclass(frozen=True)
class Row:
    fault: Fault
    moment: Moment
    expected: Expected

    @property
    def id(self) -> str:
        return f"{self.fault.name}@{self.moment.value}"

    @property
    def meaning(self) -> str:
        return MEANINGS[(self.fault.kind, self.moment)]

    def __str__(self) -> str:
        return f"{self.id}: the fault {self.meaning}; expected: {self.expected}"


def _token(status: int) -> Inject:
    return lambda faults, n, trigger: faults.refuse_token(status, which=n)


def _upgrade(status: int) -> Inject:
    return lambda faults, n, trigger: faults.refuse_upgrade(status, which=n)


def _handshake(code: int) -> Inject:
    return lambda faults, n, trigger: faults.handshake_error(code, which=n)


def _server_error(code: int) -> Inject:
    return lambda faults, n, trigger: faults.server_error(
        code, after_audio_messages=trigger.after_audio_messages, which=n
    )


def _drop(faults: FaultScript, n: int, trigger: Trigger) -> None:
    faults.drop(after_audio_messages=trigger.after_audio_messages, which=n)


def _close(code: int, reason: str) -> Inject:
    """The server closes the WebSocket with `code`, no ServerError first."""
    return lambda faults, n, trigger: faults.close(
        code, reason, after_audio_messages=trigger.after_audio_messages, which=n
    )


def _latency(faults: FaultScript, n: int, trigger: Trigger) -> None:
    faults.delay_token(ADDED_LATENCY_S, which=n)
    faults.delay_handshake(ADDED_LATENCY_S, which=n)


HANDSHAKE_SILENCE = Fault(
    "handshake-silence", Kind.ATTEMPT, lambda f, n, t: f.handshake_silence(which=n)
)

# fault, and what it must lead to (the same at every moment but during-stop)
FAULTS: list[tuple[Fault, Expected]] = [
    (
        Fault("token-401", Kind.ATTEMPT, _token(401)),
        Expected(Severity.FATAL, "sessionTokenExpired"),
    ),
    (Fault("token-402", Kind.ATTEMPT, _token(402)), Expected(Severity.FATAL, "billingRequired")),
    (Fault("token-404", Kind.ATTEMPT, _token(404)), Expected(Severity.FATAL, "appIDUnrecognized")),
    (
        Fault("upgrade-400-invalid-token", Kind.ATTEMPT, _upgrade(400)),
        Expected(Severity.FATAL, "sessionTokenInvalid"),
    ),
    (
        Fault("upgrade-404-avatar", Kind.ATTEMPT, _upgrade(404)),
        Expected(Severity.FATAL, "avatarNotFound"),
    ),
    (
        Fault("upgrade-500", Kind.ATTEMPT, _upgrade(500)),
        Expected(Severity.TRANSIENT, "serverError"),
    ),
    (Fault("handshake-3", Kind.ATTEMPT, _handshake(3)), Expected(Severity.FATAL, "invalidRequest")),
    (
        Fault("handshake-14", Kind.ATTEMPT, _handshake(14)),
        Expected(Severity.TRANSIENT, "egressUnavailable"),
    ),
    (
        Fault("handshake-16", Kind.ATTEMPT, _handshake(16)),
        Expected(Severity.FATAL, "invalidEgressConfig"),
    ),
    (HANDSHAKE_SILENCE, Expected(Severity.TRANSIENT, "connectionFailed")),
    (
        Fault("server-error-4001", Kind.SESSION, _server_error(4001)),
        Expected(Severity.FATAL, "creditsExhausted"),
    ),
    (
        Fault("server-error-4002", Kind.SESSION, _server_error(4002)),
        Expected(Severity.TRANSIENT, "sessionDurationExceeded"),
    ),
    # The service closing a quiet session is expected: no error, the avatar waits for speech.
    (
        Fault("idle-timeout", Kind.IDLE, lambda f, n, t: f.idle_timeout(IDLE_TIMEOUT_S, which=n)),
        Expected(Severity.NONE),
    ),
    (Fault("tcp-drop", Kind.SESSION, _drop), Expected(Severity.TRANSIENT, "connectionClosed")),
    (
        Fault("close-1011", Kind.SESSION, _close(1011, "internal error")),
        Expected(Severity.TRANSIENT, "connectionClosed"),
    ),
    # A normal closure or "going away" in the middle of a session is a lost connection all the same.
    (
        Fault("close-1000", Kind.SESSION, _close(1000, "")),
        Expected(Severity.TRANSIENT, "connectionClosed"),
    ),
    (
        Fault("close-1001", Kind.SESSION, _close(1001, "going away")),
        Expected(Severity.TRANSIENT, "connectionClosed"),
    ),
    (
        Fault("slow-read", Kind.ATTEMPT, lambda f, n, t: f.slow_read(SLOW_READ_S, which=n)),
        Expected(Severity.NONE),
    ),
    (Fault("added-latency", Kind.ATTEMPT, _latency), Expected(Severity.NONE)),
]

ROWS: list[Row] = [
    Row(
        fault,
        moment,
        Expected(
            expected.severity, expected.vendor_code, clean_stop_only=moment is Moment.DURING_STOP
        ),
    )
    for fault, expected in FAULTS
    for moment in Moment
]


# ----- arranging a row -----


@dataclass(frozen=True)
class Plan:
    target: int  # the attempt (token request / connection) or session number the fault hits
    setup_codes: frozenset[str]  # transient errors the row's own set-up causes
    sessions_before: int  # sessions confirmed before the fault's target


def arrange(row: Row, faults: FaultScript) -> Plan:
    """Script the emulator: the set-up that brings the moment about, and the fault."""
    kind, moment = row.fault.kind, row.moment
    at_once = Trigger()
    if moment is Moment.BEFORE_HANDSHAKE:
        row.fault.inject(faults, 1, at_once)
        return Plan(1, frozenset(), 0)
    if moment is Moment.DURING_STOP:
        row.fault.inject(faults, 1, Trigger(after_audio_messages=1))
        return Plan(1, frozenset(), 0)
    # A is sent as one frame plus its end: exactly two audio messages.
    after_a = Trigger(after_audio_messages=2)
    mid_a = Trigger(after_audio_messages=3)
    if moment is Moment.MID_RECONNECT:
        if kind is Kind.ATTEMPT:
            faults.refuse_upgrade(503, which=1)
            row.fault.inject(faults, 2, at_once)
            return Plan(2, frozenset({SETUP_REFUSAL_CODE}), 0)
        faults.drop(after_audio_messages=2, which=1)
        row.fault.inject(faults, 2, at_once)
        return Plan(2, frozenset({SETUP_DROP_CODE}), 1)
    trigger = mid_a if moment is Moment.MID_UTTERANCE else after_a
    if kind is Kind.ATTEMPT:
        faults.drop(after_audio_messages=trigger.after_audio_messages, which=1)
        row.fault.inject(faults, 2, at_once)
        return Plan(2, frozenset({SETUP_DROP_CODE}), 1)
    row.fault.inject(faults, 1, trigger)
    return Plan(1, frozenset(), 0)


# The fates in which all of A must be accounted for: arrived, or reported lost.
COMPLETE_FATES = (Fate.WHOLE, Fate.WHOLE_ACROSS_SESSIONS, Fate.CONTINUES)


def fate_of_a(row: Row) -> Fate:
    kind, moment, severity = row.fault.kind, row.moment, row.expected.severity
    if moment is Moment.BETWEEN_UTTERANCES or (
        moment is Moment.MID_RECONNECT and kind is not Kind.ATTEMPT
    ):
        return Fate.WHOLE  # A was over before anything went wrong
    if moment in (Moment.BEFORE_HANDSHAKE, Moment.MID_RECONNECT):
        if kind is Kind.IDLE:
            return Fate.WHOLE  # A is sent after the idle session closed
        if severity is Severity.FATAL:
            return Fate.NOTHING
        # A waited for a session; a session that died at once may have swallowed its start.
        return Fate.WHOLE if kind is Kind.ATTEMPT else Fate.CONTINUES
    # mid-utterance
    if kind is Kind.IDLE:
        return (
            Fate.WHOLE_ACROSS_SESSIONS
        )  # the stall: the first half had arrived, the rest continues
    return Fate.CUT if severity is Severity.FATAL else Fate.CONTINUES


# ----- the conversation, as the tester plays it -----


async def send_signal(
    t,
    env,
    marking: Marking,
    signal: Signal,
    turn: int,
    *,
    start: int = 0,
    stop: int | None = None,
    pace: float = 0.0,
    one_frame: bool = False,
) -> None:
    pcm = marking.part(signal, start, signal.samples if stop is None else stop)
    metadata = {"turn_id": turn}
    if one_frame:
        await t.frames(env, pcm, RATE, metadata=metadata, sizes=[len(pcm)])
    else:
        await t.frames(
            env, pcm, RATE, metadata=metadata, frame_ms=FRAME_SAMPLES * 1000 / RATE, pace=pace
        )


async def tts_start(t, env, request_id: str, turn: int) -> None:
    await t.data(env, "tts_audio_start", {"request_id": request_id, "metadata": {"turn_id": turn}})


async def tts_end(t, env, request_id: str, turn: int, reason: int = 1) -> None:
    await t.data(
        env,
        "tts_audio_end",
        {"request_id": request_id, "reason": reason, "metadata": {"turn_id": turn}},
    )


def vendor_codes(tester) -> list[str]:
    return [e.get("vendor_info", {}).get("code") for e in tester.received.errors]


def make_script(row: Row, plan: Plan, emulator, marking: Marking):
    kind, moment, expected = row.fault.kind, row.moment, row.expected
    fatal = expected.severity is Severity.FATAL

    def sessions() -> int:
        return len(emulator.recording.sessions)

    async def first_session(t) -> None:
        # Ready in the extension too: audio sent on the emulator's word alone may wait in the
        # extension's buffer (and a flush drop it there, unsent: no fault would fire).
        await t.until(lambda: sessions() >= 1 and t.extension_ready(), what="the first session")

    def idle_closes() -> int:
        return sum(
            1
            for c in emulator.recording.connections
            if c.closed and any(e.message.startswith("no audio input") for e in c.errors_sent)
        )

    async def idle_error(t) -> None:
        await t.until(lambda: idle_closes() >= 1, what="the idle close")

    async def send_a_in_parts(t, env) -> None:
        """A, paced, in parts that each reach the first session (or find it gone) before the
        next is sent: A spans at least A_PARTS audio messages there, so the fault that fires
        on the third lands in the middle of A. Paced alone, a loaded machine can batch all of
        A into two messages, the third being its end."""
        first = emulator.recording.sessions[0]
        for k in range(A_PARTS):
            await send_signal(
                t,
                env,
                marking,
                A,
                1,
                start=k * A.samples // A_PARTS,
                stop=(k + 1) * A.samples // A_PARTS,
                pace=4.0,
            )
            if k < A_PARTS - 1:
                await t.until(
                    lambda k=k: first.audio_messages > k or first.closed, what=f"part {k + 1} of A"
                )

    async def utterance_a(t, env) -> None:
        await tts_start(t, env, "rA", 1)
        if moment is Moment.BEFORE_HANDSHAKE or (
            moment is Moment.MID_RECONNECT and kind is Kind.ATTEMPT
        ):
            if kind is Kind.IDLE:
                await idle_error(t)
            await send_signal(t, env, marking, A, 1)  # queued: no session is ready yet
        elif moment is Moment.MID_UTTERANCE:
            await first_session(t)
            if kind is Kind.IDLE:
                await send_signal(t, env, marking, A, 1, stop=A.samples // 2)
                await idle_error(t)  # the TTS stalls longer than the idle timeout
                await send_signal(t, env, marking, A, 1, start=A.samples // 2)
            else:
                await send_a_in_parts(t, env)
        else:
            await first_session(t)
            await send_signal(t, env, marking, A, 1, one_frame=True)
        await tts_end(t, env, "rA", 1)
        if moment is Moment.BETWEEN_UTTERANCES or (
            moment is Moment.MID_RECONNECT and kind is not Kind.ATTEMPT
        ):
            await t.until(lambda: ended_whole(emulator, A, marking), what="A to end")
            if kind is Kind.IDLE and moment is Moment.BETWEEN_UTTERANCES:
                await idle_error(t)
            if kind is Kind.IDLE and moment is Moment.MID_RECONNECT:
                await t.until(lambda: sessions() >= 2, what="the reconnected session")
                await idle_error(t)

    async def recovery(t) -> None:
        if fatal:
            await t.until(
                lambda: any(e["code"] == -1000 for e in t.received.errors), what="the fatal error"
            )
            if plan.target == 1:
                # What is asserted is an absence over time (no retry): this is the one wait.
                await asyncio.sleep(NO_RETRY_WINDOW_S)
            return
        if expected.vendor_code:
            await t.until(
                lambda: expected.vendor_code in vendor_codes(t),
                what=f"the {expected.vendor_code} error",
            )
        if kind is Kind.IDLE:
            return  # dormant: the next speech (B's start) opens the next session
        recovered = plan.sessions_before + 1 if kind is Kind.ATTEMPT else plan.target + 1
        await t.until(lambda: sessions() >= recovered, timeout=15, what=f"session {recovered}")

    async def barge_in_then_next(t, env) -> None:
        await tts_start(t, env, "rB", 2)
        await send_signal(t, env, marking, B_EARLY, 2)
        if not fatal:
            await t.until(lambda: reached(emulator, B_EARLY, marking), what="B's first audio")
        assert await t.cmd(env, "flush") == StatusCode.OK
        await send_signal(t, env, marking, B_LATE, 2)  # the TTS had not stopped yet
        await tts_start(t, env, "rC", 3)
        await send_signal(t, env, marking, C, 3)
        await tts_end(t, env, "rC", 3)
        if not fatal:
            # Audio goes out in order: once C is in, stale B audio had every chance to leak.
            await t.until(lambda: ended_whole(emulator, C, marking), what="C to arrive whole")
        await tts_end(t, env, "rB", 2, reason=2)  # B's end comes late, after the next turn
        assert await t.cmd(env, "on_user_joined") == StatusCode.OK  # still serving

    async def conversation(t, env) -> None:
        await utterance_a(t, env)
        await recovery(t)
        await barge_in_then_next(t, env)

    def attempt_reached() -> bool:
        recording = emulator.recording
        if row.fault.name.startswith("token-"):
            return bool(recording.token_requests)  # recorded as the refusal is answered
        return bool(recording.connections)

    async def stop_in_the_middle(t, env) -> None:
        await tts_start(t, env, "rA", 1)
        if kind is Kind.IDLE:
            await idle_error(t)
        elif kind is Kind.SESSION or row.fault.name == "slow-read":
            await first_session(t)
            await send_signal(
                t, env, marking, A, 1
            )  # a fault on the first message, or a backlog, at the stop
        else:
            await send_signal(t, env, marking, A, 1, stop=A.samples // 4)
            await t.until(attempt_reached, what="the attempt to reach the emulator")
        assert await t.cmd(env, "flush") == StatusCode.OK
        # returning stops the test now, with the fault in progress

    return stop_in_the_middle if moment is Moment.DURING_STOP else conversation


# ----- the table -----

CASES = [(marking, row) for marking in MARKINGS for row in ROWS]


@pytest.mark.parametrize(
    "marking, row", CASES, ids=[f"{marking.id}-{row.id}" for marking, row in CASES]
)
def test_fault_matrix(marking: Marking, row: Row, emulator, request, monkeypatch):
    if row.fault is HANDSHAKE_SILENCE:
        monkeypatch.setattr(
            spatius.avatar_session, "HANDSHAKE_TIMEOUT_S", SILENT_HANDSHAKE_GIVE_UP_S
        )
    props = request.getfixturevalue(marking.props_fixture)
    assert props["params"]["audio_format"] == marking.audio_format
    plan = arrange(row, emulator.faults)
    scripted = len(emulator.faults.pending)

    try:
        started = time.monotonic()
        # raises if anything escaped
        tester = run_scenario(props, make_script(row, plan, emulator, marking), TimedScenario)
        assert isinstance(tester, TimedScenario)
        took = time.monotonic() - started
        AUDIT.count("faults_injected", scripted - len(emulator.faults.pending))
        check_row(row, plan, tester, emulator, took, marking)
    except AssertionError as failure:
        raise AssertionError(f"{marking.audio_format} {row}\n{failure}") from None


def check_row(
    row: Row, plan: Plan, tester: TimedScenario, emulator, took: float, marking: Marking
) -> None:
    record = last_run_record()
    problems: list[str] = []
    if record is not None:
        problems += [f"the guard caught: {m}" for m in guard_catches(record)]
        problems += [
            f"cmd {c.name} left unanswered by the extension" for c in record.unanswered_cmds()
        ]
    for payload in tester.received.errors:
        problems += error_payload_problems(payload)
    problems += foreign_mixes(emulator, ALL_SIGNALS, marking)
    problems += loss_problems(
        tester, turns={TURN_OF[A]}
    )  # only A can be in flight when a session dies
    for connection in emulator.recording.connections:
        for request in connection.requests:
            if request.messages_after_end:
                problems.append(f"audio after the end of request {request.req_id}")

    if row.expected.clean_stop_only:
        assert took < STOP_BOUND_S, f"stopping took {took:.1f} s"
        closed = emulator.wait_for(
            lambda: all(c.closed for c in emulator.recording.connections) or None, 10
        )
        assert closed, "a connection outlived the extension"
        # Nothing new starts once the stop began: at most the attempt in flight and one retry.
        assert len(emulator.recording.token_requests) <= 2
        problems += check_fate(emulator, A, Fate.ANY_ORDERED, marking)
        if record is not None:
            assert any(m.startswith("stopped:") for _, m in extension_logs(record)), (
                "on_stop did not finish"
            )
        assert not problems, "\n".join(problems)
        return

    expected = row.expected
    errors = tester.received.errors
    codes = vendor_codes(tester)
    fatal_errors = [e for e in errors if e["code"] == -1000]
    if expected.severity is Severity.FATAL:
        assert [e["vendor_info"]["code"] for e in fatal_errors] == [expected.vendor_code], errors
        assert set(codes) - {expected.vendor_code} <= plan.setup_codes, codes
        # No retry: exactly the attempts up to the fatal one, and the extension said it gave up.
        assert len(emulator.recording.token_requests) == plan.target
        if record is not None:
            assert any("giving up on Spatius" in m for _, m in extension_logs(record))
    else:
        assert not fatal_errors, errors
        if expected.severity is Severity.TRANSIENT:
            assert expected.vendor_code in codes, codes
        assert set(codes) <= plan.setup_codes | {expected.vendor_code} - {None}, codes

    if row.moment is Moment.MID_UTTERANCE and row.fault.kind is not Kind.IDLE:
        cut = [p for p in pieces_of(emulator, A, marking) if p.connection == 1]
        assert cut and not cut[0].request.ended, (
            "the first session did not break in the middle of A"
        )
    fate = fate_of_a(row)
    problems += check_fate(emulator, A, fate, marking)
    problems += check_fate(emulator, B_LATE, Fate.NOTHING, marking)
    if expected.severity is Severity.FATAL:
        problems += check_fate(emulator, B_EARLY, Fate.NOTHING, marking)
        problems += check_fate(emulator, C, Fate.NOTHING, marking)
    else:
        problems += check_fate(emulator, B_EARLY, Fate.CUT, marking)
        problems += check_fate(emulator, C, Fate.WHOLE, marking)
        if not all(
            piece.request.interrupt is not None for piece in pieces_of(emulator, B_EARLY, marking)
        ):
            problems.append("the barge-in did not interrupt B's request")
        # Completeness from below: what A and C did not deliver, the extension reported lost.
        if fate in COMPLETE_FATES:
            problems += completeness_problems(emulator, tester, A, TURN_OF[A], marking)
        problems += completeness_problems(emulator, tester, C, TURN_OF[C], marking)
    if row.moment is Moment.MID_UTTERANCE:
        AUDIT.count("mid_utterance_rows")
        AUDIT.count("mid_utterance_lost_s", sum(r.seconds for r in loss_reports(tester)))
    assert not problems, "\n".join(problems)
