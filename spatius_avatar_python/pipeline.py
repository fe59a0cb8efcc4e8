"""From TTS messages to the Spatius session: turn gating, audio conditioning, streaming.

Runtime-independent: the TEN glue decodes messages and calls these methods; tests and the
CLI can drive it without TEN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .audio import AudioConditioner, PcmFormat
from .streamer import AvatarStreamer
from .turns import FrameVerdict, TurnGate, Utterance

TTS_END_FINISHED = 1
TTS_END_INTERRUPTED = 2
TTS_END_ERROR = 3


@dataclass
class PipelineStats:
    frames: int = 0
    stale_frames: int = 0
    superseded_frames: int = 0  # late audio of a turn a newer one replaced (dropped)
    flushes: int = 0


class SpeechPipeline:
    def __init__(
        self, streamer: AvatarStreamer, sample_rate: int, gate: TurnGate | None = None
    ) -> None:
        self._streamer = streamer
        self._gate = gate or TurnGate()
        self._conditioner = AudioConditioner(sample_rate)
        self._conditioned_for: Utterance | None = None
        self.stats = PipelineStats()

    @property
    def gate(self) -> TurnGate:
        return self._gate

    def on_frame(
        self,
        pcm: bytes | bytearray | memoryview,
        fmt: PcmFormat,
        metadata: Mapping[str, Any] | None,
    ) -> bool:
        """One TTS frame. Returns False when it was dropped as stale (an interrupted turn)."""
        self.stats.frames += 1
        routing = self._gate.on_frame(metadata)
        if routing.verdict is FrameVerdict.SUPERSEDED:
            self.stats.superseded_frames += 1
            self._streamer.drop_superseded(
                routing.superseded or "", len(pcm) / max(1, fmt.frame_bytes) / fmt.sample_rate
            )
            return False
        if routing.verdict is FrameVerdict.STALE or routing.utterance is None:
            self.stats.stale_frames += 1
            return False
        if routing.ended_previous is not None:
            self._end(routing.ended_previous)
        utterance = routing.utterance
        if utterance is not self._conditioned_for:
            self._conditioner.reset()
            self._conditioned_for = utterance
        out = self._conditioner.process(pcm, fmt)
        if out:
            self._streamer.push_audio(utterance, out)
        return True

    def on_tts_start(self, request_id: str | None, metadata: Mapping[str, Any] | None) -> None:
        routing = self._gate.on_start(request_id, metadata)
        if routing.ended_previous is not None:
            self._end(routing.ended_previous)
        if routing.verdict is FrameVerdict.ACCEPT:
            self._streamer.wake()  # speech is coming: a dormant avatar connects now

    def on_tts_end(
        self, request_id: str | None, reason: int | None, metadata: Mapping[str, Any] | None
    ) -> None:
        if reason == TTS_END_INTERRUPTED:
            if self._gate.is_current(request_id, metadata):
                # The TTS cut its own speech: stop the avatar too (flush is not passed on).
                self._interrupt()
            elif request_id:
                self._gate.forget_request(request_id)  # a late end of an earlier request
            return
        utterance = self._gate.on_end(request_id, metadata)
        if utterance is not None:
            self._end(utterance)

    def on_finalize(self, metadata: Mapping[str, Any] | None) -> None:
        utterance = self._gate.on_end(None, metadata)
        if utterance is not None:
            self._end(utterance)

    def on_flush(self) -> None:
        """Barge-in: the current turn becomes stale, the avatar stops."""
        self.stats.flushes += 1
        self._interrupt()

    def _interrupt(self) -> None:
        self._gate.on_interrupt()
        self._conditioner.reset()
        self._conditioned_for = None
        self._streamer.interrupt()

    def _end(self, utterance: Utterance) -> None:
        if utterance is self._conditioned_for:
            tail = self._conditioner.flush()
            if tail:
                self._streamer.push_audio(utterance, tail)
            self._conditioned_for = None
        self._streamer.end_utterance(utterance)
