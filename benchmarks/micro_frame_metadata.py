"""What reading a frame's metadata costs per frame, and the cheaper reads there are.

Under the real TEN runtime (run it as bench_real_runtime is run, from the extension inside a
TEN app; under the test bed's stand-in the figures are the stand-in's). One `AudioFrame`
with the metadata a TTS sends (`{"session_id", "turn_id"}`, plus optionally a per-frame
field as the benchmark's fake TTS sends), read in a tight loop:

- `json`: `get_property_to_json("metadata")` (what `extension.py` does per frame today),
- `json+compare`: that plus the string compare with the last text (the cache: a TTS repeats
  the metadata for a turn, so the parse happens once per turn),
- `json+parse`: that plus `read_frame_metadata` (what a per-frame change forces),
- `fields`: `get_property_string("metadata.session_id")` + `get_property_int("metadata.turn_id")`
  (just the turn key's fields).

Run: python3 benchmarks/micro_frame_metadata.py [--frames 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.setup import prepare_paths  # noqa: E402

prepare_paths()

from ten_runtime import AudioFrame  # noqa: E402

from spatius_avatar_python.tts_messages import read_frame_metadata  # noqa: E402


def per_call_us(fn, frames: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for _ in range(frames):
            fn()
        best = min(best, time.perf_counter() - start)
    return 1e6 * best / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    args = parser.parse_args()
    import ten_runtime

    runtime = "stand-in" if hasattr(ten_runtime, "standin") else "real"
    try:
        import ten_runtime.standin

        runtime = "stand-in"
    except ImportError:
        pass
    for label, metadata in (
        ("turn metadata", {"session_id": "s-1", "turn_id": 3}),
        (
            "with per-frame fields (fake_tts)",
            {
                "session_id": "s-1",
                "turn_id": 3,
                "request_id": "r-1",
                "utterance": 0,
                "seq": 123,
                "sent_at": 12345.678,
            },
        ),
    ):
        frame = AudioFrame.create("pcm_frame")
        frame.set_property_from_json("metadata", json.dumps(metadata))
        last = [frame.get_property_to_json("metadata")[0]]

        def json_only(frame: AudioFrame = frame) -> None:
            frame.get_property_to_json("metadata")

        def json_compare(frame: AudioFrame = frame, last: list[str] = last) -> None:
            text, _ = frame.get_property_to_json("metadata")
            if text != last[0]:
                last[0] = text

        def json_parse(frame: AudioFrame = frame) -> None:
            text, _ = frame.get_property_to_json("metadata")
            read_frame_metadata(text)

        def fields(frame: AudioFrame = frame) -> None:
            frame.get_property_string("metadata.session_id")
            frame.get_property_int("metadata.turn_id")

        print(
            f"{runtime} runtime, {label}: "
            + ", ".join(
                f"{name} {per_call_us(fn, args.frames):.2f} us"
                for name, fn in (
                    ("json", json_only),
                    ("json+compare", json_compare),
                    ("json+parse", json_parse),
                    ("fields", fields),
                )
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
