"""The session core's ownership rules against the emulator, in both formats (Ogg Opus first).

Each test here reproduces one defect of the old two-task core (issue 10) and checks the
outcome from below as well as from above: every sample sent is received by the emulator
or covered by the loss the streamer reported, and nothing arrives twice.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from spatius_avatar_python.audio import PcmFormat
from spatius_avatar_python.streamer import StreamerState
from tests.session.test_session_streamer import Harness, until

RATE = 24000
FRAME = 960  # bytes: 20 ms at 24 kHz mono
FORMATS = ["ogg_opus", "pcm_s16le"]  # the default first


def voice(seconds: float, pitch: float = 180.0) -> bytes:
    """A voiced buzz with a syllable envelope: speech-like enough for Opus, exact for PCM."""
    t = np.arange(int(RATE * seconds)) / RATE
    buzz = sum(np.sin(2 * np.pi * pitch * k * t) / k for k in range(1, 5))
    return (buzz * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) * 6000).astype("<i2").tobytes()


def props_for(emulator_props, audio_format: str, **extra):
    props = dict(emulator_props)
    props["params"] = {
        **emulator_props["params"],
        "audio_format": audio_format,
        "sample_rate": RATE,
    }
    props.update(extra)
    return props


def frames(pcm: bytes):
    return [pcm[i : i + FRAME] for i in range(0, len(pcm), FRAME)]


async def say_paced(
    h: Harness, pcm: bytes, turn: int, *, pace: float = 4.0, end: bool = True
) -> None:
    """Frames at `pace` times real time, so that a fault lands in the middle."""
    for frame in frames(pcm):
        h.pipeline.on_frame(frame, PcmFormat(RATE, 1), {"turn_id": turn})
        await asyncio.sleep(len(frame) / 2 / RATE / pace)
    if end:
        h.pipeline.on_tts_end(None, 1, {"turn_id": turn})


def all_requests(emulator):
    return [r for c in emulator.recording.connections for r in c.requests]


def received_samples(emulator) -> int:
    return sum(len(r.pcm()) for r in all_requests(emulator))


def assert_complete_from_below(emulator, h: Harness, sent_samples: int, *, bound_s: float) -> None:
    """Every sample sent was received or is covered by the reported, bounded loss."""
    received = received_samples(emulator)
    lost = round(
        (h.streamer.stats.lost_audio_seconds + h.streamer.stats.dropped_audio_seconds) * RATE
    )
    assert received <= sent_samples, f"{received - sent_samples} samples arrived twice"
    assert sent_samples - received <= lost + 2, (
        sent_samples,
        received,
        lost,
    )  # Opus: ±2 samples of rounding
    assert lost <= bound_s * RATE, f"reported loss {lost / RATE:.2f} s exceeds {bound_s} s"
    reported = sum(m.get("audio_lost_seconds", 0) for m in h.metrics)
    assert reported == pytest.approx(
        h.streamer.stats.lost_audio_seconds, abs=0.01
    )  # the app was told


@pytest.mark.parametrize("audio_format", FORMATS)
@pytest.mark.parametrize("code", [1000, 1001, 1011])
async def test_a_server_close_mid_utterance_reconnects_and_loses_only_what_it_reports(
    emulator, emulator_props, audio_format, code
):
    # Before: a 1000/1001 close gave only on_close; the next send raised ValueError, read as a
    # fatal configuration error ("WebSocket connection is not established"): avatar dead for good.
    emulator.faults.close(
        code, "going away" if code == 1001 else "", after_audio_messages=8, which=1
    )
    h = Harness(props_for(emulator_props, audio_format), backoff_base_s=0.05, backoff_cap_s=0.1)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    first, second = voice(2.0), voice(1.0, pitch=220)
    await say_paced(h, first, turn=1)
    await until(
        lambda: len(emulator.recording.sessions) >= 2 and h.streamer.state is StreamerState.READY
    )
    h.say(second, turn=2)
    await until(
        lambda: any(
            r.ended and len(r.pcm()) == len(second) // 2
            for r in emulator.recording.sessions[1].requests
        )
    )
    assert not any(f.fatal for f in h.failures), h.failures
    assert [f.vendor_code for f in h.failures] == ["connectionClosed"]
    assert emulator.recording.connections[0].close_code == code
    assert_complete_from_below(emulator, h, (len(first) + len(second)) // 2, bound_s=1.5)
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_twenty_sessions_on_one_loop_all_survive_a_going_away_close(
    emulator, emulator_props, audio_format
):
    # Before: with 20 sessions on one loop, 4 to 16 of them failed for good in 5 of 6 runs.
    count = 20
    for n in range(1, count + 1):
        emulator.faults.close(1001, "going away", after_audio_messages=6, which=n)
    harnesses = [
        Harness(props_for(emulator_props, audio_format), backoff_base_s=0.05, backoff_cap_s=0.2)
        for _ in range(count)
    ]
    for h in harnesses:
        h.streamer.start()
    await until(lambda: all(h.streamer.state is StreamerState.READY for h in harnesses), timeout=30)
    speech = voice(1.5)
    await asyncio.gather(*(say_paced(h, speech, turn=1, pace=3.0) for h in harnesses))
    await until(
        lambda: all(
            h.streamer.state is StreamerState.READY and h.streamer.stats.reconnects >= 1
            for h in harnesses
        ),
        timeout=30,
    )
    for h in harnesses:
        assert not any(f.fatal for f in h.failures), h.failures
    tail = voice(0.5, pitch=240)
    for h in harnesses:
        h.say(tail, turn=2)
    await until(
        lambda: (
            sum(1 for r in all_requests(emulator) if r.ended and len(r.pcm()) == len(tail) // 2)
            >= count
        ),
        timeout=30,
    )
    sent = count * (len(speech) + len(tail)) // 2
    received = received_samples(emulator)
    lost = round(sum(h.streamer.stats.lost_audio_seconds for h in harnesses) * RATE)
    assert received <= sent and sent - received <= lost + 2 * count, (sent, received, lost)
    await asyncio.gather(*(h.streamer.stop() for h in harnesses))


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_audio_and_a_flush_during_a_rollover_connect_keep_the_fresh_session(
    emulator, emulator_props, audio_format
):
    # Before: READY with no session during the rollover's connect; audio or a flush then hit
    # None.send_audio / None.interrupt, the fresh session was closed at once, the answer cut.
    emulator.faults.delay_handshake(1.0, which=2)  # the rollover's connect is slow
    h = Harness(props_for(emulator_props, audio_format), session_lifetime_s=3.0)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    await until(
        lambda: len(emulator.recording.connections) >= 2, timeout=10
    )  # the rollover has begun
    assert emulator.recording.connections[1].confirmed_at is None  # still connecting
    h.say(voice(0.4), turn=1, end=False)
    h.pipeline.on_flush()
    answer = voice(2.0, pitch=220)
    h.say(answer, turn=2)
    await until(
        lambda: any(r.ended and len(r.pcm()) == len(answer) // 2 for r in all_requests(emulator)),
        timeout=10,
    )
    await until(lambda: h.streamer.stats.rollovers == 1, timeout=10)
    assert not h.failures, h.failures
    # The emulator records its confirmation after sending it: the streamer may be on the
    # fresh session before the record is.
    await until(lambda: emulator.recording.connections[1].confirmed_at is not None)
    await until(lambda: emulator.recording.connections[0].closed, timeout=10)  # once played out
    assert emulator.recording.connections[0].closed_by == "client"
    assert not emulator.recording.connections[1].closed  # the fresh session lives on
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_a_flush_stops_the_ended_request_still_playing_and_the_started_one(
    emulator, emulator_props, audio_format
):
    # Before: the SDK's interrupt() only targets its newest request; A kept playing.
    h = Harness(props_for(emulator_props, audio_format))
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    h.say(voice(6.0), turn=1)  # sent far faster than it plays: still playing below, even under load
    h.say(voice(0.3, pitch=220), turn=2, end=False)
    # (the emulator records a session just after confirming it: READY may come first)
    sessions = emulator.recording  # .sessions is read afresh on each look
    await until(lambda: sessions.sessions and len(sessions.sessions[0].requests) == 2)
    h.pipeline.on_flush()
    connection = emulator.recording.sessions[0]
    await until(lambda: len(connection.interrupts) == 2)
    a, b = connection.requests
    assert {i.req_id for i in connection.interrupts} == {a.req_id, b.req_id}
    assert a.ended and a.interrupt.queued_s > 1.0  # it was still playing
    h.pipeline.on_flush()  # a second barge-in: nothing plays, nothing is interrupted again
    await asyncio.sleep(0.2)
    assert len(connection.interrupts) == 2
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_a_request_that_played_out_is_not_interrupted(emulator, emulator_props, audio_format):
    h = Harness(props_for(emulator_props, audio_format))
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    h.say(voice(0.2), turn=1)
    await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    await asyncio.sleep(1.0)  # it has played (0.2 s) and the slack (0.5 s) is over
    h.pipeline.on_flush()
    await until(lambda: h.streamer.stats.interrupts == 1)
    await asyncio.sleep(0.1)
    assert not emulator.recording.sessions[0].interrupts
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_a_late_interrupted_end_of_an_old_request_does_not_cut_unkeyed_speech(
    emulator, emulator_props, audio_format
):
    # Before: with no request id on the current utterance, any interrupted end cut it.
    h = Harness(props_for(emulator_props, audio_format))
    h.streamer.start()
    h.pipeline.on_tts_start("r1", None)
    h.pipeline.on_frame(voice(0.3), PcmFormat(RATE, 1), None)
    h.pipeline.on_tts_end("r1", 1, None)
    current = voice(1.0, pitch=220)
    for frame in frames(current):  # unkeyed frames: a pcm_frame-only TTS
        h.pipeline.on_frame(frame, PcmFormat(RATE, 1), None)
    h.pipeline.on_tts_end("r1", 2, None)  # late: r1 had ended already
    h.pipeline.on_finalize(None)
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 2, 10)
    assert len(requests[1].pcm()) == len(current) // 2
    assert not emulator.recording.sessions[0].interrupts
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_a_bug_after_a_successful_send_is_said_once_and_nothing_is_sent_twice(
    emulator, emulator_props, audio_format
):
    # Before: the pump re-queued the sent chunk and declared the session broken: 39 connections
    # in 3 s.
    h = Harness(props_for(emulator_props, audio_format))

    def broken_dump(utterance, pcm):
        raise RuntimeError("a bug in the dumper")

    h.streamer._events.on_audio_sent = broken_dump
    h.streamer.start()
    speech = voice(1.0)
    h.say(speech, turn=1)
    (request,) = await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    assert len(request.pcm()) == len(speech) // 2
    assert [f.vendor_code for f in h.failures] == ["internalError"]
    assert len(emulator.recording.connections) == 1
    await h.streamer.stop()


async def test_a_forced_rollover_mid_utterance_lets_the_old_session_play_out(emulator, opus_props):
    # Before: at the hard deadline the old session was closed at once, its open request never
    # ended: audio it had received but not played was lost.
    lifetime = 6.0  # soft 5.4 s, hard 5.7 s after the token was asked for
    h = Harness(opus_props, session_lifetime_s=lifetime)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    created = time.monotonic()
    await asyncio.sleep(5.0 - (time.monotonic() - created))
    long_turn = voice(1.6)
    await say_paced(h, long_turn, turn=1, pace=1.5, end=False)  # spans the hard deadline
    h.pipeline.on_tts_end(None, 1, {"turn_id": 1})
    await until(lambda: h.streamer.stats.rollovers == 1, timeout=10)
    await until(lambda: len(emulator.recording.sessions) >= 2)  # recorded after it was confirmed
    old, fresh = emulator.recording.sessions[:2]
    await until(lambda: old.closed and sum(r.ended for r in fresh.requests) == 1, timeout=10)
    (cut,) = old.requests
    assert cut.ended  # ended properly at the switch, not abandoned
    assert old.closed_by == "client"
    playback = old.playback(cut.req_id)
    assert (
        old.closed_at >= min(playback.finished_at, old.opened_at + lifetime) - 0.05
    )  # it played out first
    assert received_samples(emulator) == len(long_turn) // 2  # nothing lost, nothing twice
    assert not h.failures
    await h.streamer.stop()


@pytest.mark.parametrize("audio_format", FORMATS)
async def test_a_slow_connect_still_rolls_over_before_the_token_expires(
    emulator, emulator_props, audio_format
):
    # Before: deadlines counted from the end of the connect, the expiry from before it.
    # 8 s: the fresh session opens 0.8 s before expiry (10 %), time enough for its own
    # connect on a loaded machine (4 s left 0.4 s); counted from the end of the slow
    # connect it would open only at 1.5 + 7.2 s, after expiry.
    lifetime = 8.0
    emulator.faults.delay_handshake(1.5, which=1)
    h = Harness(props_for(emulator_props, audio_format), session_lifetime_s=lifetime)
    h.streamer.start()
    await until(lambda: len(emulator.recording.sessions) >= 2, timeout=15)
    asked_at = emulator.recording.token_requests[0].at
    first, second = emulator.recording.sessions[:2]
    assert second.confirmed_at < asked_at + lifetime  # the fresh one was ready in time
    await until(lambda: first.closed, timeout=5)
    assert first.closed_at < asked_at + lifetime
    assert not h.failures
    await h.streamer.stop()


async def test_a_minute_of_silence_after_an_idle_close_costs_nothing(emulator, opus_props):
    # Before: the streamer reconnected at once after each idle timeout: 12 s of silence gave 5
    # token requests, 5 sessions and 5 idleTimeout errors to the app.
    emulator.faults.idle_timeout(1.0, which="every")
    h = Harness(opus_props)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.DORMANT, timeout=10)
    await asyncio.sleep(60.0)  # the absence of churn can only be seen over time
    assert len(emulator.recording.connections) == 1
    assert len(emulator.recording.token_requests) == 2  # the first, and the one fetched ahead
    assert h.streamer.state is StreamerState.DORMANT
    assert not h.failures
    speech = voice(1.0)
    h.pipeline.on_tts_start("r1", {"turn_id": 1})
    h.say(speech, turn=1)
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    assert len(requests[0].pcm()) == len(speech) // 2  # nothing of the speech lost
    assert len(emulator.recording.token_requests) == 2  # it connected with the token fetched ahead
    assert not h.failures
    await h.streamer.stop()
