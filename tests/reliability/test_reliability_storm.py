"""A flush storm (with Ogg Opus, the default format, and with PCM), and a stop in the
middle of everything (PCM).

PCM: every frame the tester sends is 10 ms of one constant sample value that no other
frame has (a `FrameLedger` keeps which value went with which turn, and whether the turn
had been flushed when the frame was sent). What the emulator received then says exactly
which frames reached Spatius, in which order and how often: frames sent after their
turn's flush must never arrive, no frame may arrive twice or out of order, and a turn
that was never flushed must arrive whole.

Ogg Opus is lossy, so values cannot mark frames (`ToneLedger`): each turn's frames are one
pure tone, and the frames a turn sends after its flush another tone, none shared with
another turn. The decoded audio of each Spatius request, in 10 ms windows, then says which
turn it is and whether stale audio is in it (tone identity), and its exact sample count
bounds it by what the turn sent before its flush (duration): no stale tone, one turn per
request, at most one request per turn starting at the turn's start, never more samples
than the turn sent before its flush, and a turn never flushed whole in one ended request.
For both formats, no audio of a request arrives after the emulator got its interrupt
(timing).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from scenario_kit import AvatarScenario
from ten_runtime import Cmd, StatusCode

from tests.reliability.reliability_kit import (
    RATE,
    Signal,
    ToneMarking,
    extension_logs,
    guard_catches,
    last_run_record,
)
from tests.reliability.suite_audit import AUDIT

FRAME_SAMPLES = RATE // 100  # 10 ms
FIRST_VALUE = -30000
MAX_FRAMES = 32767 - FIRST_VALUE  # every frame keeps a value of its own
STOP_BOUND_S = 20.0  # generous: only against hangs


@dataclass
class SentFrame:
    value: int  # PCM: the frame's one sample value; Ogg Opus: its number in its tone
    turn: int
    stale: bool  # its turn had been flushed (and the flush answered) before it was sent


@dataclass
class FrameLedger:
    """PCM: every frame one constant value of its own."""

    frames: list[SentFrame] = field(default_factory=list)
    flushed_turns: set[int] = field(default_factory=set)
    ended_turns: set[int] = field(default_factory=set)

    def next_frame(self, turn: int) -> tuple[bytes, dict[str, Any]]:
        value = FIRST_VALUE + len(self.frames)
        self.frames.append(SentFrame(value, turn, turn in self.flushed_turns))
        return np.full(FRAME_SAMPLES, value, dtype="<i2").tobytes(), {"turn_id": turn}

    def by_value(self) -> dict[int, SentFrame]:
        return {frame.value: frame for frame in self.frames}

    def problems(self, emulator: Any, *, whole_turns: set[int], prefixes: bool) -> list[str]:
        return ledger_problems(emulator, self, whole_turns=whole_turns, prefixes=prefixes)

    def reached(self, emulator: Any, turn: int) -> bool:
        known = self.by_value()
        return any(known[r.value].turn == turn for r in received_frames(emulator, self))

    def last_frame_ended(self, emulator: Any, turn: int) -> bool:
        last = [f.value for f in self.frames if f.turn == turn][-1]
        return any(r.value == last and r.request.ended for r in received_frames(emulator, self))


# The storm's Ogg Opus tones: per turn one before its flush and one after (stale), 200 Hz
# apart, each a whole number of cycles in a 10 ms window (multiples of 100 Hz).
TONE_WINDOW = FRAME_SAMPLES  # 10 ms
TONE_STEP_HZ = 200.0
MAX_TONE_TURNS = 12
MAX_TONE_FRAMES = 100  # per turn and tone


@dataclass
class ToneLedger(FrameLedger):
    """Ogg Opus: every frame 10 ms of its turn's tone, or of the turn's stale tone once the
    turn was flushed."""

    tones: dict[tuple[int, bool], Signal] = field(default_factory=dict)  # (turn, stale) -> its tone
    marking: ToneMarking = field(init=False)  # built by __post_init__ from the tones

    def __post_init__(self) -> None:
        longest = MAX_TONE_FRAMES * FRAME_SAMPLES
        for turn in range(1, MAX_TONE_TURNS + 1):
            for stale in (False, True):
                self.tones[(turn, stale)] = Signal(
                    f"turn {turn}" + (" after its flush" if stale else ""), -32768, longest
                )
        # One segment per tone: the frames of a turn are one tone, whatever their number.
        self.marking = ToneMarking(
            self.tones.values(),
            segment=longest,
            window=TONE_WINDOW,
            first_hz=400.0,
            step_hz=TONE_STEP_HZ,
        )
        self._turn_of = {signal: key for key, signal in self.tones.items()}

    def next_frame(self, turn: int) -> tuple[bytes, dict[str, Any]]:
        stale = turn in self.flushed_turns
        number = sum(1 for f in self.frames if f.turn == turn and f.stale == stale)
        self.frames.append(SentFrame(number, turn, stale))
        pcm = self.marking.part(
            self.tones[(turn, stale)], number * FRAME_SAMPLES, (number + 1) * FRAME_SAMPLES
        )
        return pcm, {"turn_id": turn}

    def pieces(self, emulator: Any) -> list[tuple[Any, dict[Signal, Any]]]:
        return [
            (request, self.marking.request_pieces(connection.index, request, self.tones.values()))
            for connection in emulator.recording.connections
            for request in connection.requests
        ]

    def reached(self, emulator: Any, turn: int) -> bool:
        return any(self.tones[(turn, False)] in found for _, found in self.pieces(emulator))

    def last_frame_ended(self, emulator: Any, turn: int) -> bool:
        sent = sum(1 for f in self.frames if f.turn == turn and not f.stale) * FRAME_SAMPLES
        whole = self.tones[(turn, False)]
        return any(
            request.ended and whole in found and found[whole].count == sent
            for request, found in self.pieces(emulator)
        )

    def problems(self, emulator: Any, *, whole_turns: set[int], prefixes: bool) -> list[str]:
        problems: list[str] = []
        per_turn: dict[int, list[Any]] = {}
        stale_bytes = 0
        for request, found in self.pieces(emulator):
            if len(found) > 1:
                problems.append(f"request {request.req_id} mixes {[s.name for s in found]}")
            stray = self.marking.unidentified(request, self.tones.values())
            if stray:
                problems.append(
                    f"request {request.req_id} carries {stray} samples of no turn's tone"
                )
            for signal, piece in found.items():
                turn, stale = self._turn_of[signal]
                if stale:
                    stale_bytes += piece.count * 2
                    problems.append(
                        f"{piece.count} samples of turn {turn} sent after its flush "
                        f"reached Spatius (request {request.req_id})"
                    )
                else:
                    per_turn.setdefault(turn, []).append(piece)
        AUDIT.count("stale_audio_bytes", stale_bytes)
        lost = 0
        for turn in sorted({f.turn for f in self.frames}):
            sent = sum(1 for f in self.frames if f.turn == turn and not f.stale) * FRAME_SAMPLES
            pieces = per_turn.get(turn, [])
            received = sum(p.count for p in pieces)
            if received > sent:
                AUDIT.count("stale_audio_bytes", (received - sent) * 2)
                problems.append(
                    f"turn {turn}: {received} samples reached Spatius, "
                    f"it sent {sent} before its flush"
                )
            if prefixes and (
                len(pieces) > 1 or any(not p.may_start_at(0) or not p.contiguous for p in pieces)
            ):
                problems.append(
                    f"turn {turn}: what arrived is not the start of the turn in one request"
                )
            if turn in whole_turns:
                lost += max(0, sent - received) * 2
                if len(pieces) != 1 or received != sent or not pieces[0].request.ended:
                    problems.append(
                        f"turn {turn} did not arrive whole in one ended request: "
                        f"{sent - received} of {sent} samples missing, {len(pieces)} request(s)"
                    )
        AUDIT.count("lost_audio_bytes", lost)
        return problems


def audio_after_interrupt(emulator: Any) -> list[str]:
    """Requests that got audio after the emulator got their interrupt (each connection
    is read in order, so that audio was sent after the interrupt)."""
    problems = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            if request.interrupt is None:
                continue
            late = [c for c in request.chunks if c.nbytes and c.arrived_at > request.interrupt.at]
            if late:
                problems.append(
                    f"request {request.req_id}: {len(late)} audio message(s) after its interrupt"
                )
    return problems


@dataclass
class ReceivedFrame:
    value: int
    samples: int
    request: Any


def received_frames(emulator: Any, ledger: FrameLedger) -> list[ReceivedFrame]:
    """Runs of equal samples in every request, in arrival order, keeping the ledger's values."""
    known = ledger.by_value()
    runs = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            samples = request.pcm().astype(np.int32)
            if not len(samples):
                continue
            edges = np.flatnonzero(np.diff(samples)) + 1
            for chunk in np.split(samples, edges):
                if int(chunk[0]) in known:
                    runs.append(ReceivedFrame(int(chunk[0]), len(chunk), request))
    return runs


def ledger_problems(
    emulator: Any, ledger: FrameLedger, *, whole_turns: set[int], prefixes: bool
) -> list[str]:
    """Stale, duplicated, partial or reordered frames; with `prefixes`, a turn that lost
    audio lost its tail only (a flush drops everything not yet sent, in order); turns in
    `whole_turns` (no flush came after them) must arrive whole, in one ended request."""
    known = ledger.by_value()
    problems: list[str] = []
    received = received_frames(emulator, ledger)
    seen: dict[int, ReceivedFrame] = {}
    stale_bytes = 0
    for frame in received:
        sent = known[frame.value]
        if sent.stale:
            stale_bytes += frame.samples * 2
            problems.append(
                f"frame {frame.value} of turn {sent.turn} was sent after its flush "
                "yet reached Spatius"
            )
        if frame.value in seen:
            stale_bytes += frame.samples * 2
            problems.append(f"frame {frame.value} reached Spatius twice")
        if frame.samples != FRAME_SAMPLES:
            problems.append(
                f"frame {frame.value} arrived with {frame.samples} of {FRAME_SAMPLES} samples"
            )
        seen[frame.value] = frame
    for before, after in itertools.pairwise(received):
        if after.request is before.request and after.value <= before.value:
            problems.append(f"frames {before.value} and {after.value} arrived out of order")
    AUDIT.count("stale_audio_bytes", stale_bytes)
    lost = 0
    for turn in sorted({f.turn for f in ledger.frames}):
        values = [f.value for f in ledger.frames if f.turn == turn]
        arrived = [v for v in values if v in seen]
        requests = {id(seen[v].request): seen[v].request for v in arrived}
        if prefixes and (arrived != values[: len(arrived)] or len(requests) > 1):
            problems.append(
                f"turn {turn}: what arrived is not the start of the turn in one request"
            )
        if turn in whole_turns:
            lost += (len(values) - len(arrived)) * FRAME_SAMPLES * 2
            if (
                len(arrived) != len(values)
                or len(requests) != 1
                or not next(iter(requests.values())).ended
            ):
                problems.append(
                    f"turn {turn} did not arrive whole in one ended request: "
                    f"{len(values) - len(arrived)} frame(s) missing, {len(requests)} request(s)"
                )
    AUDIT.count("lost_audio_bytes", lost)
    return problems


class StormScenario(AvatarScenario):
    """An AvatarScenario that may hold the flushes the extension passes on (never answers
    them), so that those sends are still in flight when the test stops."""

    def __init__(self, script: Any, *, hold_passed_on_flushes: bool = False) -> None:
        super().__init__(script)
        self.hold = hold_passed_on_flushes
        self.held: list[Cmd] = []
        self.background: list[asyncio.Task] = []

    async def on_cmd(self, ten_env: Any, cmd: Cmd) -> None:
        if not self.hold:
            await super().on_cmd(ten_env, cmd)
            return
        self.received.cmds.append(cmd.get_name())
        self.held.append(cmd)  # answered by the runtime (ERROR) when the graph stops

    async def on_stop(self, ten_env: Any) -> None:
        # Let the test's own senders see their last answers (the runtime answers every
        # cmd still open before it stops the tester).
        if self.background:
            await asyncio.wait(self.background, timeout=5.0)


def run_storm(props: dict[str, Any], script: Any, **options: Any) -> StormScenario:
    tester = StormScenario(script, **options)
    tester.set_test_mode_single("spatius_avatar_python", json.dumps(props))
    err = tester.run()
    assert tester.failure is None, tester.failure
    assert err is None, err.error_message()
    return tester


# ----- the flush storm -----

TURNS = 12
FRAMES_PER_TURN = 40
FLUSH_POINTS = {
    10: 1,
    20: 30,
    30: 10,
}  # after frame n of a stormed turn: a burst of this many flushes


STORM_FORMATS = {
    "opus": ("opus_props", ToneLedger),
    "pcm": ("pcm_props", FrameLedger),
}  # Ogg Opus, the default, first


@pytest.mark.parametrize("audio_format", list(STORM_FORMATS))
def test_flush_storm_answers_every_flush_and_lets_no_stale_audio_through(
    emulator, request, audio_format
):
    props_fixture, ledger_class = STORM_FORMATS[audio_format]
    props = request.getfixturevalue(props_fixture)
    ledger = ledger_class()
    rng = random.Random(20261125)
    statuses: list[StatusCode] = []
    stormed = {turn for turn in range(1, TURNS + 1) if turn % 3}
    # A flush drops every frame not yet sent, earlier finished turns' too: only a turn no
    # flush came after is sure to arrive whole. Turns 3, 6 and 9 have no flush of their own.
    whole = {TURNS}

    async def flush_burst(t, env, count: int) -> None:
        statuses.extend(await asyncio.gather(*(t.cmd(env, "flush") for _ in range(count))))

    async def script(t, env) -> None:
        await t.until(lambda: emulator.recording.sessions, what="the session")
        for turn in range(1, TURNS + 1):
            request_id = f"r{turn}"
            if rng.random() < 0.8:
                await t.data(
                    env,
                    "tts_audio_start",
                    {"request_id": request_id, "metadata": {"turn_id": turn}},
                )
            for index in range(FRAMES_PER_TURN):
                pcm, metadata = ledger.next_frame(turn)
                await t.frames(env, pcm, RATE, metadata=metadata, sizes=[len(pcm)])
                burst = FLUSH_POINTS.get(index + 1) if turn in stormed else None
                if burst and index + 1 == min(FLUSH_POINTS):
                    # The first burst of a turn hits a request that is playing (the later
                    # ones come blind): audio reached Spatius first.
                    await t.until(
                        lambda turn=turn: ledger.reached(emulator, turn),
                        what=f"turn {turn}'s first audio",
                    )
                if burst:
                    await flush_burst(t, env, burst)
                    ledger.flushed_turns.add(turn)
                    if rng.random() < 0.3:  # the TTS reports its own cut at once
                        await t.data(
                            env,
                            "tts_audio_end",
                            {"request_id": request_id, "reason": 2, "metadata": {"turn_id": turn}},
                        )
            ending = rng.choice(["end", "finalize", "none"]) if turn != TURNS else "end"
            if ending == "end":  # for a stormed turn: a late end, harmless
                await t.data(
                    env,
                    "tts_audio_end",
                    {"request_id": request_id, "reason": 1, "metadata": {"turn_id": turn}},
                )
            elif ending == "finalize":
                await t.data(env, "finalize", {"metadata": {"turn_id": turn}})
            # "none": the next turn's first frame or start ends it
        await t.until(lambda: ledger.last_frame_ended(emulator, TURNS), what="the last turn to end")

    tester = run_storm(props, script)
    assert len(statuses) == len(stormed) * sum(FLUSH_POINTS.values()) >= 300
    assert all(status == StatusCode.OK for status in statuses)
    problems = ledger.problems(emulator, whole_turns=whole, prefixes=True)
    problems += audio_after_interrupt(emulator)
    interrupted = sum(
        1 for c in emulator.recording.connections for r in c.requests if r.interrupt is not None
    )
    assert interrupted >= len(stormed), f"only {interrupted} requests were interrupted"
    record = last_run_record()
    if record is not None:
        problems += [f"the guard caught: {m}" for m in guard_catches(record)]
    assert not problems, "\n".join(problems[:20])
    assert tester.received.cmds.count("flush") == len(statuses)  # each passed on once


# ----- the stop in the middle of everything -----


def test_stop_in_the_middle_of_frames_flushes_a_reconnect_and_sends(emulator, pcm_props):
    emulator.faults.slow_read(0.02, which=1)  # the session reads slowly: sends queue up
    emulator.faults.drop(after_audio_messages=5, which=1)
    emulator.faults.delay_handshake(2.0, which=2)  # the reconnect is still in flight at the stop
    ledger = FrameLedger()
    flushes_sent = 0
    flush_results: list[StatusCode | None] = []
    keep_going = True

    async def send_frames(t, env) -> None:
        turn = 0
        while keep_going:
            turn += 1
            await t.data(
                env, "tts_audio_start", {"request_id": f"s{turn}", "metadata": {"turn_id": turn}}
            )
            for index in range(25):
                if not keep_going or len(ledger.frames) >= MAX_FRAMES:
                    return
                pcm, metadata = ledger.next_frame(turn)
                await t.frames(env, pcm, RATE, metadata=metadata, sizes=[len(pcm)])
                if index % 5 == 4:  # a cmd round trip now and then paces the stream
                    assert await t.cmd(env, "on_user_joined") in (StatusCode.OK, StatusCode.ERROR)
            await t.data(
                env,
                "tts_audio_end",
                {"request_id": f"s{turn}", "reason": 1, "metadata": {"turn_id": turn}},
            )

    async def send_flushes(t, env) -> None:
        nonlocal flushes_sent
        while keep_going:
            flushes_sent += 1
            turn = ledger.frames[-1].turn if ledger.frames else 0
            result, _ = await env.send_cmd(Cmd.create("flush"))  # an error: result None
            flush_results.append(result.get_status_code() if result is not None else None)
            if result is not None and result.get_status_code() == StatusCode.OK:
                ledger.flushed_turns.add(turn)

    async def script(t, env) -> None:
        nonlocal keep_going
        await t.until(lambda: emulator.recording.sessions, what="the session")
        t.background += [
            asyncio.create_task(send_frames(t, env)),
            asyncio.create_task(send_flushes(t, env)),
        ]
        await t.until(
            lambda: len(emulator.recording.connections) >= 2,
            timeout=20,
            what="the reconnect attempt",
        )
        await t.until(
            lambda: t.held and len(flush_results) >= 10, what="flushes answered and passed on"
        )
        keep_going = False  # no new sends; the ones in flight stay in flight
        # returning stops the test now

    started = time.monotonic()
    run_storm(pcm_props, script, hold_passed_on_flushes=True)
    took = time.monotonic() - started
    AUDIT.count("faults_injected", 3 - len(emulator.faults.pending))

    assert took < STOP_BOUND_S, f"the run took {took:.1f} s"
    assert len(flush_results) == flushes_sent, "a flush the tester sent was never answered"
    assert flush_results.count(StatusCode.OK) >= 10
    assert all(status in (StatusCode.OK, StatusCode.ERROR) for status in flush_results)
    closed = emulator.wait_for(
        lambda: all(c.closed for c in emulator.recording.connections) or None, 10
    )
    assert closed, "a connection outlived the extension"
    # A dropped connection may swallow the middle of a turn (the README's rule): no prefixes.
    problems = ledger_problems(emulator, ledger, whole_turns=set(), prefixes=False)
    record = last_run_record()
    if record is not None:
        problems += [f"the guard caught: {m}" for m in guard_catches(record)]
        node = "spatius_avatar_python"
        flushes_in = [m for m in record.messages_of(node, "in", "cmd") if m.name == "flush"]
        answered = record.messages_of(node, "out", "cmd_result")
        assert len(answered) >= len(flushes_in), "the extension left a flush it received unanswered"
        assert any(m.startswith("stopped:") for _, m in extension_logs(record)), (
            "on_stop did not finish"
        )
    assert not problems, "\n".join(problems[:20])
