"""Stream one audio file to Spatius as one request, through the extension's own core
(AvatarStreamer, SpeechPipeline and its AudioConditioner), without TEN: connect, send at
real-time pace, end the request, wait for it to be accepted or refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..audio import PcmFormat
from ..config import AvatarConfig
from ..failures import Failure
from ..pipeline import TTS_END_FINISHED, SpeechPipeline
from ..streamer import CONNECT_TIMEOUT_S, AvatarStreamer, StreamerEvents
from ..turns import Utterance
from .speech_file import Speech

FRAME_S = 0.02  # a TTS's usual frame
REQUEST_ID = "stream"
# No acknowledgement exists for a request sent to an Agora-egress session: a refusal comes
# as an error shortly after the end. A second without one counts as accepted.
ACCEPT_GRACE_S = 1.0
END_TIMEOUT_S = 15.0  # generous: for the last audio to leave and the end to be sent


@dataclass
class StreamOutcome:
    connect_ms: float | None = None
    sent_s: float = 0.0  # handed to the pipeline
    request_s: float | None = None  # the request the streamer ended (resampled to the session rate)
    failure: Failure | None = None
    timed_out: str | None = None  # what we waited for in vain
    logs: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return self.failure is None and self.timed_out is None and self.request_s is not None


Progress = Callable[[float, float], None]  # (seconds sent, total seconds)


async def stream_file(
    config: AvatarConfig,
    speech: Speech,
    *,
    pace: float,
    progress: Progress,
    on_connected: Callable[[float], None] | None = None,
) -> StreamOutcome:
    """Stream `speech`; `on_connected(connect_ms)` is called as soon as the session is ready."""
    outcome = StreamOutcome()
    connected, ended, failed = asyncio.Event(), asyncio.Event(), asyncio.Event()

    def on_failure(failure: Failure, _: Utterance | None) -> None:
        if outcome.failure is None:
            outcome.failure = failure
        failed.set()

    def on_metrics(metrics: dict[str, float], _: Utterance | None) -> None:
        if "connect_ms" in metrics and outcome.connect_ms is None:
            outcome.connect_ms = metrics["connect_ms"]
            connected.set()
            if on_connected is not None:
                on_connected(outcome.connect_ms)
        if "request_audio_seconds" in metrics:
            outcome.request_s = metrics["request_audio_seconds"]
            ended.set()

    def log(level: str, message: str) -> None:
        if level in ("warn", "error"):
            outcome.logs.append(message)

    streamer = AvatarStreamer(
        config, StreamerEvents(on_failure=on_failure, on_metrics=on_metrics, log=log)
    )
    pipeline = SpeechPipeline(streamer, config.sample_rate)
    streamer.start()
    try:
        if not await _first(connected, failed, CONNECT_TIMEOUT_S + 5):
            outcome.timed_out = "the session to be ready"
            return outcome
        if failed.is_set():
            return outcome
        await _send(pipeline, speech, pace, failed, outcome, progress)
        if failed.is_set():
            return outcome
        if not await _first(ended, failed, END_TIMEOUT_S):
            outcome.timed_out = "the end of the request to be sent"
            return outcome
        if not failed.is_set():
            try:
                await asyncio.wait_for(failed.wait(), ACCEPT_GRACE_S)
            except asyncio.TimeoutError:
                pass  # no refusal: accepted
        return outcome
    finally:
        await streamer.stop()


async def _first(wanted: asyncio.Event, failed: asyncio.Event, timeout_s: float) -> bool:
    """Wait until `wanted` or `failed` is set; False on timeout."""
    waiters = {asyncio.ensure_future(wanted.wait()), asyncio.ensure_future(failed.wait())}
    done, pending = await asyncio.wait(
        waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
    )
    for waiter in pending:
        waiter.cancel()
    return bool(done)


async def _send(
    pipeline: SpeechPipeline,
    speech: Speech,
    pace: float,
    failed: asyncio.Event,
    outcome: StreamOutcome,
    progress: Progress,
) -> None:
    fmt = PcmFormat(speech.sample_rate, speech.channels)
    pcm = speech.interleaved()
    step = max(1, int(speech.sample_rate * FRAME_S)) * fmt.frame_bytes
    total_s = speech.duration_s
    pipeline.on_tts_start(REQUEST_ID, None)
    started = time.monotonic()
    for offset in range(0, len(pcm), step):
        if failed.is_set():
            return
        chunk = pcm[offset : offset + step]
        pipeline.on_frame(chunk, fmt, None)
        outcome.sent_s += len(chunk) / fmt.frame_bytes / speech.sample_rate
        progress(outcome.sent_s, total_s)
        # An absolute schedule, so late wake-ups do not add up.
        delay = started + outcome.sent_s / pace - time.monotonic()
        await asyncio.sleep(max(0.0, delay))
    pipeline.on_tts_end(REQUEST_ID, TTS_END_FINISHED, None)
