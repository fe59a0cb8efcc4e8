"""Races between the session owner and the SDK's callbacks, made deterministic.

The fault matrix hits these now and then, by timing (more often with Ogg Opus, whose
encoding in worker threads leaves the owner waiting longer between sends). Here the real
SDK session, on the emulator, is wrapped (through the streamer's `session_factory`) so
that the interleaving that goes wrong happens every time:

- the service refuses the session (a fatal ServerError, then its close) while the owner
  is in the middle of a send: the send then fails on the closed socket, and the SDK's own
  report of the refusal waits in the owner's inbox;
- speech arrives at the very moment the service closes a quiet session for its idle
  timeout: the audio is posted just before the SDK reports the close;
- the user barges in as audio goes out on a session the service is about to end: the
  interrupt is written before the service's close is read (a loaded machine does this;
  the fault matrix's during-stop rows saw it as a loss reported for no turn).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest
import spatius

from spatius_avatar_python.audio import PcmFormat
from spatius_avatar_python.config import load_config
from spatius_avatar_python.pipeline import SpeechPipeline
from spatius_avatar_python.streamer import AvatarStreamer, StreamerEvents, StreamerState

from tests.reliability.reliability_kit import RATE

CREDITS_EXHAUSTED = 4001
SESSION_DURATION_EXCEEDED = 4002  # transient: the streamer reconnects
IDLE_TIMEOUT_S = 0.3
CONDITION_BOUND_S = 10.0  # generous: only against hangs


async def until(predicate: Any, what: str, timeout: float = CONDITION_BOUND_S) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def tone(seconds: float, hz: float = 440.0) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * hz * t) * 8000).astype("<i2").tobytes()


class Harness:
    """The streamer and pipeline, PCM at 24 kHz, with the SDK sessions it opens wrapped by
    `wrap(number, session, callbacks)` (callbacks: the on_error/on_close it passed)."""

    def __init__(
        self, emulator_props: dict[str, Any], wrap: Any, audio_format: str = "pcm_s16le"
    ) -> None:
        props = dict(emulator_props)
        props["params"] = {
            **emulator_props["params"],
            "audio_format": audio_format,
            "sample_rate": RATE,
        }
        self.failures: list[Any] = []
        self.metrics: list[tuple[dict[str, Any], Any]] = []  # (metrics, utterance)
        self.opened = 0

        def factory(**kwargs: Any) -> Any:
            self.opened += 1
            callbacks = {"on_error": kwargs["on_error"], "on_close": kwargs["on_close"]}
            wrapped = wrap(self.opened, callbacks)
            kwargs.update({name: wrapped.get(name, cb) for name, cb in callbacks.items()})
            session = spatius.new_avatar_session(**kwargs)
            return wrapped.get("session", lambda s: s)(session)

        events = StreamerEvents(
            on_failure=lambda failure, utterance: self.failures.append(failure),
            on_metrics=lambda m, utterance: self.metrics.append((m, utterance)),
        )
        self.streamer = AvatarStreamer(
            load_config(props),
            events,
            session_factory=factory,
            backoff_base_s=0.01,
            backoff_cap_s=0.02,
        )
        self.pipeline = SpeechPipeline(self.streamer, RATE)

    def say(self, pcm: bytes, turn: int, *, end: bool = True) -> None:
        for i in range(0, len(pcm), 960):
            self.pipeline.on_frame(pcm[i : i + 960], PcmFormat(RATE, 1), {"turn_id": turn})
        if end:
            self.pipeline.on_tts_end(None, 1, {"turn_id": turn})


async def test_a_fatal_server_error_is_not_lost_when_a_send_fails_on_its_closed_socket(
    emulator, emulator_props, sdk_telemetry_off
):
    emulator.faults.server_error(CREDITS_EXHAUSTED, after_audio_messages=1, which=1)
    refused = asyncio.Event()  # the SDK reported the refusal, and the close that followed

    def wrap(number: int, callbacks: dict[str, Any]) -> dict[str, Any]:
        if number != 1:
            return {}
        seen: list[str] = []

        def on_error(error: Exception) -> None:
            callbacks["on_error"](error)
            seen.append("error")

        def on_close() -> None:
            callbacks["on_close"]()
            if "error" in seen:
                refused.set()

        def session(real: Any) -> Any:
            send, sends = real.send_audio, []

            async def send_audio(payload: bytes, end: bool = False) -> Any:
                sends.append(payload)
                if len(sends) == 2:  # the owner is in this send when the refusal comes in
                    await asyncio.wait_for(refused.wait(), CONDITION_BOUND_S)
                result = await send(payload, end=end)
                if len(sends) == 1:  # more of the answer came in during the first send
                    h.say(tone(0.2), turn=1)
                return result

            real.send_audio = send_audio
            return real

        return {"on_error": on_error, "on_close": on_close, "session": session}

    h = Harness(emulator_props, wrap)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY, "the session")
    h.say(
        tone(0.2), turn=1, end=False
    )  # its send is the first audio message, which the service refuses
    await until(lambda: refused.is_set() and h.failures, "the failure report")
    await until(
        lambda: (
            h.streamer.state in (StreamerState.FAILED, StreamerState.READY)
            or len(emulator.recording.connections) > 1
        ),
        "the streamer to settle",
    )
    state, connections = h.streamer.state, len(emulator.recording.connections)
    await h.streamer.stop()
    # The service said why it closed: credits exhausted is fatal, reported as such, never retried.
    assert [f.vendor_code for f in h.failures] == ["creditsExhausted"], [
        (f.vendor_code, f.message) for f in h.failures
    ]
    assert state is StreamerState.FAILED
    assert connections == 1


async def test_speech_arriving_as_a_quiet_session_idles_out_is_no_error_and_arrives_whole(
    emulator, emulator_props, sdk_telemetry_off
):
    emulator.faults.idle_timeout(IDLE_TIMEOUT_S, which=1)
    speech = tone(0.5, 523.25)

    def wrap(number: int, callbacks: dict[str, Any]) -> dict[str, Any]:
        if number != 1:
            return {}

        def on_error(error: Exception) -> None:
            h.say(speech, turn=2)  # the next answer's audio arrives at this very moment
            callbacks["on_error"](error)

        return {"on_error": on_error}

    h = Harness(emulator_props, wrap)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY, "the session")
    h.say(tone(0.1), turn=1)  # a short first answer, played out long before the idle close
    await until(lambda: emulator.recording.connections[0].closed, "the idle close")
    requests = await asyncio.to_thread(emulator.wait_for_ended_requests, 2, CONDITION_BOUND_S)
    failures = list(h.failures)
    await h.streamer.stop()
    # Nothing had been lost (the first answer had played), so the idle close of the quiet
    # session is no error; the new speech goes out whole on the next session.
    assert not failures, [(f.vendor_code, f.message) for f in failures]
    assert requests[-1].data == speech


@pytest.mark.parametrize("audio_format", ["ogg_opus", "pcm_s16le"])  # the default first
async def test_audio_a_barge_in_interrupted_is_not_reported_lost_when_its_session_ends(
    emulator, emulator_props, sdk_telemetry_off, audio_format
):
    # The service ends the session on the first audio message (a transient ServerError,
    # then its close); the user barges in as that message goes out.
    emulator.faults.server_error(SESSION_DURATION_EXCEEDED, after_audio_messages=1, which=1)

    def wrap(number: int, callbacks: dict[str, Any]) -> dict[str, Any]:
        if number != 1:
            return {}

        def session(real: Any) -> Any:
            send, sends = real.send_audio, []

            async def send_audio(payload: bytes, end: bool = False) -> Any:
                sends.append(payload)
                if len(sends) == 1:
                    h.pipeline.on_flush()  # posted now: the owner handles it right after this send
                # A small write does not yield to the loop, nor does the interrupt that the
                # owner writes next: the service's answer cannot be read in between.
                return await send(payload, end=end)

            real.send_audio = send_audio
            return real

        return {"session": session}

    h = Harness(emulator_props, wrap, audio_format)
    h.streamer.start()
    await until(lambda: h.streamer.state is StreamerState.READY, "the session")
    h.say(tone(0.2), turn=1, end=False)
    await until(
        lambda: any(f.vendor_code == "sessionDurationExceeded" for f in h.failures),
        "the failure report",
    )
    interrupted = h.streamer.stats.requests_interrupted
    await h.streamer.stop()
    assert interrupted == 1, "the interleaving did not happen: the interrupt was not written"
    # The interrupted audio was not going to play: the session's end took nothing with it.
    # (Before: the audio written just before the close counted as lost, with no turn to
    # name, since its request had been interrupted.)
    losses = [(m["audio_lost_seconds"], u) for m, u in h.metrics if "audio_lost_seconds" in m]
    assert not losses, f"lost audio reported for interrupted speech: {losses}"
    assert h.streamer.stats.lost_audio_seconds == 0
    said = [(f.vendor_code, f.message) for f in h.failures]
    assert [code for code, _ in said] == ["sessionDurationExceeded"], said
    assert "lost" not in h.failures[0].message, h.failures[0].message
