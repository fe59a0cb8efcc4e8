"""`demo`: a fake voice agent streams real speech through the real avatar extension to a
local Spatius emulator, barges in during the second utterance, and reports what the
service received and played, how fast the interruption reached it, and whether any audio
of the interrupted turn leaked after the flush.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..opus import opus_library_problem
from .demo_report import checks, report_lines
from .live_output import LiveOutput, check_marks
from .paths import EXTENSION_DIR, use_testbed
from .speech_file import SpeechFileError, read_speech, sample_utterances, split_at_pauses

FORMATS = ("ogg_opus", "pcm_s16le")
MIN_UTTERANCES = 2  # the barge-in happens in the second one


def pace_argument(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.1 <= value <= 100:
        raise argparse.ArgumentTypeError("the pace must be from 0.1 to 100 (1 = real time)")
    return value


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "demo",
        help="stream real speech through the extension to a local Spatius emulator, with a barge-in",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without --wav it uses a built-in speech sample (11.7 s, the project's own) in three utterances. Exits 0 "
        "when every check in the report passed, 1 otherwise. Needs nothing but loopback.",
    )
    parser.add_argument(
        "--wav",
        type=Path,
        metavar="FILE",
        help="speech to use: WAV, FLAC, OGG (Vorbis/Opus) or MP3; cut into utterances at its pauses",
    )
    parser.add_argument(
        "--pace",
        type=pace_argument,
        default=1.0,
        metavar="X",
        help="speed of the TTS relative to real time (default 1; the tests use a fast pace)",
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help="audio format of the Spatius session (default ogg_opus, pcm_s16le without the Opus library)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    out = LiveOutput()
    try:
        speech, bounds = (read_speech(args.wav), None) if args.wav else sample_utterances()
    except SpeechFileError as error:
        print(f"demo: {error}")
        return 2
    mono = speech.mono()
    if bounds is None:
        bounds = split_at_pauses(mono, speech.sample_rate)
    if len(bounds) < MIN_UTTERANCES:
        print(
            f"demo: {args.wav} is {speech.duration_s:.1f} s long: the demo needs at least "
            f"{MIN_UTTERANCES} utterances (about 2 s of speech) to barge in during the second"
        )
        return 2
    audio_format = args.format or ("ogg_opus" if opus_library_problem() is None else "pcm_s16le")
    if audio_format == "ogg_opus" and (problem := opus_library_problem()):
        print(f"demo: ogg_opus needs the system Opus library: {problem}; or use --format pcm_s16le")
        return 2

    use_testbed()
    _expose_extension_to_standin()
    from .demo_run import SESSION_RATE, run_demo  # imports the test bed

    planned = [(end - start) / speech.sample_rate for start, end in bounds]
    source = args.wav or "the built-in sample"
    print(
        f"Demo: {source}, {speech.duration_s:.1f} s at {speech.sample_rate} Hz in {len(bounds)} utterances "
        f"({', '.join(f'{s:.1f} s' for s in planned)}); session {audio_format} at {SESSION_RATE} Hz; pace {args.pace:g}"
    )
    if args.format is None and audio_format == "pcm_s16le":
        print(
            f"Note: this demo runs with PCM (pcm_s16le), not the default Ogg Opus, because the system Opus "
            f"library is missing: {opus_library_problem()}"
        )
    with tempfile.TemporaryDirectory(prefix="spatius_demo_") as folder:
        files = _utterance_files(Path(folder), mono, bounds)
        outcome = run_demo(
            files, planned, speech.sample_rate, pace=args.pace, audio_format=audio_format, out=out
        )

    results = checks(outcome.facts)
    if outcome.failure:
        print(f"demo: {outcome.failure}")
    for line in report_lines(
        outcome.facts,
        results,
        audio_format=audio_format,
        sample_rate=SESSION_RATE,
        marks=check_marks(),
        completed=outcome.completed,
    ):
        print(line)
    print(f"(ran {outcome.elapsed_s:.1f} s)")
    passed = outcome.completed and outcome.failure is None and all(c.passed for c in results)
    return 0 if passed else 1


def _utterance_files(folder: Path, mono: np.ndarray, bounds: list[tuple[int, int]]) -> list[Path]:
    """One raw s16le file per utterance: what the scripted TTS plays."""
    files = []
    for number, (start, end) in enumerate(bounds, start=1):
        path = folder / f"utterance_{number}.pcm"
        path.write_bytes(np.ascontiguousarray(mono[start:end], dtype="<i2").tobytes())
        files.append(path)
    return files


def _expose_extension_to_standin() -> None:
    """The stand-in loads addons from the folders in TEN_STANDIN_EXTENSION_PATH, as a TEN
    app loads them from ten_packages/extension: list this extension's folder there."""
    entries = [e for e in os.environ.get("TEN_STANDIN_EXTENSION_PATH", "").split(os.pathsep) if e]
    if str(EXTENSION_DIR) not in entries:
        os.environ["TEN_STANDIN_EXTENSION_PATH"] = os.pathsep.join([*entries, str(EXTENSION_DIR)])
