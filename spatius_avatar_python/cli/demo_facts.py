"""What happened in a demo run, read from the fake graph's records (what the TTS sent,
what main_control did, what the avatar sent out) and the emulator's recording (what the
Spatius service received, when it was interrupted, what its playback model played).

The graph's records use `time.perf_counter()`, the emulator `time.monotonic()`; `Clocks`
relates the two (measured once: over a demo's seconds neither drifts measurably).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from .demo_graph import INTERRUPTED_UTTERANCE, MAIN, SINK, TTS

REASON_INTERRUPTED = 2


@dataclass(frozen=True)
class Clocks:
    monotonic_minus_perf: float

    @classmethod
    def measure(cls) -> Clocks:
        return cls(time.monotonic() - time.perf_counter())

    def to_monotonic(self, perf_time: float) -> float:
        return perf_time + self.monotonic_minus_perf


@dataclass
class UtteranceFacts:
    number: int  # 1-based
    planned_s: float  # length of the utterance in the input
    sent_s: float  # what the TTS sent
    end_reason: int | None  # of the TTS's tts_audio_end
    sent_before_flush_s: float | None  # the interrupted one: sent before the flush
    received_s: float | None  # at the service (None: no request)
    received_bytes: int
    played_s: float | None  # by the service's playback model
    ended_at_service: bool
    interrupted_at_service: bool
    stale_bytes: int  # of this request, arrived after its interrupt
    # When things happened (monotonic), for telling them in order.
    started_at: float | None = None
    tts_ended_at: float | None = None
    service_ended_at: float | None = None
    interrupted_at: float | None = None

    @property
    def settled(self) -> bool:
        """Nothing more will happen to it: ended or interrupted at the service, or never sent."""
        if self.sent_s == 0 and self.end_reason is not None:
            return True
        return self.ended_at_service or self.interrupted_at_service


@dataclass
class DemoFacts:
    utterances: list[UtteranceFacts]
    tts_done: bool
    flush_sent_at: float | None  # monotonic
    flush_status: int | None  # the avatar's answer to main_control (0 = OK)
    flush_answered_at: float | None  # monotonic
    flush_passed_on: bool
    interrupt_at: float | None  # monotonic, at the service
    requests: int  # Spatius requests the service saw
    sessions: int
    connected_at: float | None  # monotonic, the first session's handshake
    connect_ms: float | None  # the extension's own measure
    interrupt_latency_ms: (
        float | None
    )  # the extension's own measure (flush handled -> interrupt sent)
    request_metrics: int  # request_audio_seconds metrics the avatar sent
    errors: list[dict[str, Any]]  # data `error` the avatar sent
    queued_s: float  # received by the service but not played yet, now

    @property
    def interrupt_latency_at_service_ms(self) -> float | None:
        if self.flush_sent_at is None or self.interrupt_at is None:
            return None
        return (self.interrupt_at - self.flush_sent_at) * 1000

    @property
    def stale_bytes(self) -> int:
        return sum(u.stale_bytes for u in self.utterances)

    @property
    def fatal_error(self) -> dict[str, Any] | None:
        return next((e for e in self.errors if e.get("code") == -1000), None)

    @property
    def complete(self) -> bool:
        """Everything the demo waits for has happened."""
        return (
            self.tts_done
            and self.flush_answered_at is not None
            and self.flush_passed_on
            and self.interrupt_latency_ms is not None
            and all(u.settled for u in self.utterances)
            and self.request_metrics >= sum(1 for u in self.utterances if u.sent_s > 0)
        )


def collect(
    registry: Any, recording: Any, planned_s: list[float], sample_rate: int, clocks: Clocks
) -> DemoFacts:
    """A snapshot of the run so far (safe to call while it runs)."""
    tts, main, sink = registry.node(TTS), registry.node(MAIN), registry.node(SINK)
    flush_perf = main.events.get("flush_sent")
    flush_sent_at = clocks.to_monotonic(flush_perf) if flush_perf is not None else None

    sent_bytes = [0] * len(planned_s)
    before_flush = [0] * len(planned_s)
    for frame in list(tts.sent_frames):
        sent_bytes[frame.utterance] += frame.nbytes
        if flush_perf is not None and frame.sent_at < flush_perf:
            before_flush[frame.utterance] += frame.nbytes
    starts = [d for d in list(tts.sent_data) if d.name == "tts_audio_start"]
    ends = [d for d in list(tts.sent_data) if d.name == "tts_audio_end"]

    requests = []
    sessions = recording.sessions
    for session in sessions:
        playbacks = session.playbacks()
        for request in session.requests:
            if request.first_arrival_at is not None:
                requests.append((request, playbacks.get(request.req_id)))
    requests.sort(key=lambda pair: pair[0].first_arrival_at)

    now = time.monotonic()
    utterances = []
    for index, planned in enumerate(planned_s):
        request, playback = requests[index] if index < len(requests) else (None, None)
        interrupt = request.interrupt if request is not None else None
        stale = 0
        if request is not None and interrupt is not None:
            stale = sum(chunk.nbytes for chunk in request.chunks if chunk.arrived_at > interrupt.at)
        utterances.append(
            UtteranceFacts(
                number=index + 1,
                planned_s=planned,
                sent_s=sent_bytes[index] / 2 / sample_rate,
                end_reason=ends[index].properties.get("reason") if index < len(ends) else None,
                sent_before_flush_s=before_flush[index] / 2 / sample_rate
                if index == INTERRUPTED_UTTERANCE and flush_perf
                else None,
                received_s=request.duration_s if request is not None else None,
                received_bytes=request.byte_count if request is not None else 0,
                played_s=playback.played_s(math.inf) if playback is not None else None,
                ended_at_service=bool(request is not None and request.ended),
                interrupted_at_service=interrupt is not None,
                stale_bytes=stale,
                started_at=clocks.to_monotonic(starts[index].sent_at)
                if index < len(starts)
                else None,
                tts_ended_at=clocks.to_monotonic(ends[index].sent_at)
                if index < len(ends)
                else None,
                service_ended_at=request.end_at if request is not None else None,
                interrupted_at=interrupt.at if interrupt is not None else None,
            )
        )
    # Requests beyond one per utterance hold audio no utterance accounts for: stale too.
    for request, _ in requests[len(planned_s) :]:
        utterances[-1].stale_bytes += request.byte_count

    interrupts = [i for session in sessions for i in session.interrupts]
    metrics = [m.properties.get("metrics", {}) for m in sink.received_of("data", "metrics")]
    connect = [m["connect_ms"] for m in metrics if "connect_ms" in m]
    latency = [m["interrupt_latency_ms"] for m in metrics if "interrupt_latency_ms" in m]
    return DemoFacts(
        utterances=utterances,
        tts_done="script_done" in tts.events,
        flush_sent_at=flush_sent_at,
        flush_status=next(
            (status for name, status, _ in main.cmd_results if name == "flush"), None
        ),
        flush_answered_at=clocks.to_monotonic(main.events["flush_result"])
        if "flush_result" in main.events
        else None,
        flush_passed_on=bool(sink.received_of("cmd", "flush")),
        interrupt_at=interrupts[0].at if interrupts else None,
        requests=len(requests),
        sessions=len(sessions),
        connected_at=sessions[0].confirmed_at if sessions else None,
        connect_ms=connect[0] if connect else None,
        interrupt_latency_ms=latency[0] if latency else None,
        request_metrics=sum(1 for m in metrics if "request_audio_seconds" in m),
        errors=[m.properties for m in sink.received_of("data", "error")],
        queued_s=sum(session.queued_s(now) for session in sessions),
    )
