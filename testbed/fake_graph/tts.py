"""fake_tts: a scripted TTS. Sends `pcm_frame` audio frames (JSON property `metadata` with
session_id, turn_id, request_id, utterance, seq and `sent_at`, the perf_counter time of
the send) and data `tts_audio_start` / `tts_audio_end`, paced by an absolute schedule.

Node property:
    session_id (str), pace (1.0 real time, 0 as fast as possible), pause_ms between
    utterances, start_delay_ms, start_after_received ({"node": N, "data": D}: speak only
    once node N has received data D, e.g. the avatar's first `metrics`, sent when its session
    is ready; start_delay_ms counts from then; waits start_timeout_ms, default 60000),
    stop_on_flush (bool, default true: a `flush` cmd ends the
    current utterance with reason 2), utterances: a list of
    {request_id, turn_id, pcm_file | tone_hz + duration_ms, offset_ms, max_ms, amplitude,
     sample_rate, channels (1|2), frame_ms, odd_frames, send_start, send_end, end_reason}.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncTenEnv,
    AudioFrame,
    AudioFrameDataFmt,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
    TenEnv,
    register_addon_as_extension,
)

from .audio_source import frame_sizes, load_pcm, sine_pcm, to_channels
from .records import SentData, SentFrame, registry

REASON_FINISHED = 1
REASON_INTERRUPTED = 2


@dataclass
class Utterance:
    request_id: str
    turn_id: int
    pcm: bytes  # interleaved s16le
    sample_rate: int
    channels: int
    frame_ms: int
    odd_frames: bool
    send_start: bool
    send_end: bool
    end_reason: int

    @classmethod
    def from_script(cls, index: int, raw: dict[str, Any]) -> "Utterance":
        rate = int(raw.get("sample_rate", 24000))
        if raw.get("pcm_file"):
            mono = load_pcm(raw["pcm_file"], rate, int(raw.get("offset_ms", 0)), raw.get("max_ms"))
        else:
            mono = sine_pcm(
                rate,
                int(raw.get("duration_ms", 1000)),
                float(raw.get("tone_hz", 440.0)),
                float(raw.get("amplitude", 0.3)),
            )
        channels = int(raw.get("channels", 1))
        return cls(
            request_id=str(raw.get("request_id", f"req-{index}")),
            turn_id=int(raw.get("turn_id", index + 1)),
            pcm=to_channels(mono, channels),
            sample_rate=rate,
            channels=channels,
            frame_ms=int(raw.get("frame_ms", 20)),
            odd_frames=bool(raw.get("odd_frames", False)),
            send_start=bool(raw.get("send_start", True)),
            send_end=bool(raw.get("send_end", True)),
            end_reason=int(raw.get("end_reason", REASON_FINISHED)),
        )

    def frame_bytes(self) -> int:
        return max(1, self.sample_rate * self.frame_ms // 1000) * self.channels * 2


class FakeTts(AsyncExtension):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._task: asyncio.Task[None] | None = None
        self._interrupt = asyncio.Event()
        self._stop_on_flush = True

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        text, _ = await ten_env.get_property_to_json(None)
        script = json.loads(text or "{}")
        self._stop_on_flush = bool(script.get("stop_on_flush", True))
        self._task = asyncio.create_task(self._play(ten_env, script))

    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        if cmd.get_name() == "flush" and self._stop_on_flush:
            self._interrupt.set()
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def _play(self, ten_env: AsyncTenEnv, script: dict[str, Any]) -> None:
        try:
            await self._play_script(ten_env, script)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            ten_env.log_error(f"fake_tts script failed: {exc!r}")
            registry.add_event(self.name, "script_failed")

    async def _play_script(self, ten_env: AsyncTenEnv, script: dict[str, Any]) -> None:
        session_id = str(script.get("session_id", "session-1"))
        pace = float(script.get("pace", 1.0))
        pause_s = float(script.get("pause_ms", 0)) / 1000
        utterances = [
            Utterance.from_script(i, raw) for i, raw in enumerate(script.get("utterances", []))
        ]
        after = script.get("start_after_received")
        if after is not None:
            node, name = str(after["node"]), str(after["data"])
            timeout_s = float(script.get("start_timeout_ms", 60000)) / 1000

            def heard(records: Any) -> bool:
                return bool(records.node(node).received_of("data", name))

            if not await registry.wait_until(heard, timeout_s):
                ten_env.log_warn(f"fake_tts: {node} never received {name}; speaking anyway")
        await asyncio.sleep(float(script.get("start_delay_ms", 0)) / 1000)
        # Absolute schedule: frame k is due at t0 + (audio and pauses before it) / pace, so
        # late wake-ups do not accumulate into drift.
        t0 = time.perf_counter()
        schedule_s = 0.0
        seq = 0
        for index, utterance in enumerate(utterances):
            if index:
                schedule_s += pause_s
            self._interrupt.clear()
            metadata = {"session_id": session_id, "turn_id": utterance.turn_id}
            started = time.perf_counter()
            if utterance.send_start:
                await self._send_data(
                    ten_env,
                    "tts_audio_start",
                    {"request_id": utterance.request_id, "metadata": metadata},
                )
            position, interrupted = 0, False
            for size in frame_sizes(
                len(utterance.pcm), utterance.frame_bytes(), utterance.odd_frames
            ):
                due = t0 + schedule_s / pace if pace > 0 else time.perf_counter()
                await _sleep_until(due)
                if self._interrupt.is_set():
                    interrupted = True
                    break
                chunk = utterance.pcm[position : position + size]
                await self._send_frame(ten_env, utterance, index, seq, chunk, metadata, due)
                seq += 1
                position += size
                schedule_s += len(chunk) / (utterance.sample_rate * utterance.channels * 2)
            if utterance.send_end:
                audio_ms = int(1000 * position / (utterance.sample_rate * utterance.channels * 2))
                await self._send_data(
                    ten_env,
                    "tts_audio_end",
                    {
                        "request_id": utterance.request_id,
                        "request_event_interval_ms": int(1000 * (time.perf_counter() - started)),
                        "request_total_audio_duration_ms": audio_ms,
                        "reason": REASON_INTERRUPTED if interrupted else utterance.end_reason,
                        "metadata": metadata,
                    },
                )
            registry.add_event(self.name, f"utterance_{index}_done")
        registry.add_event(self.name, "script_done")

    async def _send_frame(
        self,
        ten_env: AsyncTenEnv,
        utterance: Utterance,
        index: int,
        seq: int,
        chunk: bytes,
        metadata: dict[str, Any],
        due: float,
    ) -> None:
        frame = AudioFrame.create("pcm_frame")
        frame.set_sample_rate(utterance.sample_rate)
        frame.set_bytes_per_sample(2)
        frame.set_number_of_channels(utterance.channels)
        frame.set_data_fmt(AudioFrameDataFmt.INTERLEAVE)
        frame.set_samples_per_channel(len(chunk) // (2 * utterance.channels))
        frame.alloc_buf(len(chunk))
        view = frame.lock_buf()
        view[:] = chunk
        frame.unlock_buf(view)
        sent_at = time.perf_counter()
        frame.set_property_from_json(
            "metadata",
            json.dumps(
                dict(
                    metadata,
                    request_id=utterance.request_id,
                    utterance=index,
                    seq=seq,
                    sent_at=sent_at,
                )
            ),
        )
        await ten_env.send_audio_frame(frame)
        registry.add_sent_frame(self.name, SentFrame(index, seq, len(chunk), sent_at, due))

    async def _send_data(self, ten_env: AsyncTenEnv, name: str, properties: dict[str, Any]) -> None:
        data = Data.create(name)
        data.set_property_from_json(None, json.dumps(properties))
        await ten_env.send_data(data)
        registry.add_sent_data(self.name, SentData(name, properties, time.perf_counter()))


async def _sleep_until(due: float) -> None:
    delay = due - time.perf_counter()
    await asyncio.sleep(delay if delay > 0 else 0)


@register_addon_as_extension("fake_tts")
class FakeTtsAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(FakeTts(name), context)
