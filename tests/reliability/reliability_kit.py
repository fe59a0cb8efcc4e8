"""Helpers of the reliability tests: marked audio, what reached the emulator, run records.

Audio is a *ramp*: sample i of a signal has the value `first + i`. Each signal of a test
owns its own value range, so the samples the emulator received tell exactly which signal,
which part of it, in which order and how many times each part arrived. The session is
PCM at 24 kHz mono, like the TTS frames, so the extension passes the bytes through.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tests.reliability.suite_audit import AUDIT

RATE = 24000
FRAME_SAMPLES = RATE // 50  # 20 ms frames, as TTS extensions send them


@dataclass(frozen=True)
class Signal:
    """A ramp of `samples` int16 values starting at `first` (its value range is its identity)."""

    name: str
    first: int
    samples: int

    def __post_init__(self) -> None:
        assert -32768 <= self.first and self.first + self.samples - 1 <= 32767, "outside int16"

    @property
    def last(self) -> int:
        return self.first + self.samples - 1

    @property
    def pcm(self) -> bytes:
        return np.arange(self.first, self.first + self.samples, dtype="<i2").tobytes()

    def part(self, start: int, stop: int) -> bytes:
        """Samples [start, stop) of the ramp, as PCM bytes."""
        return self.pcm[start * 2 : stop * 2]

    def owns(self, samples: np.ndarray) -> np.ndarray:
        return (samples >= self.first) & (samples <= self.last)


@dataclass(frozen=True)
class Piece:
    """The samples of one signal that one Spatius request received."""

    connection: int  # the emulator's connection number (1-based)
    request: Any  # the emulator's RequestRecord
    samples: np.ndarray

    @property
    def start(self) -> int:
        return int(self.samples[0])

    @property
    def end(self) -> int:
        return int(self.samples[-1])


def request_samples(request: Any) -> np.ndarray:
    return request.pcm().astype(np.int32)


def pieces_of(emulator: Any, signal: Signal) -> list[Piece]:
    """Every request's samples of `signal`, in arrival order (connection, then request)."""
    pieces = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            samples = request_samples(request)
            mine = samples[signal.owns(samples)]
            if len(mine):
                pieces.append(Piece(connection.index, request, mine))
    return pieces


def received_samples(emulator: Any, signal: Signal) -> int:
    return sum(len(piece.samples) for piece in pieces_of(emulator, signal))


def reached(emulator: Any, signal: Signal) -> bool:
    return received_samples(emulator, signal) > 0


def ended_whole(emulator: Any, signal: Signal) -> bool:
    """True once one request holds the whole signal and has ended."""
    return any(
        piece.request.ended and len(piece.samples) == signal.samples for piece in pieces_of(emulator, signal)
    )


class Fate(enum.Enum):
    """What must have become of a signal that was sent to the extension."""

    WHOLE = "whole, in one request that ended"
    WHOLE_ACROSS_SESSIONS = "whole, ordered, continued as a new request on the next session"
    # The README's rule for the utterance in flight when a session dies: what the dead
    # session accepted is lost with it (possibly all of it, end included), the rest
    # continues as a new request on the next session.
    CONTINUES = "ordered, no duplicate, at most one piece per session; only a piece reaching the end is ended"
    CUT = "at most a prefix, in one request that never ended"
    NOTHING = "nothing"
    ANY_ORDERED = "anything, but ordered and without duplicates"


def check_fate(emulator: Any, signal: Signal, fate: Fate) -> list[str]:
    """Problems with what the emulator received of `signal` (empty when the fate holds).

    Counts lost and stale bytes into the suite audit as it finds them."""
    pieces = pieces_of(emulator, signal)
    problems: list[str] = []
    received = sum(len(p.samples) for p in pieces)
    duplicated = 0
    for piece in pieces:
        steps = np.diff(piece.samples)
        if len(steps) and not np.all(steps == 1):
            problems.append(f"{signal.name}: request {piece.request.req_id} is not one contiguous ordered slice")
            duplicated += int(np.sum(steps <= 0)) * 2
    for before, after in zip(pieces, pieces[1:]):
        if after.start <= before.end:
            problems.append(f"{signal.name}: samples {after.start}..{before.end} arrived twice or out of order")
            duplicated += (before.end - after.start + 1) * 2
    AUDIT.count("stale_audio_bytes", duplicated)

    def missing_whole() -> None:
        lost = (signal.samples - received) * 2
        if lost > 0:
            AUDIT.count("lost_audio_bytes", lost)
            problems.append(f"{signal.name}: {lost} of {signal.samples * 2} bytes never reached Spatius")

    if fate is Fate.WHOLE:
        missing_whole()
        if len(pieces) != 1 or not pieces[0].request.ended:
            problems.append(f"{signal.name}: expected one ended request, got {[p.request for p in pieces]}")
    elif fate is Fate.WHOLE_ACROSS_SESSIONS:
        missing_whole()
        if not pieces or not pieces[-1].request.ended:
            problems.append(f"{signal.name}: the continued request did not end")
    elif fate is Fate.CONTINUES:
        connections = [p.connection for p in pieces]
        if len(set(connections)) != len(connections):
            problems.append(f"{signal.name}: two requests on one session: {[p.request for p in pieces]}")
        for piece in pieces:
            if piece.request.ended and piece.end != signal.last:
                problems.append(f"{signal.name}: request {piece.request.req_id} ended before the signal's end")
    elif fate is Fate.CUT:
        if len(pieces) > 1 or (pieces and (pieces[0].start != signal.first or pieces[0].request.ended)):
            problems.append(f"{signal.name}: expected at most a prefix in one unended request: {[p.request for p in pieces]}")
    elif fate is Fate.NOTHING:
        if received:
            AUDIT.count("stale_audio_bytes", received * 2)
            problems.append(f"{signal.name}: {received * 2} bytes reached Spatius but none should have")
    return problems


def foreign_mixes(emulator: Any, signals: Iterable[Signal]) -> list[str]:
    """Requests that carry samples of more than one signal (two turns in one request)."""
    signals = list(signals)
    problems = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            samples = request_samples(request)
            owners = [s.name for s in signals if np.any(s.owns(samples))]
            if len(owners) > 1:
                problems.append(f"request {request.req_id} mixes {owners}")
    return problems


# ----- stand-in records (None under the real runtime, which records nothing) -----


def last_run_record() -> Any | None:
    try:
        from ten_runtime import standin  # type: ignore[attr-defined]
    except ImportError:
        return None
    return standin.last_run()


def extension_logs(record: Any) -> list[tuple[str, str]]:
    """(level, message) of the extension's log lines in a run record."""
    return [(entry.level.name, entry.message) for entry in record.logs if entry.node == "spatius_avatar_python"]


def guard_catches(record: Any) -> list[str]:
    """Exceptions the extension's last line of defence caught: each one is a bug it hid."""
    return [
        message
        for level, message in extension_logs(record)
        if level == "ERROR" and (" failed: " in message and message.split(" ", 1)[0].startswith(("on_", "cmd")))
    ]


def error_payload_problems(payload: dict[str, Any]) -> list[str]:
    problems = []
    if payload.get("module") != "avatar" or payload.get("code") not in (-1000, 1000) or not payload.get("message"):
        problems.append(f"malformed error payload {payload}")
    vendor = payload.get("vendor_info")
    if vendor is not None and vendor.get("vendor") != "spatius":
        problems.append(f"vendor_info without vendor spatius: {payload}")
    return problems
