"""CPU cost per 20 ms frame of audio conditioning and off-loop Ogg Opus encoding.

Run: python benchmarks/micro_audio.py   (from the repository root, venv active)
Prints the median thread-CPU microseconds per 20 ms frame over many frames.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import statistics
import sys
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "testbed"))  # speech_fixtures

from spatius.audio_encoder import OggOpusStreamEncoder  # noqa: E402

from spatius_avatar_python.audio import AudioConditioner, PcmFormat  # noqa: E402
from spatius_avatar_python.opus import OggOpusRequestEncoder  # noqa: E402

OUT_RATE = 24000
FRAME_MS = 20


def speech(rate: int) -> np.ndarray:
    """The project's speech fixture at `rate`."""
    from speech_fixtures import speech_pcm

    return np.frombuffer(speech_pcm(rate), dtype=np.int16)


def frames(samples: np.ndarray, rate: int, channels: int) -> list[bytes]:
    if channels == 2:
        samples = np.stack([samples, samples[::-1]], axis=1).reshape(-1)
    step = rate * FRAME_MS // 1000 * channels
    return [samples[i : i + step].tobytes() for i in range(0, len(samples) - step + 1, step)]


def median_us(samples_ns: list[int]) -> float:
    return statistics.median(samples_ns) / 1000


def bench_conditioner(label: str, rate: int, channels: int) -> None:
    data = frames(speech(rate), rate, channels)
    fmt = PcmFormat(rate, channels)
    conditioner = AudioConditioner(OUT_RATE)
    costs = []
    for _ in range(3):
        for frame in data:
            start = time.thread_time_ns()
            conditioner.process(frame, fmt)
            costs.append(time.thread_time_ns() - start)
        conditioner.flush()
    print(f"{label:<34} {median_us(costs):8.1f} us/frame")


P = ParamSpec("P")
T = TypeVar("T")


class MeasuringExecutor(concurrent.futures.ThreadPoolExecutor):
    """Records the worker-thread CPU time of every job."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.worker_ns: list[int] = []

    def submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> concurrent.futures.Future[T]:
        def timed() -> T:
            start = time.thread_time_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                self.worker_ns.append(time.thread_time_ns() - start)

        return super().submit(timed)


async def bench_opus() -> None:
    data = frames(speech(OUT_RATE), OUT_RATE, 1)
    executor = MeasuringExecutor()
    loop_ns: list[int] = []
    for _ in range(3):
        encoder = OggOpusRequestEncoder(OUT_RATE, executor=executor)
        for frame in data:
            # While the job runs the loop thread sleeps in epoll, so its CPU time across
            # the await is the loop-side cost: submit, wake-up and resuming the task.
            start = time.thread_time_ns()
            await encoder.encode(frame, end=False)
            loop_ns.append(time.thread_time_ns() - start)
        await encoder.encode(b"", end=True)
    executor.shutdown()
    print(f"{'Ogg Opus encode: loop thread':<34} {median_us(loop_ns):8.1f} us/frame")
    print(f"{'Ogg Opus encode: worker thread':<34} {median_us(executor.worker_ns):8.1f} us/frame")

    sdk_ns = []
    for _ in range(3):
        sdk = OggOpusStreamEncoder(
            sample_rate=OUT_RATE,
            bitrate=0,
            frame_duration_ms=20,
            application="voip",
            collect_encoded_output=False,
        )
        for frame in data:
            start = time.thread_time_ns()
            sdk.encode(frame, end=False)
            sdk_ns.append(time.thread_time_ns() - start)
    print(f"{'SDK in-send_audio encode (on loop)':<34} {median_us(sdk_ns):8.1f} us/frame")


def main() -> None:
    print(f"median thread CPU per {FRAME_MS} ms frame, output mono {OUT_RATE} Hz")
    bench_conditioner("passthrough mono 24k", 24000, 1)
    bench_conditioner("16k mono -> 24k", 16000, 1)
    bench_conditioner("48k stereo -> 24k", 48000, 2)
    bench_conditioner("24k stereo -> 24k", 24000, 2)
    asyncio.run(bench_opus())


if __name__ == "__main__":
    main()
