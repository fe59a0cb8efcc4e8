"""Helpers of the reliability tests: marked audio, what reached the emulator, run records.

Every signal a test sends is marked so that what the emulator received tells which
signal, which part of it, in which order and how many times each part arrived:

- PCM (`RampMarking`, RAMPS): a *ramp*, sample i of a signal has the value `first + i`,
  and each signal owns its own value range. The session is PCM at 24 kHz mono, like the
  TTS frames, so the extension passes the bytes through: identity, positions, repeats
  and order are exact.
- Ogg Opus (`ToneMarking`): a distinct pure tone per 50 ms segment of every signal. The
  decoded audio is not the samples sent, but its sample count is, and the dominant
  frequency per 20 ms window says which segment of which signal it is (the class says
  the tolerances).

`check_fate` judges one signal's fate the same way for both; `completeness_problems` and
`loss_problems` hold what did not arrive against the loss the extension reported.
"""

from __future__ import annotations

import enum
import importlib
import itertools
import re
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from scenario_kit import AvatarScenario

from tests.reliability.suite_audit import AUDIT

if TYPE_CHECKING:
    from ten_runtime import AsyncTenEnvTester

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
    """The audio of one signal that one Spatius request received, and where in the signal
    it lies: exactly (PCM), or within [start, start_latest] (Ogg Opus, see ToneMarking)."""

    connection: int  # the emulator's connection number (1-based)
    request: Any  # the emulator's RequestRecord
    count: int  # samples of the signal in this request
    start: int  # the earliest position in the signal its first sample can have
    start_latest: int  # the latest (== start when exact)
    contiguous: bool  # one ordered slice of the signal, nothing repeated or skipped
    repeated: int = 0  # samples known to repeat earlier ones of the same request

    def may_start_at(self, position: int) -> bool:
        return self.start <= position <= self.start_latest


class Marking:
    """How the signals of a test are marked in the audio the TTS sends, and found again in
    what Spatius received. `RampMarking` for PCM, `ToneMarking` for Ogg Opus."""

    id: str  # the format's part of a test id
    audio_format: str  # params.audio_format of the session
    props_fixture: str  # the emulator plugin's fixture with that format
    cut_slack: int = 0  # samples a request cut short may hold back beyond what the extension counts

    def audio(self, signal: Signal) -> bytes:
        raise NotImplementedError

    def part(self, signal: Signal, start: int, stop: int) -> bytes:
        """Samples [start, stop) of the signal's audio, as PCM bytes."""
        return self.audio(signal)[start * 2 : stop * 2]

    def request_pieces(
        self, connection: int, request: Any, signals: Iterable[Signal]
    ) -> dict[Signal, Piece]:
        """The pieces of `signals` that one request carries."""
        raise NotImplementedError

    def unidentified(self, request: Any, signals: Iterable[Signal]) -> int:
        """Samples of the request that belong to none of `signals`."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return self.id


class RampMarking(Marking):
    """PCM: each signal is a ramp of its own values (see Signal); the session passes the
    bytes through, so positions, repeats and order are exact."""

    id = "pcm"
    audio_format = "pcm_s16le"
    props_fixture = "pcm_props"

    def audio(self, signal: Signal) -> bytes:
        return signal.pcm

    def request_pieces(
        self, connection: int, request: Any, signals: Iterable[Signal]
    ) -> dict[Signal, Piece]:
        samples = request_samples(request)
        pieces = {}
        for signal in signals:
            mine = samples[signal.owns(samples)]
            if not len(mine):
                continue
            steps = np.diff(mine)
            start = int(mine[0]) - signal.first
            pieces[signal] = Piece(
                connection,
                request,
                len(mine),
                start,
                start,
                bool(np.all(steps == 1)),
                repeated=len(mine) - len(np.unique(mine)),
            )
        return pieces

    def unidentified(self, request: Any, signals: Iterable[Signal]) -> int:
        samples = request_samples(request)
        owned = np.zeros(len(samples), dtype=bool)
        for signal in signals:
            owned |= signal.owns(samples)
        return int(np.sum(~owned))


RAMPS = RampMarking()
AMBIGUOUS = "ambiguous"
STRAY = "stray"
UNDECODABLE = "undecodable"  # a request whose bytes are no Ogg Opus stream
# (window start, window length, label): a label is (signal, its segment) or one of the above.
WindowLabel = tuple[int, int, "tuple[Signal, int] | str"]


class ToneMarking(Marking):
    """Ogg Opus: each signal is a sequence of pure tones, one per 50 ms segment, with a
    frequency no other segment of any signal of the test has.

    Opus is lossy, so samples cannot be told apart by value; but a whole Ogg Opus stream
    decodes to exactly the samples sent (RequestRecord.pcm()), and a cut one to whole
    pages, so sample counts are exact, and the dominant frequency of each 20 ms window of
    the decoded audio says which segment of which signal it holds. Tolerances:

    - identity: a window is labelled with the tone nearest its FFT peak when the peak's
      lobe holds at least MIN_PEAK_SHARE of the window's energy and lies within a third
      of the tone spacing of that tone; a peak between a third and half the spacing away
      is AMBIGUOUS (two neighbouring segments meet in the window), anything else STRAY
      (audio of no signal: silence, noise, another tone). A final window shorter than
      20 ms is labelled too when it has at least 5 ms (identity only, no position). So a
      piece of a signal is found when at least 5 ms of it arrived in one request.
    - position: a window dominated by segment j has its centre in segment j, give or take
      POSITION_SLACK (a quarter window, 5 ms: codec smear where two tones meet). The
      windows of a piece together bound its start in the signal to [start, start_latest];
      when no start fits all of them, the piece is not one contiguous ordered slice
      (repeats, skips and reordering longer than the slack show that way).
    - a cut request: its last packet and the encoder's look-ahead (pre-skip, 156 samples
      at 24 kHz) are not decodable yet; the extension counts the packet it holds back,
      not the look-ahead, so a cut request may miss OPUS_LOOKAHEAD samples unreported.
    """

    id = "opus"
    audio_format = "ogg_opus"
    props_fixture = "opus_props"
    SEGMENT = RATE // 20  # 50 ms per tone
    WINDOW = RATE // 50  # 20 ms analysis windows
    MIN_PARTIAL = RATE // 200  # 5 ms: a shorter final window is not looked at
    POSITION_SLACK = WINDOW // 4
    MIN_PEAK_SHARE = 0.25  # a window where two tones meet has about half its energy in each
    FIRST_HZ = 400.0
    STEP_HZ = 150.0
    AMPLITUDE = 8000
    OPUS_LOOKAHEAD = 312 * RATE // 48000  # the SDK encoder's pre-skip, at the session rate
    cut_slack = OPUS_LOOKAHEAD

    def __init__(
        self,
        signals: Iterable[Signal],
        *,
        segment: int | None = None,
        window: int | None = None,
        first_hz: float | None = None,
        step_hz: float | None = None,
    ) -> None:
        """Other segment and window lengths, tones and spacing than the defaults above
        (keep every tone a whole number of cycles per window, and the spacing at least
        two bins of the window)."""
        if segment is not None:
            self.SEGMENT = segment
        if window is not None:
            self.WINDOW = window
            self.POSITION_SLACK = window // 4
        if first_hz is not None:
            self.FIRST_HZ = first_hz
        if step_hz is not None:
            self.STEP_HZ = step_hz
        self.signals = tuple(signals)
        self._tones: dict[Signal, np.ndarray] = {}  # Hz per segment
        next_tone = 0
        for signal in self.signals:
            segments = -(-signal.samples // self.SEGMENT)
            self._tones[signal] = self.FIRST_HZ + self.STEP_HZ * np.arange(
                next_tone, next_tone + segments
            )
            next_tone += segments
        assert self.FIRST_HZ + self.STEP_HZ * next_tone < 0.4 * RATE, (
            "too many segments for distinct tones"
        )
        self._all_hz = np.concatenate([self._tones[s] for s in self.signals])
        self._owner = [(s, j) for s in self.signals for j in range(len(self._tones[s]))]
        self._audio: dict[Signal, bytes] = {}
        self._analysed: weakref.WeakKeyDictionary[
            Any, tuple[tuple[int, bool], tuple[int, list[WindowLabel]]]
        ] = weakref.WeakKeyDictionary()

    def audio(self, signal: Signal) -> bytes:
        if signal not in self._audio:
            hz = np.repeat(self._tones[signal], self.SEGMENT)[: signal.samples]
            phase = 2 * np.pi * np.cumsum(hz) / RATE  # continuous across segments: no clicks
            self._audio[signal] = (self.AMPLITUDE * np.sin(phase)).astype("<i2").tobytes()
        return self._audio[signal]

    # ----- reading what arrived -----

    def label(self, window: np.ndarray) -> tuple[Signal, int] | str:
        """(signal, segment) of the tone that dominates a window, else AMBIGUOUS (a peak
        between two neighbouring tones: where two segments meet) or STRAY (silence, noise,
        or a peak far from every tone: audio that no signal of the test has)."""
        size = len(window)
        # No taper: every tone is a whole number of cycles per window (multiples of 50 Hz
        # in 20 ms), so a window of one tone has a single line, and two tones meeting in
        # a window stay two peaks (a Hann window's wider lobes would merge tones 150 Hz apart).
        spectrum = np.abs(np.fft.rfft(window.astype(np.float64), 4 * self.WINDOW)) ** 2
        total = spectrum.sum()
        if total <= 0:
            return STRAY
        peak = int(np.argmax(spectrum))
        hz = peak * RATE / (4 * self.WINDOW)
        lobe = max(1, int(round(4 * self.WINDOW / size)))  # the main lobe's half width, in bins
        if spectrum[max(0, peak - lobe) : peak + lobe + 1].sum() < self.MIN_PEAK_SHARE * total:
            return STRAY
        nearest = int(np.argmin(np.abs(self._all_hz - hz)))
        distance = abs(self._all_hz[nearest] - hz)
        if distance <= self.STEP_HZ / 3:
            return self._owner[nearest]
        return AMBIGUOUS if distance <= self.STEP_HZ / 2 else STRAY

    def analyse(self, request: Any) -> tuple[int, list[WindowLabel]]:
        """(decoded samples, [(window start, window length, label)]) of a request, cached
        while the request does not change."""
        key = (request.byte_count, request.ended)
        cached = self._analysed.get(request)
        if cached is not None and cached[0] == key:
            return cached[1]
        result: tuple[int, list[WindowLabel]]
        try:
            samples = request.pcm()
        except ValueError:  # not an Ogg Opus stream (say, its headers never came)
            result = (0, [(0, self.WINDOW, UNDECODABLE)])
            self._analysed[request] = (key, result)
            return result
        windows: list[WindowLabel] = []
        for start in range(0, len(samples), self.WINDOW):
            window = samples[start : start + self.WINDOW]
            if len(window) >= self.MIN_PARTIAL:
                windows.append((start, len(window), self.label(window)))
        result = (len(samples), windows)
        self._analysed[request] = (key, result)
        return result

    def request_pieces(
        self, connection: int, request: Any, signals: Iterable[Signal]
    ) -> dict[Signal, Piece]:
        decoded, windows = self.analyse(request)
        present = {label[0] for _, _, label in windows if isinstance(label, tuple)}
        pieces = {}
        for signal in present & set(signals):
            mine = [
                (start, size, label[1])
                for start, size, label in windows
                if isinstance(label, tuple) and label[0] is signal
            ]
            # The normal case: the request is this signal's only (the others are foreign mixes).
            count = decoded if len(present) == 1 else sum(size for _, size, _ in mine)
            origin = 0 if len(present) == 1 else mine[0][0]
            lowest, highest = -self.POSITION_SLACK, signal.samples - count + self.POSITION_SLACK
            for start, size, segment in mine:
                if size < self.WINDOW:
                    continue  # a short final window: identity only
                centre = start - origin + self.WINDOW // 2
                lowest = max(lowest, segment * self.SEGMENT - self.POSITION_SLACK - centre)
                highest = min(highest, (segment + 1) * self.SEGMENT + self.POSITION_SLACK - centre)
            contiguous = lowest <= highest
            pieces[signal] = Piece(
                connection,
                request,
                count,
                lowest,
                highest,
                contiguous,
                repeated=max(0, count - signal.samples),
            )
        return pieces

    def unidentified(self, request: Any, signals: Iterable[Signal]) -> int:
        _, windows = self.analyse(request)
        signals = set(signals)
        return sum(
            size
            for _, size, label in windows
            if size == self.WINDOW
            and (
                label in (STRAY, UNDECODABLE)
                or (isinstance(label, tuple) and label[0] not in signals)
            )
        )


def request_samples(request: Any) -> np.ndarray:
    return request.pcm().astype(np.int32)


def pieces_of(emulator: Any, signal: Signal, marking: Marking = RAMPS) -> list[Piece]:
    """Every request's piece of `signal`, in arrival order (connection, then request)."""
    pieces = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            found = marking.request_pieces(connection.index, request, (signal,))
            if signal in found:
                pieces.append(found[signal])
    return pieces


def received_samples(emulator: Any, signal: Signal, marking: Marking = RAMPS) -> int:
    return sum(piece.count for piece in pieces_of(emulator, signal, marking))


def reached(emulator: Any, signal: Signal, marking: Marking = RAMPS) -> bool:
    return received_samples(emulator, signal, marking) > 0


def ended_whole(emulator: Any, signal: Signal, marking: Marking = RAMPS) -> bool:
    """True once one request holds the whole signal and has ended."""
    return any(
        piece.request.ended and piece.count == signal.samples
        for piece in pieces_of(emulator, signal, marking)
    )


class Fate(enum.Enum):
    """What must have become of a signal that was sent to the extension."""

    WHOLE = "whole, in one request that ended"
    WHOLE_ACROSS_SESSIONS = "whole, ordered, continued as a new request on the next session"
    # The README's rule for the utterance in flight when a session dies: what the dead
    # session accepted is lost with it (possibly all of it, end included), the rest
    # continues as a new request on the next session.
    CONTINUES = (
        "ordered, no duplicate, at most one piece per session; "
        "only a piece reaching the end is ended"
    )
    CUT = "at most a prefix, in one request that never ended"
    NOTHING = "nothing"
    ANY_ORDERED = "anything, but ordered and without duplicates"


def check_fate(emulator: Any, signal: Signal, fate: Fate, marking: Marking = RAMPS) -> list[str]:
    """Problems with what the emulator received of `signal` (empty when the fate holds).

    Counts lost and stale audio into the suite audit as it finds them (bytes of 16-bit
    PCM at the session rate, whatever the format on the wire)."""
    pieces = pieces_of(emulator, signal, marking)
    problems: list[str] = []
    received = sum(p.count for p in pieces)
    duplicated = 0
    for piece in pieces:
        if not piece.contiguous:
            problems.append(
                f"{signal.name}: request {piece.request.req_id} is not one contiguous ordered slice"
            )
            duplicated += piece.repeated
    for before, after in itertools.pairwise(pieces):
        # The earliest `before` can end against the latest `after` can start.
        overlap = before.start + before.count - after.start_latest
        if overlap > 0:
            problems.append(
                f"{signal.name}: samples {after.start_latest}..{before.start + before.count - 1} "
                "arrived twice or out of order"
            )
            duplicated += overlap
    if received > signal.samples:
        problems.append(
            f"{signal.name}: {received} samples reached Spatius, {signal.samples} were sent"
        )
    AUDIT.count("stale_audio_bytes", duplicated * 2)

    def missing_whole() -> None:
        lost = (signal.samples - received) * 2
        if lost > 0:
            AUDIT.count("lost_audio_bytes", lost)
            problems.append(
                f"{signal.name}: {lost} of {signal.samples * 2} bytes never reached Spatius"
            )

    if fate is Fate.WHOLE:
        missing_whole()
        if len(pieces) != 1 or not pieces[0].request.ended or not pieces[0].may_start_at(0):
            problems.append(
                f"{signal.name}: expected one ended request, got {[p.request for p in pieces]}"
            )
    elif fate is Fate.WHOLE_ACROSS_SESSIONS:
        missing_whole()
        if not pieces or not pieces[-1].request.ended:
            problems.append(f"{signal.name}: the continued request did not end")
    elif fate is Fate.CONTINUES:
        connections = [p.connection for p in pieces]
        if len(set(connections)) != len(connections):
            problems.append(
                f"{signal.name}: two requests on one session: {[p.request for p in pieces]}"
            )
        for piece in pieces:
            if piece.request.ended and not piece.may_start_at(signal.samples - piece.count):
                problems.append(
                    f"{signal.name}: request {piece.request.req_id} ended before the signal's end"
                )
    elif fate is Fate.CUT:
        if len(pieces) > 1 or (
            pieces and (not pieces[0].may_start_at(0) or pieces[0].request.ended)
        ):
            problems.append(
                f"{signal.name}: expected at most a prefix in one unended request: "
                f"{[p.request for p in pieces]}"
            )
    elif fate is Fate.NOTHING:
        if received:
            AUDIT.count("stale_audio_bytes", received * 2)
            problems.append(
                f"{signal.name}: {received * 2} bytes reached Spatius but none should have"
            )
    return problems


def foreign_mixes(emulator: Any, signals: Iterable[Signal], marking: Marking = RAMPS) -> list[str]:
    """Requests that carry audio of more than one signal (two turns in one request), or
    audio of none of them."""
    signals = list(signals)
    problems = []
    for connection in emulator.recording.connections:
        for request in connection.requests:
            found = marking.request_pieces(connection.index, request, signals)
            owners = [s.name for s in signals if s in found]
            if len(owners) > 1:
                problems.append(f"request {request.req_id} mixes {owners}")
            stray = marking.unidentified(request, signals)
            if stray:
                problems.append(
                    f"request {request.req_id} carries {stray} samples of no signal sent"
                    " (or does not decode)"
                )
    return problems


# ----- stand-in records (None under the real runtime, which records nothing) -----


def last_run_record() -> Any | None:
    try:  # by module path: the real runtime's package has no `standin` attribute
        standin = importlib.import_module("ten_runtime.standin")
    except ImportError:
        return None
    return standin.last_run()


def extension_logs(record: Any) -> list[tuple[str, str]]:
    """(level, message) of the extension's log lines in a run record."""
    return [
        (entry.level.name, entry.message)
        for entry in record.logs
        if entry.node == "spatius_avatar_python"
    ]


def guard_catches(record: Any) -> list[str]:
    """Exceptions the extension's last line of defence caught: each one is a bug it hid."""
    return [
        message
        for level, message in extension_logs(record)
        if level == "ERROR"
        and (" failed: " in message and message.split(" ", 1)[0].startswith(("on_", "cmd")))
    ]


def error_payload_problems(payload: dict[str, Any]) -> list[str]:
    problems = []
    if (
        payload.get("module") != "avatar"
        or payload.get("code") not in (-1000, 1000)
        or not payload.get("message")
    ):
        problems.append(f"malformed error payload {payload}")
    vendor = payload.get("vendor_info")
    if vendor is not None and vendor.get("vendor") != "spatius":
        problems.append(f"vendor_info without vendor spatius: {payload}")
    return problems


# ----- what the TTS sent, and the loss the extension reported -----


class _LoggingEnv:
    """The tester's env, noting (time, samples) of every audio frame sent through it."""

    def __init__(self, env: Any, log: list[tuple[float, int]]) -> None:
        self._env, self._log = env, log

    async def send_audio_frame(self, frame: Any) -> Any:
        self._log.append((time.monotonic(), frame.get_samples_per_channel()))
        return await self._env.send_audio_frame(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


class TimedScenario(AvatarScenario):
    """An AvatarScenario that notes when each frame went out and each data message came in."""

    def __init__(self, script: Any) -> None:
        super().__init__(script)
        self.sent: list[tuple[float, int]] = []  # (monotonic time, samples) per frame sent
        self.arrived: list[float] = []  # monotonic arrival time of each received.data entry

    async def frames(self, ten_env: Any, *args: Any, **kwargs: Any) -> int:
        # _LoggingEnv forwards everything else to the real env: an AsyncTenEnvTester by duck type.
        logging_env = cast("AsyncTenEnvTester", _LoggingEnv(ten_env, self.sent))
        return await super().frames(logging_env, *args, **kwargs)

    async def on_data(self, ten_env: Any, data: Any) -> None:
        await super().on_data(ten_env, data)
        self.arrived.append(time.monotonic())

    def sent_between(self, start: float, end: float) -> int:
        return sum(samples for at, samples in self.sent if start <= at <= end)


@dataclass(frozen=True)
class LossReport:
    at: float  # when the tester received it
    seconds: float
    turn_id: Any  # the metadata's turn_id (None: the report named no turn)


LOSS_IN_MESSAGE = re.compile(r"(\d+(?:\.\d+)?) s of speech\b[^;]*\blost")


def loss_reports(tester: TimedScenario) -> list[LossReport]:
    """Every `metrics` payload with `audio_lost_seconds` the extension sent."""
    return [
        LossReport(
            at,
            float(payload["metrics"]["audio_lost_seconds"]),
            (payload.get("metadata") or {}).get("turn_id"),
        )
        for (name, payload), at in zip(tester.received.data, tester.arrived, strict=True)
        if name == "metrics" and "audio_lost_seconds" in payload.get("metrics", {})
    ]


def losses_in_error_messages(tester: AvatarScenario) -> list[float]:
    """Seconds of lost speech that transient (1000) errors state in their message."""
    return [
        float(m.group(1))
        for e in tester.received.errors
        if e.get("code") == 1000
        for m in [LOSS_IN_MESSAGE.search(e.get("message", ""))]
        if m
    ]


# Loss is reported rounded to the millisecond; what an error message states, to 10 ms.
METRIC_ROUNDING_S = 0.0005
MESSAGE_ROUNDING_S = 0.005
# The extension estimates what a session had played by its own clock: audio plays from
# when it was sent, back to back. Audio it sent that the service never got (in flight
# when the connection died, or sent before it noticed) it may count as played, but never
# more than the time since the session's handshake (the first send came after it) minus
# the audio the service did get there. That bound is allowed for, per loss report, up to
# this much.
MAX_UNSEEN_PLAY_S = 0.25
# Lost audio is what a session had not played yet when it died. No utterance a test
# sends runs more than 1 s ahead of real time, so it was all sent in the 1.5 s before
# the extension noticed and reported the loss.
LOSS_WINDOW_S = 1.5


def loss_problems(tester: TimedScenario, *, turns: set[Any]) -> list[str]:
    """The loss reports themselves: each names one of `turns` (the only utterances a
    session can die with in the test), is no more than the audio sent in the
    LOSS_WINDOW_S before it, and the errors' messages state the same loss."""
    problems = []
    reports = loss_reports(tester)
    for report in reports:
        if report.turn_id not in turns:
            problems.append(
                f"{report.seconds} s of lost audio reported for turn {report.turn_id!r}, "
                f"not one of {sorted(turns)}"
            )
        window = tester.sent_between(report.at - LOSS_WINDOW_S, report.at)
        if report.seconds * RATE > window + METRIC_ROUNDING_S * RATE:
            problems.append(
                f"{report.seconds} s of lost audio reported, but the TTS sent only "
                f"{window / RATE:.3f} s in the {LOSS_WINDOW_S} s before"
            )
    stated = losses_in_error_messages(tester)
    metrics_total, stated_total = sum(r.seconds for r in reports), sum(stated)
    if abs(metrics_total - stated_total) > MESSAGE_ROUNDING_S * max(
        1, len(stated)
    ) + METRIC_ROUNDING_S * len(reports):
        problems.append(
            f"the metrics report {metrics_total:.3f} s of lost audio, the errors' messages "
            f"{stated_total:.3f} s ({stated})"
        )
    return problems


def unseen_play_s(emulator: Any, report: LossReport) -> float:
    """How much audio the extension may have counted as played, on the session `report`
    is about (the newest one the service closed), that the service never got: the time
    from its handshake to the report, less the audio the service got on it."""
    lost = [
        c
        for c in emulator.recording.sessions
        if c.closed_by in ("server", "abort") and c.confirmed_at <= report.at
    ]
    if not lost:
        return 0.0
    connection = max(lost, key=lambda c: c.confirmed_at)
    got = sum(len(r.pcm()) for r in connection.requests) / RATE
    return min(MAX_UNSEEN_PLAY_S, max(0.0, report.at - connection.confirmed_at - got))


def completeness_problems(
    emulator: Any, tester: TimedScenario, signal: Signal, turn_id: Any, marking: Marking = RAMPS
) -> list[str]:
    """Completeness from below for a signal the TTS sent whole: summed over every
    connection and request, nothing arrived twice (received <= sent), and whatever did
    not arrive is covered by the loss the extension reported for its turn:

        sent - received <= reported + tolerance,

    tolerance, in samples at the session rate: per loss report, its rounding
    (METRIC_ROUNDING_S) and what the extension's clock may have counted as played
    although it never arrived (unseen_play_s, at most MAX_UNSEEN_PLAY_S); per request of the
    signal cut short, `marking.cut_slack` (Ogg Opus: the encoder's look-ahead; PCM: nothing). An
    `audioDropped` error states no amount: where one may come, this check does not apply."""
    pieces = pieces_of(emulator, signal, marking)
    received = sum(p.count for p in pieces)
    sent = signal.samples
    reports = [r for r in loss_reports(tester) if r.turn_id == turn_id]
    reported = round(sum(r.seconds for r in reports) * RATE)
    tolerance = sum(round((METRIC_ROUNDING_S + unseen_play_s(emulator, r)) * RATE) for r in reports)
    tolerance += marking.cut_slack * sum(1 for p in pieces if not p.request.ended)
    problems = []
    if received > sent:
        problems.append(
            f"{signal.name}: {received - sent} samples more reached Spatius than the TTS sent"
        )
    if sent - received > reported + tolerance:
        unreported = sent - received - reported
        AUDIT.count("lost_audio_bytes", unreported * 2)
        problems.append(
            f"{signal.name}: {sent - received} of {sent} samples never reached Spatius, but only "
            f"{reported} were reported lost (tolerance {tolerance}): {unreported} lost silently"
        )
    return problems
