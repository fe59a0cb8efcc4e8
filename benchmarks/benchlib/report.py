"""Plain-text tables of benchmark results."""

from __future__ import annotations

from typing import Any

SCALE_COLUMNS = (
    ("mode", 9),
    ("fmt", 9),
    ("in", 9),
    ("N", 4),
    ("cpu ms/s", 9),
    ("loop ms/s", 9),
    ("avatar", 8),
    ("p50 ms", 7),
    ("p99 ms", 7),
    ("max ms", 7),
    ("lag p99", 8),
    ("hold ms", 8),
    ("rss MB", 7),
    ("RT", 3),
)


def _cell(value: Any, width: int) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = str(value)
    return text.rjust(width)


def _yes_no(flag: bool | None) -> str:
    """A yes/no cell, "-" when the run did not say."""
    if flag is None:
        return "-"
    return "yes" if flag else "NO"


def print_scale_table(runs: list[dict[str, Any]], header: bool) -> None:
    if header:
        print(" ".join(name.rjust(width) for name, width in SCALE_COLUMNS))
    for run in runs:
        spec = run["spec"]
        if run.get("failed"):
            print(f"{spec} FAILED:\n{run.get('stderr', '')}")
            continue
        lat = run.get("latency") or {}
        row = (
            spec["mode"],
            spec["format"],
            f"{spec['rate'] // 1000}k/{spec['channels']}ch",
            spec["n"],
            run["cpu_ms_per_audio_s"],
            run["loop_busy_total_ms_per_session_audio_s"],
            run["loop_busy_ms_per_session_audio_s"].get(
                "avatar", run["loop_busy_ms_per_session_audio_s"].get("sdk")
            ),
            lat.get("p50_ms"),
            lat.get("p99_ms"),
            lat.get("max_ms"),
            (run.get("send_lag") or {}).get("p99_ms"),
            run["max_hold_ms"],
            run["rss_mb_end"],
            _yes_no(run.get("keeps_real_time")),
        )
        print(
            " ".join(_cell(v, w) for v, (_, w) in zip(row, SCALE_COLUMNS, strict=True)), flush=True
        )
