"""Process CPU, per-thread CPU and RSS, sampled by a background thread."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .loop_meter import LoopMeter, LoopSnapshot


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Sample:
    at: float  # perf_counter
    cpu_s: float  # process CPU (all threads)
    loop_thread_cpu_s: float
    rss_mb: float
    threads: int


class Sampler:
    """Every `interval_s`: process CPU, the loop thread's CPU, RSS, and a loop snapshot."""

    def __init__(self, meter: LoopMeter | None, interval_s: float = 0.25) -> None:
        self.meter = meter
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.loop_snapshots: list[LoopSnapshot] = []
        self.loop_thread_id: int | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="bench-sampler", daemon=True)

    def start(self) -> "Sampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._take()

    def _take(self) -> None:
        loop_cpu = 0.0
        if self.loop_thread_id is not None:
            try:
                loop_cpu = time.clock_gettime(time.pthread_getcpuclockid(self.loop_thread_id))
            except (OSError, ProcessLookupError):
                loop_cpu = self.samples[-1].loop_thread_cpu_s if self.samples else 0.0
        self.samples.append(
            Sample(
                time.perf_counter(),
                time.process_time(),
                loop_cpu,
                rss_mb(),
                threading.active_count(),
            )
        )
        if self.meter is not None:
            self.loop_snapshots.append(self.meter.snapshot())

    def _main(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._take()

    def window(self, start: float, end: float) -> tuple[Sample, Sample]:
        before = [s for s in self.samples if s.at <= start]
        inside = [s for s in self.samples if s.at <= end]
        return (before[-1] if before else self.samples[0]), (
            inside[-1] if inside else self.samples[-1]
        )
