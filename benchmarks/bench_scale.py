"""Cost and scale: N concurrent sessions streaming real speech at real-time pace in 20 ms
frames through the extension in the fake graph (one graph, N fake_tts -> avatar pairs,
one shared extension loop) to the emulator in another process; and the same load from
the bare SDK (the floor), and through a do-nothing receiver (the control: what the fake
TTS and the runtime stand-in cost on their own).

Run: .venv/bin/python benchmarks/bench_scale.py [--quick]
Writes benchmarks/results/bench_scale.json (or bench_scale_quick.json).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.setup import REPO, prepare_paths

prepare_paths()

EMULATOR_ARGS = ("--no-keep-audio", "--no-compression", "--any-avatar")
SESSION_RATE = 24000
FRAME_MS = 20
REAL_TIME_P99_MS = 100.0  # "keeps real time": p99 of schedule -> arrival under this ...
REAL_TIME_DRAIN_MS = 100.0  # ... and every session's last audio arrives this soon after it was sent
REAL_TIME_GROWTH_MS = 20.0  # ... and latency does not grow over the run (last fifth vs first fifth)


# ---------------------------------------------------------------------------------------------
# worker: one (mode, N, format, input) run in a fresh process
# ---------------------------------------------------------------------------------------------
def conditioned_cum_seconds(
    pcm_in: bytes, rate: int, channels: int, frame_bytes: int
) -> list[float]:
    """Audio (seconds at the session rate) the extension has produced after each frame."""
    from fake_graph.audio_source import frame_sizes
    from spatius_avatar_python.audio import AudioConditioner, PcmFormat

    conditioner = AudioConditioner(SESSION_RATE)
    fmt = PcmFormat(rate, channels)
    total, cum, position = 0, [], 0
    for size in frame_sizes(len(pcm_in), frame_bytes):
        total += len(conditioner.process(pcm_in[position : position + size], fmt))
        position += size
        cum.append(total / 2 / SESSION_RATE)
    return cum


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:

    import numpy as np

    from benchlib.latency import check_clocks, frame_latencies, summarize_ms
    from benchlib.loop_meter import LoopMeter, window
    from benchlib.procstat import Sampler
    from benchlib.setup import speech_file
    from fake_graph.audio_source import load_pcm, to_channels
    from spatius_emulator.process import EmulatorProcess

    mode, n, audio_format = spec["mode"], spec["n"], spec["format"]
    rate, channels, seconds = spec["rate"], spec["channels"], spec["seconds"]
    opus = audio_format == "ogg_opus"
    frame_bytes = rate * FRAME_MS // 1000 * 2 * channels
    pcm_in = to_channels(load_pcm(speech_file(rate), rate, 0, int(seconds * 1000)), channels)
    settle_s = 1.5 + 0.04 * n  # let every session connect before the audio starts

    if mode == "floor":
        classify = lambda callback: "sdk"  # noqa: E731
    else:
        from benchlib.graph import classify_graph_callback as classify
    meter = LoopMeter(classify)
    meter.install()
    sampler = Sampler(meter)

    with EmulatorProcess(*EMULATOR_ARGS) as emulator:
        props = emulator.properties
        if mode == "floor":
            sessions = _run_floor(
                props, n, audio_format, pcm_in, frame_bytes, settle_s, meter, sampler
            )
            sent = {
                i: (np.array(s.sent_at), np.array(s.frame_bytes), np.array(s.due_at))
                for i, s in enumerate(sessions)
            }
            errors = [s.error for s in sessions if s.error]
            rss_start = sampler.samples[0].rss_mb
        else:
            sent, errors = _run_graph(mode, props, n, audio_format, spec, settle_s, meter, sampler)
            rss_start = sampler.samples[0].rss_mb
        stats = emulator.stats(chunks=True)
    meter.uninstall()

    cum_conditioned = (
        conditioned_cum_seconds(pcm_in, rate, channels, frame_bytes)
        if mode == "extension"
        else None
    )
    by_avatar: dict[str, list[dict[str, Any]]] = {}
    for conn in stats["connections"]:
        by_avatar.setdefault(conn["avatar_id"], []).append(conn)
    latencies, end_to_end, lags, drains, growth, reconnects = [], [], [], [], [], 0
    first_sent = min((t[0][0] for t in sent.values() if len(t[0])), default=0.0)
    last_sent = max((t[0][-1] for t in sent.values() if len(t[0])), default=0.0)
    audio_in_window = 0.0
    for i, (sent_at, nbytes, due_at) in sent.items():
        audio_in_window += float(nbytes.sum()) / (rate * channels * 2)
        lags.append(sent_at - due_at)
        if mode == "control" or not len(sent_at):
            continue
        conns = [c for c in by_avatar.get(f"avatar-{i}", []) if c["confirmed_s"] is not None]
        reconnects += max(0, len(conns) - 1)
        requests = conns[0]["requests"] if conns else []
        chunks = requests[0]["chunks"] if requests else []
        if cum_conditioned is not None:
            cum = np.array(cum_conditioned[: len(sent_at)])
        else:
            cum = np.cumsum(nbytes) / (2 * SESSION_RATE)
        lat, counted = frame_latencies(sent_at, cum, chunks, opus)
        end_to_end.append((lat + sent_at - due_at)[counted])
        lat = lat[counted]
        latencies.append(lat)
        if chunks:
            drains.append(chunks[-1][0] - sent_at[-1])
        valid = lat[~np.isnan(lat)]
        if len(valid) >= 10:
            fifth = len(valid) // 5
            growth.append(float(np.median(valid[-fifth:]) - np.median(valid[:fifth])))
    all_lat = np.concatenate(latencies) if latencies else np.array([])
    all_e2e = np.concatenate(end_to_end) if end_to_end else np.array([])
    all_lag = np.concatenate(lags) if lags else np.array([])
    lost = int(np.isnan(all_lat).sum()) if len(all_lat) else 0

    start_sample, end_sample = sampler.window(first_sent, last_sent)
    cpu_s = end_sample.cpu_s - start_sample.cpu_s
    loop_cpu_s = end_sample.loop_thread_cpu_s - start_sample.loop_thread_cpu_s
    measured_audio = (
        audio_in_window * (end_sample.at - start_sample.at) / max(1e-9, last_sent - first_sent)
    )
    loop = window(sampler.loop_snapshots, first_sent, last_sent)
    busy = loop["busy_s"]
    result = {
        "spec": spec,
        "clocks": check_clocks(),
        "sessions_confirmed": sum(1 for c in stats["connections"] if c["confirmed_s"] is not None),
        "errors": errors[:5],
        "reconnects": reconnects,
        "audio_seconds": round(audio_in_window, 2),
        "window_s": round(last_sent - first_sent, 2),
        "cpu_ms_per_audio_s": round(1000 * cpu_s / measured_audio, 3),
        "loop_thread_cpu_ms_per_audio_s": round(1000 * loop_cpu_s / measured_audio, 3),
        "loop_busy_ms_per_session_audio_s": {
            k: round(1000 * v / measured_audio, 3) for k, v in sorted(busy.items())
        },
        "loop_busy_total_ms_per_session_audio_s": round(
            1000 * sum(busy.values()) / measured_audio, 3
        ),
        "loop_utilisation": round(sum(busy.values()) / max(1e-9, loop["seconds"]), 3),
        "max_hold_ms": round(loop["max_hold_s"] * 1000, 2),
        "max_hold_category": loop["max_hold_category"],
        "latency": summarize_ms(all_lat) if mode != "control" else None,
        # The sender's own lateness against the real-time schedule (an overloaded loop sends
        # late), and schedule -> arrival: a run keeps real time only if this stays low.
        "send_lag": summarize_ms(all_lag),
        "schedule_to_arrival": summarize_ms(all_e2e) if mode != "control" else None,
        "frames_never_arrived": lost,
        "max_drain_ms": round(max(drains) * 1000, 1) if drains else None,
        "latency_growth_ms": round(max(growth) * 1000, 1) if growth else None,
        "rss_mb_start": round(rss_start, 1),
        "rss_mb_end": round(sampler.samples[-1].rss_mb, 1),
        "threads_end": sampler.samples[-1].threads,
    }
    if mode != "control":
        lat = result["latency"]
        result["keeps_real_time"] = bool(
            not errors
            and lost == 0
            and lat["p99_ms"] is not None
            and result["schedule_to_arrival"]["p99_ms"] < REAL_TIME_P99_MS
            and result["max_drain_ms"] is not None
            and result["max_drain_ms"] < REAL_TIME_DRAIN_MS
            and (result["latency_growth_ms"] or 0) < REAL_TIME_GROWTH_MS
            and result["sessions_confirmed"] >= n
        )
    return result


def _run_floor(props, n, audio_format, pcm_in, frame_bytes, settle_s, meter, sampler):
    import asyncio

    import spatius

    from benchlib.floor import FloorSession, new_floor_session, stream_floor_session

    spatius.configure_telemetry("")  # as the extension does with telemetry "off"
    frames = [pcm_in[i : i + frame_bytes] for i in range(0, len(pcm_in), frame_bytes)]

    async def main() -> list[FloorSession]:
        import threading

        meter.watch(asyncio.get_running_loop())
        sampler.loop_thread_id = threading.get_ident()
        sampler.start()
        records = [FloorSession(i) for i in range(n)]
        start = time.perf_counter() + settle_s
        sessions = [new_floor_session(props, i, audio_format) for i in range(n)]
        await asyncio.gather(
            *(
                stream_floor_session(s, r, frames, start + i * FRAME_MS / 1000 / n, FRAME_MS / 1000)
                for i, (s, r) in enumerate(zip(sessions, records, strict=True))
            )
        )
        await asyncio.sleep(1.0)  # let the last audio arrive before closing
        sampler.stop()
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
        return records

    return asyncio.run(main())


def _run_graph(mode, props, n, audio_format, spec, settle_s, meter, sampler):
    import threading

    import numpy as np
    from ten_runtime import standin

    from benchlib.graph import (
        AVATAR_ADDON,
        NULL_ADDON,
        avatar_property,
        pairs_graph,
        run_until_flag,
        tts_done,
    )
    from benchlib.setup import speech_file
    from fake_graph import registry

    standin.set_message_recording(False)
    rate, channels = spec["rate"], spec["channels"]

    def tts_script(i: int) -> dict[str, Any]:
        return {
            "session_id": f"s{i}",
            "pace": 1.0,
            # Sessions start at evenly spread phases of the 20 ms frame period, as independent
            # conversations would, instead of all in the same millisecond.
            "start_delay_ms": settle_s * 1000 + i * FRAME_MS / n,
            "utterances": [
                {
                    "request_id": f"r{i}",
                    "turn_id": 1,
                    "pcm_file": str(speech_file(rate)),
                    "sample_rate": rate,
                    "channels": channels,
                    "max_ms": int(spec["seconds"] * 1000),
                }
            ],
        }

    def receiver(i: int) -> tuple[str, dict[str, Any]]:
        if mode == "control":
            return NULL_ADDON, {}
        return AVATAR_ADDON, avatar_property(props, i, audio_format)

    done = threading.Event()

    def watch() -> None:
        while (loop := standin.app_loop()) is None:
            time.sleep(0.01)
        meter.watch(loop)
        ident: list[int] = []
        loop.call_soon_threadsafe(lambda: ident.append(threading.get_ident()))
        while not ident:
            time.sleep(0.005)
        sampler.loop_thread_id = ident[0]
        sampler.start()
        profiler = _start_loop_profiler(loop) if spec.get("profile") else None
        while not tts_done(n):
            time.sleep(0.1)
        time.sleep(1.0)  # let the last audio arrive before the graph stops
        sampler.stop()
        if profiler is not None:
            _stop_loop_profiler(loop, profiler, spec)
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    error = run_until_flag(
        pairs_graph(n, tts_script, receiver), done, timeout_s=settle_s + spec["seconds"] + 120
    )
    errors = [] if error is None else [error.error_message()]
    sent = {}
    for i in range(n):
        frames = registry.node(f"tts-{i}").sent_frames
        sent[i] = (
            np.array([f.sent_at for f in frames]),
            np.array([f.nbytes for f in frames]),
            np.array([f.due_at for f in frames]),
        )
    return sent, errors


_gc_totals: dict[int, list[float]] = {}
_gc_started: list[float] = [0.0]


def _gc_timer(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _gc_started[0] = time.perf_counter()
    else:
        entry = _gc_totals.setdefault(info["generation"], [0.0, 0])
        entry[0] += time.perf_counter() - _gc_started[0]
        entry[1] += 1


def _start_loop_profiler(loop):
    """pyinstrument on the extension loop's thread only (it samples the thread that starts it)."""
    import threading

    from pyinstrument import Profiler

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    started = threading.Event()

    def start_on_loop() -> None:
        profiler.start()
        started.set()

    loop.call_soon_threadsafe(start_on_loop)
    started.wait(5)
    return profiler


def _stop_loop_profiler(loop, profiler, spec) -> None:
    import threading

    from benchlib.setup import RESULTS_DIR

    stopped = threading.Event()

    def stop_on_loop() -> None:
        profiler.stop()
        stopped.set()

    loop.call_soon_threadsafe(stop_on_loop)
    stopped.wait(5)
    name = (
        f"profile_loop_{spec['format']}_{spec['rate'] // 1000}k{spec['channels']}_n{spec['n']}.txt"
    )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / name).write_text(
        profiler.output_text(unicode=False, color=False, show_all=False)
    )


def worker_main(spec_json: str) -> None:
    import os

    if os.environ.get("BENCH_GC_DEBUG"):  # diagnostics: how much of the loop time is GC
        import gc

        gc.callbacks.append(_gc_timer)
    result = run_worker(json.loads(spec_json))
    if os.environ.get("BENCH_GC_DEBUG"):
        result["gc"] = {str(k): [round(v[0], 4), v[1]] for k, v in _gc_totals.items()}
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# orchestrator
# ---------------------------------------------------------------------------------------------
def run_in_subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=600)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {"spec": spec, "failed": True, "stderr": proc.stderr[-3000:]}


def add_ratios(ext: dict[str, Any], floor: dict[str, Any], control: dict[str, Any]) -> None:
    """The extension's figures as ratios to the floor; `minus_control` removes what the fake
    TTS and the runtime stand-in cost on their own (the control run)."""
    if any(r.get("failed") for r in (ext, floor, control)):
        return
    cpu_ext = ext["cpu_ms_per_audio_s"] - control["cpu_ms_per_audio_s"]
    loop_ext = (
        ext["loop_busy_total_ms_per_session_audio_s"]
        - control["loop_busy_total_ms_per_session_audio_s"]
    )
    ext["vs_floor"] = {
        "floor_cpu_ms_per_audio_s": floor["cpu_ms_per_audio_s"],
        "floor_loop_ms_per_session_audio_s": floor["loop_busy_total_ms_per_session_audio_s"],
        "cpu_minus_control_ms_per_audio_s": round(cpu_ext, 3),
        "cpu_ratio_raw": round(ext["cpu_ms_per_audio_s"] / floor["cpu_ms_per_audio_s"], 3),
        "cpu_ratio_minus_control": round(cpu_ext / floor["cpu_ms_per_audio_s"], 3),
        "loop_minus_control_ms_per_session_audio_s": round(loop_ext, 3),
        "loop_ratio_minus_control": round(
            loop_ext / floor["loop_busy_total_ms_per_session_audio_s"], 3
        ),
        "p99_ratio": round(ext["latency"]["p99_ms"] / floor["latency"]["p99_ms"], 3)
        if ext.get("latency") and floor.get("latency") and floor["latency"]["p99_ms"]
        else None,
    }


def _median(values: list[float | None]) -> float | None:
    import statistics

    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def run_targets(args: argparse.Namespace) -> None:
    """Medians of several interleaved runs of floor, extension (24 kHz mono, 16 kHz mono,
    48 kHz stereo in) and control, at --targets-n sessions, per format."""
    from benchlib.stamp import write_result

    seconds = 6.0
    cases = [
        ("floor", 24000, 1),
        ("extension", 24000, 1),
        ("extension", 16000, 1),
        ("extension", 48000, 2),
        ("control", 24000, 1),
    ]
    runs: list[dict[str, Any]] = []
    medians: list[dict[str, Any]] = []
    for fmt in args.formats.split(","):
        for n in [int(x) for x in args.targets_n.split(",")]:
            per_case: dict[tuple[str, int, int], list[dict[str, Any]]] = {c: [] for c in cases}
            for _ in range(args.repeats):  # interleaved, so drift on a noisy machine hits all alike
                for mode, rate, channels in cases:
                    run = run_in_subprocess(spec(mode, n, fmt, rate, channels, seconds))
                    runs.append(run)
                    if not run.get("failed"):
                        per_case[(mode, rate, channels)].append(run)
            for (mode, rate, channels), done in per_case.items():

                def med(
                    get: Callable[[dict[str, Any]], float | None],
                    runs: list[dict[str, Any]] = done,
                ) -> float | None:
                    return _median([get(r) for r in runs])

                medians.append(
                    {
                        "mode": mode,
                        "format": fmt,
                        "n": n,
                        "rate": rate,
                        "channels": channels,
                        "runs": len(done),
                        "cpu_ms_per_audio_s": med(lambda r: r["cpu_ms_per_audio_s"]),
                        "loop_total_ms_per_session_audio_s": med(
                            lambda r: r["loop_busy_total_ms_per_session_audio_s"]
                        ),
                        "loop_own_ms_per_session_audio_s": med(
                            lambda r: r["loop_busy_ms_per_session_audio_s"].get(
                                "avatar", r["loop_busy_ms_per_session_audio_s"].get("sdk")
                            )
                        ),
                        "p50_ms": med(lambda r: (r.get("latency") or {}).get("p50_ms")),
                        "p99_ms": med(lambda r: (r.get("latency") or {}).get("p99_ms")),
                        "max_hold_ms": med(lambda r: r["max_hold_ms"]),
                        "max_hold_ms_worst": max((r["max_hold_ms"] for r in done), default=None),
                        "keeps_real_time": [r.get("keeps_real_time") for r in done],
                    }
                )
                print(json.dumps(medians[-1]), flush=True)
    path = write_result("bench_scale_targets", {"medians": medians, "runs": runs})
    print(f"wrote {path.relative_to(REPO)}")


def spec(
    mode: str, n: int, fmt: str, rate: int = 24000, channels: int = 1, seconds: float = 10.0
) -> dict[str, Any]:
    return {
        "mode": mode,
        "n": n,
        "format": fmt,
        "rate": rate,
        "channels": channels,
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small runs, under a minute")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--ladder", default=None, help="session counts, e.g. 1,10,50,100,150")
    parser.add_argument("--formats", default="pcm_s16le,ogg_opus")
    parser.add_argument(
        "--targets",
        action="store_true",
        help="instead: medians of --repeats runs at --targets-n sessions, for the target table",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--targets-n", default="50", help="session counts for --targets, e.g. 10,50"
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: profile the extension loop with pyinstrument at N sessions (per format)",
    )
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    if args.profile:
        for fmt in args.formats.split(","):
            run = run_in_subprocess(
                {**spec("extension", args.profile, fmt, seconds=6.0), "profile": True}
            )
            print(
                f"{fmt}: loop profile in benchmarks/results/"
                f"profile_loop_{fmt}_24k1_n{args.profile}.txt"
                if not run.get("failed")
                else run
            )
        return
    from benchlib.report import print_scale_table
    from benchlib.stamp import write_result

    if args.targets:
        run_targets(args)
        return
    seconds = 4.0 if args.quick else 8.0
    ladder = [
        int(x)
        for x in (args.ladder or ("1,20" if args.quick else "1,10,50,100,150,200")).split(",")
    ]
    conversion_n = ladder[:2] if args.quick else [1, 50]
    runs: list[dict[str, Any]] = []
    for fmt in args.formats.split(","):
        for n in ladder:
            floor = run_in_subprocess(spec("floor", n, fmt, seconds=seconds))
            ext = run_in_subprocess(spec("extension", n, fmt, seconds=seconds))
            control = run_in_subprocess(spec("control", n, fmt, seconds=seconds))
            add_ratios(ext, floor, control)
            runs += [floor, ext, control]
            print_scale_table(
                [floor, ext, control], header=(n == ladder[0] and fmt == args.formats.split(",")[0])
            )
            if not ext.get("keeps_real_time", False) and not floor.get("keeps_real_time", False):
                break
            if not ext.get("keeps_real_time", False):
                break
        for n in conversion_n:
            for rate, channels in ((16000, 1), (48000, 2)):
                conv = run_in_subprocess(spec("extension", n, fmt, rate, channels, seconds))
                runs.append(conv)
                print_scale_table([conv], header=False)
    path = write_result("bench_scale_quick" if args.quick else "bench_scale", {"runs": runs})
    print(f"\nwrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
