"""A flush storm, and a stop in the middle of everything.

Every frame the tester sends is 10 ms of one constant sample value that no other frame
has (a `FrameLedger` keeps which value went with which turn, and whether the turn had
been flushed when the frame was sent). What the emulator received then says exactly
which frames reached Spatius, in which order and how often: frames sent after their
turn's flush must never arrive, no frame may arrive twice or out of order, and a turn
that was never flushed must arrive whole.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scenario_kit import AvatarScenario
from ten_runtime import Cmd, StatusCode

from tests.reliability.reliability_kit import RATE, extension_logs, guard_catches, last_run_record
from tests.reliability.suite_audit import AUDIT

FRAME_SAMPLES = RATE // 100  # 10 ms
FIRST_VALUE = -30000
MAX_FRAMES = 32767 - FIRST_VALUE  # every frame keeps a value of its own
STOP_BOUND_S = 20.0  # generous: only against hangs


@dataclass
class SentFrame:
    value: int
    turn: int
    stale: bool  # its turn had been flushed (and the flush answered) before it was sent


@dataclass
class FrameLedger:
    frames: list[SentFrame] = field(default_factory=list)
    flushed_turns: set[int] = field(default_factory=set)
    ended_turns: set[int] = field(default_factory=set)

    def next_frame(self, turn: int) -> tuple[bytes, dict[str, Any]]:
        value = FIRST_VALUE + len(self.frames)
        self.frames.append(SentFrame(value, turn, turn in self.flushed_turns))
        return np.full(FRAME_SAMPLES, value, dtype="<i2").tobytes(), {"turn_id": turn}

    def by_value(self) -> dict[int, SentFrame]:
        return {frame.value: frame for frame in self.frames}


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


def ledger_problems(emulator: Any, ledger: FrameLedger, *, whole_turns: set[int], prefixes: bool) -> list[str]:
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
            problems.append(f"frame {frame.value} of turn {sent.turn} was sent after its flush yet reached Spatius")
        if frame.value in seen:
            stale_bytes += frame.samples * 2
            problems.append(f"frame {frame.value} reached Spatius twice")
        if frame.samples != FRAME_SAMPLES:
            problems.append(f"frame {frame.value} arrived with {frame.samples} of {FRAME_SAMPLES} samples")
        seen[frame.value] = frame
    for before, after in zip(received, received[1:]):
        if after.request is before.request and after.value <= before.value:
            problems.append(f"frames {before.value} and {after.value} arrived out of order")
    AUDIT.count("stale_audio_bytes", stale_bytes)
    lost = 0
    for turn in sorted({f.turn for f in ledger.frames}):
        values = [f.value for f in ledger.frames if f.turn == turn]
        arrived = [v for v in values if v in seen]
        requests = {id(seen[v].request): seen[v].request for v in arrived}
        if prefixes and (arrived != values[: len(arrived)] or len(requests) > 1):
            problems.append(f"turn {turn}: what arrived is not the start of the turn in one request")
        if turn in whole_turns:
            lost += (len(values) - len(arrived)) * FRAME_SAMPLES * 2
            if len(arrived) != len(values) or len(requests) != 1 or not next(iter(requests.values())).ended:
                problems.append(f"turn {turn} did not arrive whole in one ended request: "
                                f"{len(values) - len(arrived)} frame(s) missing, {len(requests)} request(s)")
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
FLUSH_POINTS = {10: 1, 20: 30, 30: 10}  # after frame n of a stormed turn: a burst of this many flushes


def test_flush_storm_answers_every_flush_and_lets_no_stale_audio_through(emulator, pcm_props):
    ledger = FrameLedger()
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
                await t.data(env, "tts_audio_start", {"request_id": request_id, "metadata": {"turn_id": turn}})
            for index in range(FRAMES_PER_TURN):
                pcm, metadata = ledger.next_frame(turn)
                await t.frames(env, pcm, RATE, metadata=metadata, sizes=[len(pcm)])
                burst = FLUSH_POINTS.get(index + 1) if turn in stormed else None
                if burst:
                    await flush_burst(t, env, burst)
                    ledger.flushed_turns.add(turn)
                    if rng.random() < 0.3:  # the TTS reports its own cut at once
                        await t.data(env, "tts_audio_end", {"request_id": request_id, "reason": 2,
                                                            "metadata": {"turn_id": turn}})
            ending = rng.choice(["end", "finalize", "none"]) if turn != TURNS else "end"
            if ending == "end":  # for a stormed turn: a late end, harmless
                await t.data(env, "tts_audio_end", {"request_id": request_id, "reason": 1, "metadata": {"turn_id": turn}})
            elif ending == "finalize":
                await t.data(env, "finalize", {"metadata": {"turn_id": turn}})
            # "none": the next turn's first frame or start ends it
        last = [f.value for f in ledger.frames if f.turn == TURNS]
        await t.until(lambda: any(r.value == last[-1] and r.request.ended
                                  for r in received_frames(emulator, ledger)), what="the last turn to end")

    tester = run_storm(pcm_props, script)
    assert len(statuses) == len(stormed) * sum(FLUSH_POINTS.values()) >= 300
    assert all(status == StatusCode.OK for status in statuses)
    problems = ledger_problems(emulator, ledger, whole_turns=whole, prefixes=True)
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
            await t.data(env, "tts_audio_start", {"request_id": f"s{turn}", "metadata": {"turn_id": turn}})
            for index in range(25):
                if not keep_going or len(ledger.frames) >= MAX_FRAMES:
                    return
                pcm, metadata = ledger.next_frame(turn)
                await t.frames(env, pcm, RATE, metadata=metadata, sizes=[len(pcm)])
                if index % 5 == 4:  # a cmd round trip now and then paces the stream
                    assert await t.cmd(env, "on_user_joined") in (StatusCode.OK, StatusCode.ERROR)
            await t.data(env, "tts_audio_end", {"request_id": f"s{turn}", "reason": 1, "metadata": {"turn_id": turn}})

    async def send_flushes(t, env) -> None:
        nonlocal flushes_sent
        while keep_going:
            flushes_sent += 1
            turn = ledger.frames[-1].turn if ledger.frames else 0
            result, err = await env.send_cmd(Cmd.create("flush"))
            flush_results.append(result.get_status_code() if result is not None else None)
            if result is not None and result.get_status_code() == StatusCode.OK:
                ledger.flushed_turns.add(turn)

    async def script(t, env) -> None:
        nonlocal keep_going
        await t.until(lambda: emulator.recording.sessions, what="the session")
        t.background += [asyncio.create_task(send_frames(t, env)), asyncio.create_task(send_flushes(t, env))]
        await t.until(lambda: len(emulator.recording.connections) >= 2, timeout=20, what="the reconnect attempt")
        await t.until(lambda: t.held and len(flush_results) >= 10, what="flushes answered and passed on")
        keep_going = False  # no new sends; the ones in flight stay in flight
        # returning stops the test now

    started = time.monotonic()
    tester = run_storm(pcm_props, script, hold_passed_on_flushes=True)
    took = time.monotonic() - started
    AUDIT.count("faults_injected", 3 - len(emulator.faults.pending))

    assert took < STOP_BOUND_S, f"the run took {took:.1f} s"
    assert len(flush_results) == flushes_sent, "a flush the tester sent was never answered"
    assert flush_results.count(StatusCode.OK) >= 10
    assert all(status in (StatusCode.OK, StatusCode.ERROR) for status in flush_results)
    closed = emulator.wait_for(lambda: all(c.closed for c in emulator.recording.connections) or None, 10)
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
        assert any(m.startswith("stopped:") for _, m in extension_logs(record)), "on_stop did not finish"
    assert not problems, "\n".join(problems[:20])
