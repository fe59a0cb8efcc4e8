"""The Spatius session (AvatarStreamer + SpeechPipeline) against the emulator, without TEN.

Real SDK, real WebSocket on loopback; only the service is emulated. These cover what needs
shortened lifetimes or backoff (rollover, retry pacing); the TEN scenarios live in
tests/scenarios/.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from spatius_emulator.faults import (
    Drop,
    HandshakeError,
    RuntimeServerError,
    TokenRefusal,
    Trigger,
    UpgradeRefusal,
)
from spatius_emulator import service_errors as se
from speech_fixtures import speech_pcm

from spatius_avatar_python.audio import PcmFormat
from spatius_avatar_python.config import load_config
from spatius_avatar_python.pipeline import SpeechPipeline
from spatius_avatar_python.streamer import (
    AvatarStreamer,
    StreamerEvents,
    StreamerState,
    backoff_delay,
)


@pytest.fixture(autouse=True)
def _telemetry_off(sdk_telemetry_off):
    return None


def speech_24k() -> bytes:
    return speech_pcm(24000)


class Harness:
    def __init__(self, props, **streamer_kwargs):
        self.config = load_config(props)
        self.failures = []
        self.metrics = []
        self.logs = []
        events = StreamerEvents(
            on_failure=lambda f, u: self.failures.append(f),
            on_metrics=lambda m, u: self.metrics.append(m),
            log=lambda level, message: self.logs.append((level, message)),
        )
        self.streamer = AvatarStreamer(self.config, events, **streamer_kwargs)
        self.pipeline = SpeechPipeline(self.streamer, self.config.sample_rate)

    def say(self, pcm: bytes, turn: int, frame_bytes: int = 960, end: bool = True) -> None:
        for i in range(0, len(pcm), frame_bytes):
            self.pipeline.on_frame(pcm[i : i + frame_bytes], PcmFormat(24000, 1), {"turn_id": turn})
        if end:
            self.pipeline.on_tts_end(None, 1, {"turn_id": turn})


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met in time")


def pcm_props(emulator_props, **params):
    props = dict(emulator_props)
    props["params"] = {**emulator_props["params"], "audio_format": "pcm_s16le", **params}
    return props


async def test_audio_before_ready_is_kept_and_sent_in_order(emulator, emulator_props):
    h = Harness(pcm_props(emulator_props))
    speech = speech_24k()[: 24000 * 2]
    h.streamer.start()
    h.say(speech, turn=1)  # all of it before the session is up
    assert h.streamer.state is StreamerState.CONNECTING
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    assert requests[0].data == speech
    await h.streamer.stop()


@pytest.mark.parametrize(
    "fault, vendor_code",
    [
        (TokenRefusal(se.TOKEN_INVALID_API_KEY), "sessionTokenExpired"),
        (TokenRefusal(se.TOKEN_BILLING_REQUIRED), "billingRequired"),
        (UpgradeRefusal(se.UPGRADE_AVATAR_NOT_FOUND), "avatarNotFound"),
        (UpgradeRefusal(se.UPGRADE_INVALID_SESSION_TOKEN), "sessionTokenInvalid"),
        (HandshakeError(se.CODE_UNAUTHENTICATED, "unauthorized"), "invalidEgressConfig"),
    ],
)
async def test_fatal_failures_are_reported_once_and_never_retried(
    emulator, emulator_props, fault, vendor_code
):
    emulator.faults.add(fault, "every")
    h = Harness(pcm_props(emulator_props), backoff_base_s=0.01, backoff_cap_s=0.02)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.FAILED)
    await asyncio.sleep(0.3)  # a retry storm would show up here
    assert [f.vendor_code for f in h.failures] == [vendor_code]
    assert h.failures[0].fatal
    assert len(emulator.recording.connections) <= 1
    h.say(speech_24k()[:9600], turn=1)  # audio after a fatal failure is dropped quietly
    await h.streamer.stop()
    assert h.streamer.state is StreamerState.CLOSED


async def test_transient_handshake_failure_retries_with_backoff_then_streams(
    emulator, emulator_props
):
    emulator.faults.add(
        HandshakeError(se.CODE_UNAVAILABLE, "egress client is not configured on server"), 1
    )
    emulator.faults.add(
        HandshakeError(se.CODE_UNAVAILABLE, "egress client is not configured on server"), 2
    )
    h = Harness(pcm_props(emulator_props), backoff_base_s=0.05, backoff_cap_s=0.1)
    h.streamer.start()
    speech = speech_24k()[:24000]
    h.say(speech, turn=1)
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    assert requests[0].data == speech
    assert [f.vendor_code for f in h.failures] == [
        "egressUnavailable"
    ]  # the same failure twice: said once
    assert not h.failures[0].fatal
    assert len(emulator.recording.connections) == 3
    await h.streamer.stop()


async def test_drop_mid_utterance_continues_as_a_new_request_on_the_new_session(
    emulator, emulator_props
):
    emulator.faults.add(Drop(Trigger(after_audio_messages=5)), 1)
    h = Harness(pcm_props(emulator_props), backoff_base_s=0.05, backoff_cap_s=0.1)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY)
    speech = speech_24k()[: 24000 * 2]
    for i in range(0, len(speech), 960):  # paced, so the drop lands mid-utterance
        h.pipeline.on_frame(speech[i : i + 960], PcmFormat(24000, 1), {"turn_id": 1})
        await asyncio.sleep(0.002)
    h.pipeline.on_tts_end(None, 1, {"turn_id": 1})
    await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    first, second = emulator.recording.connections[:2]
    assert first.closed_by == "abort"
    received_first = b"".join(r.data for r in first.requests)
    (continued,) = second.requests
    assert continued.ended
    # Nothing duplicated, nothing out of order: the new request picks up where the old one stopped
    # (audio in flight when the socket died may be lost with it, never repeated).
    assert speech.startswith(received_first)
    assert speech.endswith(continued.data)
    assert len(received_first) + len(continued.data) <= len(speech)
    assert (
        h.failures and h.failures[0].vendor_code == "connectionClosed" and not h.failures[0].fatal
    )
    assert h.streamer.stats.reconnects == 1
    await h.streamer.stop()


async def test_runtime_credits_exhausted_is_fatal(emulator, emulator_props):
    emulator.faults.add(
        RuntimeServerError(
            se.CODE_CREDITS_EXHAUSTED,
            se.server_error_message(se.CODE_CREDITS_EXHAUSTED),
            Trigger(after_audio_messages=2),
        ),
        1,
    )
    h = Harness(pcm_props(emulator_props), backoff_base_s=0.01, backoff_cap_s=0.02)
    h.streamer.start()
    h.say(speech_24k()[:48000], turn=1)
    await until(lambda: h.streamer.state is StreamerState.FAILED)
    assert [f.vendor_code for f in h.failures] == ["creditsExhausted"]
    await asyncio.sleep(0.2)
    assert len(emulator.recording.connections) == 1
    await h.streamer.stop()


async def test_service_unreachable_at_start_is_transient_and_stop_is_bounded(emulator_props):
    props = pcm_props(emulator_props)
    props["console_endpoint_url"] = "http://127.0.0.1:9/v1/console"  # discard port: refused
    props["ingress_endpoint_url"] = "ws://127.0.0.1:9/v2/driveningress"
    h = Harness(props, backoff_base_s=0.05, backoff_cap_s=0.05)
    h.streamer.start()
    await until(lambda: h.streamer.stats.failures)
    await until(lambda: h.streamer.state is StreamerState.RECONNECTING)
    assert h.failures[0].vendor_code == "connectionFailed" and not h.failures[0].fatal
    started = time.monotonic()
    await h.streamer.stop()
    assert time.monotonic() - started < 5
    assert h.streamer.state is StreamerState.CLOSED


async def test_bounded_buffer_drops_oldest_audio_and_says_so_once(emulator_props):
    props = pcm_props(emulator_props)
    props["console_endpoint_url"] = "http://127.0.0.1:9/v1/console"
    props["ingress_endpoint_url"] = "ws://127.0.0.1:9/v2/driveningress"
    props["max_buffered_audio_ms"] = 500
    h = Harness(props, backoff_base_s=5, backoff_cap_s=5)
    h.streamer.start()
    h.say(speech_24k()[: 24000 * 2 * 2], turn=1)  # 2 s into a 0.5 s buffer
    await until(lambda: h.streamer.stats.dropped_audio_seconds >= 1.45)
    dropped = [f for f in h.failures if f.vendor_code == "audioDropped"]
    assert len(dropped) == 1 and not dropped[0].fatal
    assert h.streamer.stats.dropped_audio_seconds == pytest.approx(1.5, abs=0.05)
    await h.streamer.stop()


async def test_rollover_to_a_fresh_session_at_a_pause(emulator, emulator_props):
    h = Harness(pcm_props(emulator_props), session_lifetime_s=3.0)
    h.streamer.start()
    speech = speech_24k()[:24000]
    h.say(speech, turn=1)
    await asyncio.to_thread(emulator.wait_for_ended_requests, 1, 10)
    await until(
        lambda: (
            len(emulator.recording.connections) >= 2
            and emulator.recording.connections[1].confirmed_at
        ),
        timeout=10,
    )
    await until(
        lambda: h.streamer.stats.rollovers == 1 and emulator.recording.connections[0].closed,
        timeout=10,
    )
    first, second = emulator.recording.connections[:2]
    assert first.closed_by == "client"  # retired once its audio had played
    assert not h.failures  # a planned rollover is no failure
    h.say(speech, turn=2)
    await asyncio.to_thread(emulator.wait_for_ended_requests, 2, 10)
    assert second.requests[0].data == speech
    assert second.agora.token != first.agora.token  # a fresh token
    await h.streamer.stop()


async def test_stop_mid_connect_leaves_no_task(emulator, emulator_props):
    from spatius_emulator.faults import HandshakeSilence

    emulator.faults.add(HandshakeSilence(), "every")
    h = Harness(pcm_props(emulator_props))
    h.streamer.start()
    await asyncio.to_thread(emulator.wait_for_connections, 1, 5)
    before = {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}
    started = time.monotonic()
    await h.streamer.stop()
    assert time.monotonic() - started < 5
    await asyncio.sleep(0.05)
    leftover = {t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()}
    assert not {t for t in leftover if t.get_name().startswith("spatius-")}
    assert before  # the supervisor and pump were running


def test_backoff_is_capped_and_jittered():
    assert backoff_delay(1, base=0.5, cap=15, rng=lambda: 0.0) == 0.25
    assert backoff_delay(1, base=0.5, cap=15, rng=lambda: 1.0) == 0.5
    assert backoff_delay(4, base=0.5, cap=15, rng=lambda: 1.0) == 4.0
    assert backoff_delay(30, base=0.5, cap=15, rng=lambda: 1.0) == 15.0
    delays = {backoff_delay(3) for _ in range(20)}
    assert len(delays) > 1 and all(1.0 <= d <= 2.0 for d in delays)


async def test_a_bug_in_a_callback_is_reported_once_and_the_avatar_keeps_serving(
    emulator, emulator_props
):
    h = Harness(pcm_props(emulator_props))

    def broken_metrics(metrics, utterance):
        raise RuntimeError("a bug in a callback")

    h.streamer._events.on_metrics = broken_metrics  # metrics come at ready, at every request end
    h.streamer.start()
    speech = speech_24k()[:24000]
    h.say(speech, turn=1)
    h.say(speech, turn=2)
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 2, 10)
    assert [r.data for r in requests] == [speech, speech]  # nothing lost, nothing sent twice
    assert [f.vendor_code for f in h.failures] == ["internalError"]  # said once, not per call
    assert not h.failures[0].fatal and "a bug in a callback" in h.failures[0].message
    assert h.streamer.state is StreamerState.READY
    assert len(emulator.recording.connections) == 1  # our bug is no reason to reconnect
    await h.streamer.stop()
