"""Scenario kit: the real extension in single mode, driven by a scripted tester.

The tester plays the rest of the graph (TTS, main_control, sinks) and the emulator plays
Spatius. Only `ten_runtime` is imported from the runtime, so these run unchanged under the
real runtime; stand-in-only records (logs) are read through `run_logs()`, which says so
when the runtime does not offer them.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from ten_runtime import (
    AsyncExtensionTester,
    AsyncTenEnvTester,
    AudioFrame,
    AudioFrameDataFmt,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
)

from speech_fixtures import speech_pcm

ADDON = "spatius_avatar_python"
HANG_GUARD_S = 60.0  # generous: only against hangs


def speech(rate: int = 24000, seconds: float | None = None) -> bytes:
    """The project's speech fixture (mono s16le), optionally its first `seconds`."""
    return speech_pcm(rate, seconds)


def stereo(mono: bytes, right_gain: float = 1.0) -> bytes:
    samples = np.frombuffer(mono, dtype=np.int16)
    right = np.clip(samples.astype(np.float64) * right_gain, -32768, 32767).astype(np.int16)
    return np.column_stack([samples, right]).astype(np.int16).tobytes()


def make_frame(
    pcm: bytes,
    rate: int,
    channels: int = 1,
    metadata: dict[str, Any] | None = None,
    *,
    width: int = 2,
) -> AudioFrame:
    frame = AudioFrame.create("pcm_frame")
    frame.set_sample_rate(rate)
    frame.set_bytes_per_sample(width)
    frame.set_number_of_channels(channels)
    frame.set_data_fmt(AudioFrameDataFmt.INTERLEAVE)
    frame.set_samples_per_channel(len(pcm) // max(1, width * channels))
    if pcm:  # the runtime refuses alloc_buf(0) ("Invalid audio frame size."): no buffer at all
        frame.alloc_buf(len(pcm))
        buf = frame.lock_buf()
        buf[:] = pcm
        frame.unlock_buf(buf)
    if metadata is not None:
        frame.set_property_from_json("metadata", json.dumps(metadata))
    return frame


@dataclass
class Received:
    data: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    cmds: list[str] = field(default_factory=list)

    def of(self, name: str) -> list[dict[str, Any]]:
        return [payload for n, payload in self.data if n == name]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.of("error")

    @property
    def metrics(self) -> dict[str, list[float]]:
        merged: dict[str, list[float]] = {}
        for payload in self.of("metrics"):
            for key, value in payload["metrics"].items():
                merged.setdefault(key, []).append(value)
        return merged


Script = Callable[["AvatarScenario", AsyncTenEnvTester], Awaitable[None]]


class AvatarScenario(AsyncExtensionTester):
    """Runs `script(self, ten_env)` once the graph starts, then stops the test."""

    def __init__(self, script: Script) -> None:
        super().__init__()
        self.script = script
        self.received = Received()
        self.failure: str | None = None
        self._task: asyncio.Task | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self._task = asyncio.create_task(self._run(ten_env))

    async def _run(self, ten_env: AsyncTenEnvTester) -> None:
        try:
            await asyncio.wait_for(self.script(self, ten_env), HANG_GUARD_S)
        except BaseException:  # reported by run_scenario, in the test's thread
            self.failure = traceback.format_exc()
        finally:
            ten_env.stop_test()

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        text, _ = data.get_property_to_json("")
        self.received.data.append((data.get_name(), json.loads(text) if text else {}))

    async def on_cmd(self, ten_env: AsyncTenEnvTester, cmd: Cmd) -> None:
        self.received.cmds.append(cmd.get_name())
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    # ----- what scripts do -----

    async def frames(
        self,
        ten_env: AsyncTenEnvTester,
        pcm: bytes,
        rate: int,
        channels: int = 1,
        metadata: dict[str, Any] | None = None,
        *,
        frame_ms: float = 20,
        pace: float = 0.0,
        sizes: list[int] | None = None,
    ) -> int:
        """Send `pcm` as frames (fixed `frame_ms`, or the byte `sizes` given);
        `pace` 1.0 = real time."""
        step = int(rate * frame_ms / 1000) * 2 * channels
        cuts, offset = [], 0
        for size in sizes or []:
            cuts.append((offset, offset + size))
            offset += size
        while offset < len(pcm):
            cuts.append((offset, offset + step))
            offset += step
        start = time.monotonic()
        sent = 0
        for a, b in cuts:
            if a >= len(pcm):
                break
            await ten_env.send_audio_frame(make_frame(pcm[a:b], rate, channels, metadata))
            sent += min(b, len(pcm)) - a
            if pace:
                due = start + sent / (2 * channels * rate) / pace
                await asyncio.sleep(max(0.0, due - time.monotonic()))
        return sent

    async def data(
        self, ten_env: AsyncTenEnvTester, name: str, payload: dict[str, Any] | None = None
    ) -> None:
        message = Data.create(name)
        if payload is not None:
            message.set_property_from_json(None, json.dumps(payload))
        await ten_env.send_data(message)

    async def cmd(self, ten_env: AsyncTenEnvTester, name: str) -> StatusCode | None:
        result, err = await ten_env.send_cmd(Cmd.create(name))
        assert err is None, err.error_message()
        return result.get_status_code() if result is not None else None

    def extension_ready(self) -> bool:
        """True once the extension said its Spatius session is ready (its `connect_ms`
        metric). The emulator records a session when it confirms the handshake, before the
        extension has read that answer: audio sent on the emulator's word alone may still
        find the extension connecting (and buffering, within its bound)."""
        return any("connect_ms" in p.get("metrics", {}) for p in self.received.of("metrics"))

    async def until(
        self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            await asyncio.sleep(0.01)
        raise AssertionError(f"timed out waiting for {what}")


def run_scenario(
    props: dict[str, Any], script: Script, scenario: type[AvatarScenario] = AvatarScenario
) -> AvatarScenario:
    tester = scenario(script)
    tester.set_test_mode_single(ADDON, json.dumps(props))
    err = tester.run()
    assert tester.failure is None, tester.failure
    assert err is None, err.error_message()
    return tester


def run_logs() -> list[tuple[str, str]]:
    """(level name, message) of every log line of the last run (stand-in only)."""
    try:
        from ten_runtime import standin
    except ImportError:
        pytest.skip("log capture needs the test bed's ten_runtime stand-in")
    record = standin.last_run()
    assert record is not None, "no run of the stand-in has ended yet"
    return [(entry.level.name, entry.message) for entry in record.logs]
