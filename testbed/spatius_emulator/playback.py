"""Real-time playback model of a session's requests.

A request starts playing when its first audio arrives or when the previous request has
finished playing, whichever is later; it then plays at real time, stalling whenever it
has played everything received so far, and stops for good at an interrupt.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Segment:
    """Playing without a stall from `start` to `end` (clock seconds), from position `pos`."""

    start: float
    end: float
    pos: float


@dataclass
class Playback:
    """When a request played, as far as the audio received so far tells."""

    started_at: float | None
    finished_at: float | None
    segments: list[Segment] = field(default_factory=list)
    arrivals: list[tuple[float, float]] = field(default_factory=list)  # (time, seconds)

    def played_s(self, at: float) -> float:
        """Seconds of the request played by clock time `at`."""
        played = 0.0
        for seg in self.segments:
            if at <= seg.start:
                break
            played = seg.pos + (min(at, seg.end) - seg.start)
        return played

    def received_s(self, at: float) -> float:
        return sum(seconds for arrived, seconds in self.arrivals if arrived <= at)

    def queued_s(self, at: float) -> float:
        """Seconds received by `at` but not yet played then."""
        return max(0.0, self.received_s(at) - self.played_s(at))


def simulate_request(
    arrivals: Sequence[tuple[float, float]], not_before: float, stop_at: float | None
) -> Playback:
    """Play one request whose audio arrives as (time, seconds) pairs, in time order."""
    if not arrivals:
        return Playback(None, None)
    clock = max(arrivals[0][0], not_before)
    started_at = clock
    pos = 0.0
    available = 0.0
    segments: list[Segment] = []

    def play_until(limit: float) -> None:
        nonlocal clock, pos
        if limit <= clock:
            return
        span = min(limit - clock, available - pos)
        if span > 0:
            segments.append(Segment(clock, clock + span, pos))
            pos += span
        clock = limit  # a stall (nothing left to play) also lets the clock move on

    for arrived, seconds in arrivals:
        if stop_at is not None and arrived >= stop_at:
            break
        play_until(arrived)
        available += seconds
    finished_at = clock + (available - pos)
    if finished_at > clock:
        segments.append(Segment(clock, finished_at, pos))
    if stop_at is not None and stop_at < finished_at:
        segments = _cut(segments, stop_at)
        finished_at = max(stop_at, started_at)
    return Playback(started_at, finished_at, segments, list(arrivals))


def _cut(segments: list[Segment], at: float) -> list[Segment]:
    kept: list[Segment] = []
    for seg in segments:
        if seg.start >= at:
            break
        kept.append(Segment(seg.start, min(seg.end, at), seg.pos))
    return kept


def simulate_session(
    requests: Iterable[tuple[Sequence[tuple[float, float]], float | None]],
) -> list[Playback]:
    """Play a session's requests one after the other: (arrivals, interrupted_at) each."""
    results: list[Playback] = []
    previous_end = float("-inf")
    for arrivals, interrupted_at in requests:
        playback = simulate_request(arrivals, previous_end, interrupted_at)
        if playback.finished_at is not None:
            previous_end = playback.finished_at
        results.append(playback)
    return results
