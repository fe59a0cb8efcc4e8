"""Cost and scale under the REAL TEN runtime: N avatar instances in one TEN app, fed by N
scripted TTS nodes (`fake_tts`) with the project's own speech at real-time pace in 20 ms
frames, streaming to the Spatius emulator in another process; and the same load into a
do-nothing extension (`benchmarks/do_nothing_extension`, addon `bench_do_nothing`) that
prices the TTS and the runtime's delivery. The avatar's cost is the difference, taken
within one repeat (the two passes run back to back).

Needs a TEN app: this extension at <app>/ten_packages/extension/spatius_avatar_python and
the app's ten_runtime_python on PYTHONPATH, as tests/bin/start sets it (see
benchmarks/README.md, "Under the real TEN runtime"). Without a real `ten_runtime` it says
how to run it and exits 2.

Run (from the extension folder inside the app):
    python3 benchmarks/bench_real_runtime.py [--quick] [--ladder 1,10,50,100] [--repeats 3]
    python3 benchmarks/bench_real_runtime.py --profile 1 [--formats ogg_opus]   (py-spy)
Writes benchmarks/results/bench_real_runtime.json (…_quick.json) and a table (.txt) there,
or under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

EMULATOR_ARGS = (
    "--no-keep-audio",
    "--any-avatar",
)  # + "--no-compression" unless the pass accepts deflate
SESSION_RATE = 24000
FRAME_MS = 20
AVATAR_ADDON = "spatius_avatar_python"
DO_NOTHING_ADDON = "bench_do_nothing"
DO_NOTHING_SRC = HERE / "do_nothing_extension"
FLOOR_ADDON = "bench_floor"
FLOOR_SRC = HERE / "floor_extension"
RECEIVERS = {"null": DO_NOTHING_ADDON, "floor": FLOOR_ADDON, "avatar": AVATAR_ADDON}
# The realistic TTS load: turns of 1.5-4 s of speech in 40-100 ms chunks with pauses between
# them, as a TTS on TEN's TTS2 base sends them (one tts_audio_start/end per turn).
TTS_CHUNK_MS = (40, 60, 80, 100)
TTS_TURN_MS = (2500, 1500, 4000, 3000, 2000)
TTS_PAUSE_MS = 700
# Barge-in passes (flush -> interrupt): turns of 1.5 s in 20 ms frames, a flush 0.5 s into each.
BARGE_TURN_MS = 1500
BARGE_AFTER_FRAMES = 25
BARGE_PAUSE_MS = 300
REAL_TIME_P99_MS = 100.0  # "keeps real time", as bench_scale: p99 schedule -> arrival under this,
REAL_TIME_DRAIN_MS = 100.0  # the last audio arrives this soon after it was sent,
REAL_TIME_GROWTH_MS = 20.0  # and the latency does not grow over the run.
EXIT_NO_RUNTIME = 2


# ---------------------------------------------------------------------------------------------
# the real runtime, or how to get it
# ---------------------------------------------------------------------------------------------
def find_real_runtime() -> tuple[Path | None, str]:
    """(the TEN app's root, the runtime's version) when the real ten_runtime imports;
    (None, why not) otherwise. The test bed's stand-in does not count."""
    try:
        import ten_runtime

        # the real binding's native module; it exists only inside a TEN app, so it has no
        # stub here
        import libten_runtime_python  # type: ignore[import-not-found]  # noqa: F401
    except Exception as error:  # ImportError, or an OSError from a missing shared library
        return None, f"`import ten_runtime` failed: {error!r}"
    try:
        import ten_runtime.standin

        return None, "the ten_runtime found is the test bed's stand-in, not TEN's"
    except ImportError:
        pass
    package = (
        Path(ten_runtime.__file__).resolve().parent
    )  # <app>/ten_packages/system/ten_runtime_python/interface/ten_runtime
    app = package.parents[4]
    try:
        manifest = json.loads((app / "manifest.json").read_text())
        version = json.loads((package.parents[1] / "manifest.json").read_text()).get("version", "?")
    except (OSError, ValueError):
        return (
            None,
            f"ten_runtime imports from {package}, but {app} is not a TEN app (no manifest.json)",
        )
    if manifest.get("type") != "app":
        return None, f"{app}/manifest.json is not of type app"
    return app, version


def how_to_run(reason: str) -> str:
    app = REPO.parents[2] if len(REPO.parents) > 2 else REPO  # <app>/ten_packages/extension/<this>
    runtime = app / "ten_packages" / "system" / "ten_runtime_python"
    libpython = Path(sysconfig.get_config_var("LIBDIR") or "") / (
        sysconfig.get_config_var("LDLIBRARY") or ""
    )
    lines = [
        "bench_real_runtime needs the real TEN runtime (" + reason + ").",
        "",
        "Run it from this extension inside a TEN app, laid out as",
        '  <app>/manifest.json                                 ("type": "app")',
        "  <app>/ten_packages/system/ten_runtime/              "
        "(libten_runtime.so, libten_utils.so)",
        "  <app>/ten_packages/system/ten_runtime_python/       "
        "(lib/libten_runtime_python.so, interface/ten_runtime/)",
        "  <app>/ten_packages/addon_loader/python_addon_loader/",
        "  <app>/ten_packages/extension/spatius_avatar_python/ (this folder)",
        "with a Python that has requirements-dev.txt installed, and the runtime on PYTHONPATH",
        "as tests/bin/start sets it:",
    ]
    if (runtime / "lib").is_dir():
        lines += [
            f"  cd {REPO}",
            f"  PYTHONPATH={runtime}/lib:{runtime}/interface:{app} \\",
            f"  TEN_PYTHON_LIB_PATH={libpython} \\",
            (
                f"  {sys.executable} benchmarks/bench_real_runtime.py {' '.join(sys.argv[1:])}"
            ).rstrip(),
        ]
    else:
        lines += [
            "  cd <app>/ten_packages/extension/spatius_avatar_python",
            "  PYTHONPATH=<app>/ten_packages/system/ten_runtime_python/lib:"
            "<app>/ten_packages/system/ten_runtime_python/interface:<app> \\",
            "  TEN_PYTHON_LIB_PATH=/path/to/libpython3.x.so "
            "python3 benchmarks/bench_real_runtime.py",
        ]
    lines += [
        "",
        "(TEN_PYTHON_LIB_PATH: only when the addon loader does not find your libpython by itself.)",
        "Without a TEN app, benchmarks/bench_scale.py measures the same load "
        "in the test bed's stand-in.",
    ]
    return "\n".join(lines)


def install_do_nothing(
    app: Path, src: Path = DO_NOTHING_SRC, addon: str = DO_NOTHING_ADDON
) -> Path:
    """Copies a benchmark extension (the do-nothing one, or the floor) into the app as
    ten_packages/extension/<addon> (replacing an older copy): the app's addon loader
    imports it from there by name."""
    dest = app / "ten_packages" / "extension" / addon
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# ---------------------------------------------------------------------------------------------
# worker: one pass (mode, N, format) in a fresh process (a second tester run in one process
# aborts under the real runtime)
# ---------------------------------------------------------------------------------------------
def _node_of(host: Any) -> str:
    name = getattr(host, "name", "") or ""
    return "tts" if name.startswith("tts") else "avatar" if name.startswith("avatar") else "other"


def classify_real_callback(callback: Any) -> str:
    """Category of a callback on the app's shared Python loop (real runtime):
    <node>.delivery  the runtime's run_coroutine_threadsafe callback that creates a message's
                     handler task (one per message delivered to the node)
    runtime.done     a handler task's completion passed to the runtime's concurrent future
    <node>.handler   steps of the runtime's handler tasks (_wrapper_on_audio_frame, ...):
                     for the avatar, our on_audio_frame / on_data / on_cmd and all they call
    avatar.owner     the streamer's tasks (owner loop: send_next, SDK send_audio, socket write)
    avatar.io        websockets/aiohttp tasks, socket read/write callbacks
    avatar.opus_hop  results of the off-loop Opus encoder handed to the loop (OpusWorker: one
                     call per batch of jobs)
    tts.task         the fake TTS's own pacing task (frame build + send_audio_frame)
    asyncio          self-pipe reads and other loop internals."""
    import asyncio
    import inspect

    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        code = getattr(coro, "cr_code", None)
        frame = getattr(coro, "cr_frame", None)
        name = code.co_name if code is not None else ""
        filename = code.co_filename if code is not None else ""
        if name.startswith(("_wrapper_on_", "_proxy_async_on_", "_configure_routine")):
            host = frame.f_locals.get("self") if frame is not None else None
            return f"{_node_of(host)}.handler"
        if "streamer.py" in filename or "/spatius/" in filename:
            return "avatar.owner"
        if "websockets" in filename or "aiohttp" in filename:
            return "avatar.io"
        if "fake_graph" in filename:
            return "tts.task"
        if "spatius_avatar_python" in filename:
            return "avatar.owner"
        return "other"
    if owner is not None:
        module = type(owner).__module__
        if module.startswith(("websockets", "aiohttp")):
            return "avatar.io"
        if module.startswith("spatius_avatar_python"):
            return "avatar.owner"  # the batching hold's timer waking the owner
        if module.startswith("asyncio"):
            return "avatar.io" if getattr(owner, "_protocol", None) is not None else "asyncio"
        return "other"
    qualname = getattr(callback, "__qualname__", "") or ""
    if "run_coroutine_threadsafe" in qualname:
        for cell in getattr(callback, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:
                continue
            if inspect.iscoroutine(value) and value.cr_frame is not None:
                return f"{_node_of(value.cr_frame.f_locals.get('self'))}.delivery"
        return "other.delivery"
    if "_call_set_state" in qualname:
        # run_coroutine_threadsafe's task finished: its result goes to the runtime's future
        return "runtime.done"
    if (
        qualname in ("_set_state", "_copy_future_state")
        or "run_in_executor" in qualname
        or "_call_check_cancel" in qualname
    ):
        # a worker thread's result handed to the loop (call_soon_threadsafe): the Opus
        # encoder's jobs
        return "avatar.opus_hop"
    module = getattr(callback, "__module__", "") or ""
    if module == "spatius_avatar_python.opus_worker":
        return "avatar.opus_hop"  # the encoder thread's batch of results
    if module.startswith("fake_graph"):
        return "tts.task"
    return "asyncio"


def _thread_ticks() -> dict[int, tuple[str, int]]:
    """Per OS thread of this process: (comm, utime+stime in clock ticks)."""
    out: dict[int, tuple[str, int]] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (comm, int(fields[11]) + int(fields[12]))
    return out


def _thread_group(name: str) -> str:
    if name == "PythonGlobalMainThread":
        return "python loop (all extensions)"
    if name.startswith("spatius-opus"):
        return "opus encoder threads"
    if name.startswith("bench-") or name == "MainThread":
        return "benchmark (sampler, main)"
    if name.startswith("py:"):
        return "tester loop"
    return f"runtime native: {name}"


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from benchlib.setup import prepare_paths

    prepare_paths()  # the repo root and the test bed (the real ten_runtime is already importable)
    from benchlib import graph as bench_graph
    from benchlib.graph import avatar_property, pairs_graph, run_until_flag, tts_done
    from benchlib.latency import check_clocks, frame_latencies, summarize_ms
    from benchlib.loop_meter import LoopMeter, window
    from benchlib.procstat import Sampler, rss_mb
    from benchlib.setup import speech_file
    from fake_graph import registry
    from fake_graph.audio_source import load_pcm
    from spatius_emulator.process import EmulatorProcess
    from ten_runtime.global_thread_manager import GlobalThreadManager

    mode, n, audio_format, seconds = spec["mode"], spec["n"], spec["format"], spec["seconds"]
    load, deflate, barge = (
        spec.get("load", "frames20"),
        bool(spec.get("deflate")),
        bool(spec.get("barge")),
    )
    opus = audio_format == "ogg_opus"
    settle_s = 2.0 + 0.05 * n  # every session connects before the audio starts
    workdir = Path(tempfile.mkdtemp(prefix="bench_real_"))
    speech = workdir / "speech_24k.pcm"  # raw s16le: `seconds` of the fixture, looped if shorter
    fixture = load_pcm(speech_file(SESSION_RATE), SESSION_RATE)
    want = 2 * int(SESSION_RATE * seconds)
    speech.write_bytes((fixture * (want // len(fixture) + 1))[:want])

    class ThreadSampler(Sampler):
        """Sampler plus CPU ticks per OS thread, named by Python thread name where known."""

        def __init__(self, meter: LoopMeter) -> None:
            super().__init__(meter)
            self.threads: list[tuple[float, dict[int, tuple[str, int]]]] = []
            self.names: dict[int, str] = {}

        def _take(self) -> None:
            super()._take()
            for thread in threading.enumerate():
                if thread.native_id is not None:
                    label = thread.name
                    if thread.name.startswith("Thread-") and "(run)" in thread.name:
                        label = "py:" + thread.name  # asyncio.run: the tester's loop thread
                    elif thread.name.startswith("Dummy-"):
                        continue  # a runtime thread that called into Python: keep its OS name
                    self.names.setdefault(thread.native_id, label)
            self.threads.append((self.samples[-1].at, _thread_ticks()))

    meter = LoopMeter(classify_real_callback)
    meter.install()
    sampler = ThreadSampler(meter)
    done = threading.Event()
    streaming = threading.Event()
    loop_class: list[str] = []

    def tts_script(i: int) -> dict[str, Any]:
        # evenly spread phases of the 20 ms frame period, as independent conversations
        script: dict[str, Any] = {
            "session_id": f"s{i}",
            "pace": 1.0,
            "start_delay_ms": settle_s * 1000 + i * FRAME_MS / n,
        }
        turn = {"pcm_file": str(speech), "sample_rate": SESSION_RATE, "channels": 1}
        if barge:
            count = max(1, int(seconds * 1000 // (BARGE_TURN_MS + BARGE_PAUSE_MS)))
            script["pause_ms"] = BARGE_PAUSE_MS
            script["utterances"] = [
                dict(
                    turn,
                    request_id=f"r{i}-{u}",
                    turn_id=u + 1,
                    offset_ms=u * 700 % 15000,
                    max_ms=BARGE_TURN_MS,
                )
                for u in range(count)
            ]
        elif load == "tts":
            turns, total, u = [], 0, 0
            while total < seconds * 1000:
                length = TTS_TURN_MS[(u + i) % len(TTS_TURN_MS)]
                turns.append(
                    dict(
                        turn,
                        request_id=f"r{i}-{u}",
                        turn_id=u + 1,
                        offset_ms=total % 15000,
                        max_ms=length,
                        frame_ms=TTS_CHUNK_MS[(u + i) % len(TTS_CHUNK_MS)],
                    )
                )
                total += length
                u += 1
            script["pause_ms"] = TTS_PAUSE_MS
            script["utterances"] = turns
        else:
            script["utterances"] = [dict(turn, request_id=f"r{i}", turn_id=1)]
        return script

    def watch() -> None:
        manager = GlobalThreadManager()
        # _main_loop / _main_thread: private attributes of the real runtime's
        # GlobalThreadManager (the stand-in's types do not declare them), read with getattr
        main_loop = getattr(manager, "_main_loop", None)
        main_thread = getattr(manager, "_main_thread", None)
        while main_loop is None or main_thread is None:
            time.sleep(0.005)
            main_loop = getattr(manager, "_main_loop", None)
            main_thread = getattr(manager, "_main_thread", None)
        meter.watch(main_loop)
        loop_class.append(type(main_loop).__module__ + "." + type(main_loop).__name__)
        sampler.loop_thread_id = main_thread.ident
        sampler.start()
        while not registry.node("tts-0").sent_frames:
            time.sleep(0.01)
        print(f"STREAMING {os.getpid()}", flush=True)  # the orchestrator may attach a profiler now
        streaming.set()
        while not tts_done(n):
            time.sleep(0.1)
        time.sleep(1.0)  # the last audio arrives before the graph stops
        sampler.stop()
        done.set()

    def run_graph(props: dict[str, Any] | None) -> list[str]:
        def receiver(i: int) -> tuple[str, dict[str, Any]]:
            if mode == "null":
                return DO_NOTHING_ADDON, {}
            assert props is not None  # every mode but "null" runs with the emulator's properties
            return RECEIVERS[mode], avatar_property(props, i, audio_format)

        threading.Thread(target=watch, name="bench-watch", daemon=True).start()
        extra_nodes, extra_connections = None, None
        if barge:  # a main_control-like node sends flush to the receiver and the TTS at once
            bench_graph.flushes.clear()
            plan = [[u, BARGE_AFTER_FRAMES] for u in range(len(tts_script(0)["utterances"]))]
            extra_nodes = [
                {
                    "type": "extension",
                    "name": "barger",
                    "addon": bench_graph.BARGER_ADDON,
                    "property": {"tts": "tts-0", "plan": plan},
                }
            ]
            extra_connections = [
                {
                    "extension": "barger",
                    "cmd": [
                        {
                            "name": "flush",
                            "dest": [{"extension": "avatar-0"}, {"extension": "tts-0"}],
                        }
                    ],
                }
            ]
        graph = pairs_graph(n, tts_script, receiver, extra_nodes, extra_connections)
        error = run_until_flag(graph, done, timeout_s=settle_s + seconds + 120)
        return [] if error is None else [error.error_message()]

    stats: dict[str, Any] = {"connections": []}
    if mode == "null":
        errors = run_graph(None)
    else:
        with EmulatorProcess(
            *EMULATOR_ARGS, *(() if deflate else ("--no-compression",))
        ) as emulator:
            errors = run_graph(emulator.properties)
            stats = emulator.stats(chunks=True)
    meter.uninstall()
    shutil.rmtree(workdir, ignore_errors=True)

    sent = {}
    for i in range(n):
        frames = registry.node(f"tts-{i}").sent_frames
        sent[i] = (
            np.array([f.sent_at for f in frames]),
            np.array([f.nbytes for f in frames]),
            np.array([f.due_at for f in frames]),
        )
    by_avatar: dict[str, list[dict[str, Any]]] = {}
    for conn in stats["connections"]:
        by_avatar.setdefault(conn["avatar_id"], []).append(conn)
    latencies, end_to_end, lags, drains, growth, firsts, laters = [], [], [], [], [], [], []
    utterance_of = {
        i: np.array([f.utterance for f in registry.node(f"tts-{i}").sent_frames]) for i in range(n)
    }
    first_sent = min((t[0][0] for t in sent.values() if len(t[0])), default=0.0)
    last_sent = max((t[0][-1] for t in sent.values() if len(t[0])), default=0.0)
    audio_in_window = 0.0
    for i, (sent_at, nbytes, due_at) in sent.items():
        audio_in_window += float(nbytes.sum()) / (SESSION_RATE * 2)
        lags.append(sent_at - due_at)
        if mode == "null" or not len(sent_at):
            continue
        conns = [c for c in by_avatar.get(f"avatar-{i}", []) if c["confirmed_s"] is not None]
        requests = conns[0]["requests"] if conns else []
        if barge:
            continue  # interrupted turns: only flush -> interrupt is measured (below)
        # One request per TTS turn, in order: each turn's frames against its request's arrivals.
        lat = np.full(len(sent_at), np.nan)
        counted = np.zeros(len(sent_at), dtype=bool)
        for u in sorted(set(utterance_of[i].tolist())):
            mask = utterance_of[i] == u
            chunks = requests[u]["chunks"] if u < len(requests) else []
            cum = np.cumsum(nbytes[mask]) / (2 * SESSION_RATE)  # 24 kHz mono in: passed through
            lat_u, counted_u = frame_latencies(sent_at[mask], cum, chunks, opus)
            lat[mask], counted[mask] = lat_u, counted_u
            where = np.flatnonzero(counted_u)
            if len(where):  # the first frame that makes audio of this request sendable
                firsts.append(lat_u[where[:1]])
                laters.append(lat_u[where[1:]])
            if u == utterance_of[i][-1] and chunks:
                drains.append(chunks[-1][0] - sent_at[mask][-1])
        end_to_end.append((lat + sent_at - due_at)[counted])
        lat = lat[counted]
        latencies.append(lat)
        valid = lat[~np.isnan(lat)]
        if len(valid) >= 10:
            fifth = len(valid) // 5
            growth.append(float(np.median(valid[-fifth:]) - np.median(valid[:fifth])))
    all_lat = np.concatenate(latencies) if latencies else np.array([])
    all_e2e = np.concatenate(end_to_end) if end_to_end else np.array([])
    all_lag = np.concatenate(lags) if lags else np.array([])
    lost = int(np.isnan(all_lat).sum()) if len(all_lat) else 0
    flush_latency: list[float] = []
    flushes_sent = 0  # reported only when barge and mode != "null", where it is set
    if barge and mode != "null":
        conns = [c for c in by_avatar.get("avatar-0", []) if c["confirmed_s"] is not None]
        interrupted = [
            r for r in (conns[0]["requests"] if conns else []) if r["interrupt_s"] is not None
        ]
        # not strict: a flush that interrupted nothing leaves fewer interrupts than flushes
        # (flushes_sent counts them all)
        flush_latency = [
            r["interrupt_s"] - sent
            for (_, sent, _, _), r in zip(bench_graph.flushes, interrupted, strict=False)
        ]
        flushes_sent = len(bench_graph.flushes)

    start_sample, end_sample = sampler.window(first_sent, last_sent)
    span = end_sample.at - start_sample.at
    measured_audio = audio_in_window * span / max(1e-9, last_sent - first_sent)

    def per_audio(s: float) -> float:
        """ms per audio second"""
        return round(1000 * s / measured_audio, 3)

    cpu_s = end_sample.cpu_s - start_sample.cpu_s
    loop_cpu_s = end_sample.loop_thread_cpu_s - start_sample.loop_thread_cpu_s
    loop = window(sampler.loop_snapshots, first_sent, last_sent)
    busy = loop["busy_s"]
    # CPU per thread group over the same window
    ticks = os.sysconf("SC_CLK_TCK")
    t_start = (
        next(t for at, t in reversed(sampler.threads) if at <= start_sample.at + 1e-9)
        if any(at <= start_sample.at + 1e-9 for at, _ in sampler.threads)
        else sampler.threads[0][1]
    )
    t_end = next(t for at, t in reversed(sampler.threads) if at <= end_sample.at + 1e-9)
    groups: dict[str, float] = {}
    for tid, (comm, value) in t_end.items():
        before = t_start.get(tid, (comm, 0))[1]
        group = _thread_group(sampler.names.get(tid, comm))
        groups[group] = groups.get(group, 0.0) + (value - before) / ticks
    result = {
        "spec": spec,
        "clocks": check_clocks(),
        "loop_class": loop_class[0] if loop_class else None,
        "sessions_confirmed": sum(1 for c in stats["connections"] if c["confirmed_s"] is not None),
        "errors": errors[:5],
        "audio_seconds": round(audio_in_window, 2),
        "window_s": round(last_sent - first_sent, 2),
        "cpu_ms_per_audio_s": per_audio(cpu_s),
        "cpu_cores": round(cpu_s / max(1e-9, span), 3),
        "loop_thread_cpu_ms_per_audio_s": per_audio(loop_cpu_s),
        "cpu_ms_per_audio_s_by_thread": {
            k: per_audio(v) for k, v in sorted(groups.items(), key=lambda kv: -kv[1]) if v > 0
        },
        "loop_busy_ms_per_session_audio_s": {k: per_audio(v) for k, v in sorted(busy.items())},
        "loop_busy_total_ms_per_session_audio_s": per_audio(sum(busy.values())),
        "loop_callbacks_per_session_audio_s": round(loop["callbacks"] / measured_audio, 1),
        "loop_utilisation": round(sum(busy.values()) / max(1e-9, loop["seconds"]), 3),
        "max_hold_ms": round(loop["max_hold_s"] * 1000, 2),
        "max_hold_category": loop["max_hold_category"],
        "latency": summarize_ms(all_lat) if mode != "null" else None,
        "latency_first_frame": summarize_ms(np.concatenate(firsts)) if firsts else None,
        "latency_later_frames": summarize_ms(np.concatenate(laters)) if laters else None,
        "flush_to_interrupt": summarize_ms(np.array(flush_latency))
        if barge and mode != "null"
        else None,
        "flushes_sent": flushes_sent if barge and mode != "null" else None,
        "send_lag": summarize_ms(all_lag),
        "schedule_to_arrival": summarize_ms(all_e2e) if mode != "null" else None,
        "frames_never_arrived": lost,
        "max_drain_ms": round(max(drains) * 1000, 1) if drains else None,
        "latency_growth_ms": round(max(growth) * 1000, 1) if growth else None,
        "rss_mb_end": round(rss_mb(), 1),
        "threads_end": threading.active_count(),
    }
    if mode != "null" and not barge:
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


def worker_main(spec_json: str) -> None:
    result = run_worker(json.loads(spec_json))
    print("RESULT " + json.dumps(result), flush=True)
    sys.stdout.flush()
    os._exit(0)  # the runtime's threads are done with; do not wait on interpreter teardown


# ---------------------------------------------------------------------------------------------
# orchestrator
# ---------------------------------------------------------------------------------------------
def run_pass(
    spec: dict[str, Any], log_dir: Path, profile: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One pass in a fresh worker process; its stderr (the runtime's log) goes to a file."""
    name = (
        f"{spec['mode']}_{spec['format']}_n{spec['n']}_{spec.get('load', 'frames20')}"
        f"{'_deflate' if spec.get('deflate') else ''}{'_barge' if spec.get('barge') else ''}"
        f"_{spec.get('repeat', 0)}"
    )
    log_path = log_dir / f"{name}.log"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    timeout = 120 + spec["seconds"] + 0.1 * spec["n"]
    spy: subprocess.Popen[bytes] | None = None
    load_before = os.getloadavg()[0]  # the machine's load (other processes too): noise
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True, cwd=REPO)
        killer = threading.Timer(timeout, proc.kill)
        killer.start()
        result: dict[str, Any] | None = None
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("STREAMING ") and profile is not None:
                    spy = subprocess.Popen(
                        [
                            profile["py_spy"],
                            "record",
                            "--pid",
                            line.split()[1],
                            "--rate",
                            str(profile["rate"]),
                            "--duration",
                            str(int(profile["duration"])),
                            "--format",
                            "raw",
                            *profile.get("flags", []),
                            "--output",
                            str(profile["raw"]),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                    )
                elif line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT ") :])
            proc.wait()
        finally:
            killer.cancel()
            if spy is not None:
                spy.wait(timeout=profile["duration"] + 30 if profile else 30)
    log_size = log_path.stat().st_size
    if result is None:
        tail = log_path.read_bytes()[-3000:].decode(errors="replace")
        return {
            "spec": spec,
            "failed": True,
            "returncode": proc.returncode,
            "log": str(log_path),
            "stderr_tail": tail,
        }
    result["runtime_log_bytes"] = log_size
    result["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def _range(values: list[float | None]) -> list[float] | None:
    present = [v for v in values if v is not None]
    return [round(min(present), 3), round(max(present), 3)] if present else None


def summarize(
    fmt: str, n: int, pairs: list[tuple[dict[str, Any], dict[str, Any]]]
) -> dict[str, Any]:
    """Medians (and ranges) over repeats; `beyond` figures are avatar minus the do-nothing pass
    of the same repeat."""
    good = [(a, z) for a, z in pairs if not a.get("failed") and not z.get("failed")]

    def stat(get: Any) -> dict[str, Any]:
        values = [get(a, z) for a, z in good]
        return {"median": _median(values), "range": _range(values)}

    def lat(a: dict[str, Any], key: str) -> float | None:
        return (a.get("latency") or {}).get(key)

    return {
        "format": fmt,
        "n": n,
        "repeats": len(good),
        "failed": len(pairs) - len(good),
        "cpu_ms_per_audio_s": stat(lambda a, z: a["cpu_ms_per_audio_s"]),
        "do_nothing_cpu_ms_per_audio_s": stat(lambda a, z: z["cpu_ms_per_audio_s"]),
        "cpu_beyond_do_nothing_ms_per_audio_s": stat(
            lambda a, z: a["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]
        ),
        "loop_ms_per_session_audio_s": stat(
            lambda a, z: a["loop_busy_total_ms_per_session_audio_s"]
        ),
        "loop_beyond_do_nothing_ms_per_session_audio_s": stat(
            lambda a, z: (
                a["loop_busy_total_ms_per_session_audio_s"]
                - z["loop_busy_total_ms_per_session_audio_s"]
            )
        ),
        "p50_ms": stat(lambda a, z: lat(a, "p50_ms")),
        "p99_ms": stat(lambda a, z: lat(a, "p99_ms")),
        "max_ms": stat(lambda a, z: lat(a, "max_ms")),
        "max_hold_ms": stat(lambda a, z: a["max_hold_ms"]),
        "max_hold_categories": [a["max_hold_category"] for a, _ in good],
        "cpu_cores": stat(lambda a, z: a["cpu_cores"]),
        "send_lag_p99_ms": stat(lambda a, z: a["send_lag"]["p99_ms"]),
        "loadavg_1min": stat(lambda a, z: (a.get("loadavg_1min") or [None])[0]),
        "keeps_real_time": [a.get("keeps_real_time") for a, _ in good],
    }


TABLE_COLUMNS = (
    "format",
    "N",
    "runs",
    "CPU ms/audio s",
    "do-nothing",
    "beyond do-nothing",
    "loop ms/session-audio s",
    "loop beyond",
    "p50 ms",
    "p99 ms",
    "longest hold ms",
    "TTS send lag p99 ms",
    "load",
    "real time",
)


def _cell(stat: dict[str, Any]) -> str:
    median, spread = stat["median"], stat["range"]
    if median is None:
        return "-"
    return (
        f"{median:.2f} ({spread[0]:.2f}-{spread[1]:.2f})"
        if spread and spread[0] != spread[1]
        else f"{median:.2f}"
    )


def table(summaries: list[dict[str, Any]]) -> str:
    rows = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for s in summaries:
        rt = s["keeps_real_time"]
        rows.append(
            "| "
            + " | ".join(
                [
                    s["format"],
                    str(s["n"]),
                    str(s["repeats"]),
                    _cell(s["cpu_ms_per_audio_s"]),
                    _cell(s["do_nothing_cpu_ms_per_audio_s"]),
                    _cell(s["cpu_beyond_do_nothing_ms_per_audio_s"]),
                    _cell(s["loop_ms_per_session_audio_s"]),
                    _cell(s["loop_beyond_do_nothing_ms_per_session_audio_s"]),
                    _cell(s["p50_ms"]),
                    _cell(s["p99_ms"]),
                    _cell(s["max_hold_ms"]),
                    _cell(s["send_lag_p99_ms"]),
                    _cell(s["loadavg_1min"]),
                    f"{sum(1 for x in rt if x)}/{len(rt)}",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def run_ladder(args: argparse.Namespace, app: Path, version: str, out: Path) -> None:
    from benchlib.stamp import stamp

    formats = args.formats.split(",")
    ladder = [int(x) for x in args.ladder.split(",")]
    log_dir = Path(tempfile.mkdtemp(prefix="bench_real_runtime_logs_"))
    runs: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    live = list(formats)  # formats still keeping real time
    for n in ladder:
        if not live:
            break
        pairs: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {f: [] for f in live}
        for repeat in range(args.repeats):
            # One repeat: the do-nothing pass, then each format's avatar pass, back to back.
            null = run_pass(spec("null", n, "none", args.seconds, repeat), log_dir)
            runs.append(null)
            _progress(null)
            for fmt in live:
                avatar = run_pass(spec("avatar", n, fmt, args.seconds, repeat), log_dir)
                runs.append(avatar)
                _progress(avatar, null)
                pairs[fmt].append((avatar, null))
        for fmt in list(live):
            summary = summarize(fmt, n, pairs[fmt])
            summaries.append(summary)
            print(table([summary]).splitlines()[-1], flush=True)
            rt = summary["keeps_real_time"]
            if not args.no_stop and (
                not rt or sum(1 for x in rt if x) * 2 <= len(rt)
            ):  # lost it in most repeats
                live.remove(fmt)
    text = table(summaries)
    payload = {
        **stamp(),
        "runtime": {"app": str(app), "ten_runtime_python": version},
        "seconds_per_pass": args.seconds,
        "repeats": args.repeats,
        "summaries": summaries,
        "runs": runs,
        "logs": str(log_dir),
    }
    name = args.name or ("bench_real_runtime_quick" if args.quick else "bench_real_runtime")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    header = (
        f"{name}: {payload['date']}, {payload['machine']['cpu']}, "
        f"{payload['machine']['cores']} cores, "
        f"Python {payload['machine']['python']}, spatius {payload['machine']['spatius']}, "
        f"ten_runtime_python {version}; {args.seconds:g} s of speech per session per pass; medians "
        f"(range) of {args.repeats} repeats; command: {payload['command']}\n\n"
    )
    (out / f"{name}.txt").write_text(header + text + "\n")
    print("\n" + header + text)
    print(f"\nwrote {out / (name + '.json')} and .txt (runtime logs in {log_dir})")


def _progress(run: dict[str, Any], null: dict[str, Any] | None = None) -> None:
    s = run["spec"]
    if run.get("failed"):
        print(
            f"  {s['mode']:6} {s['format']:9} N={s['n']:<3} FAILED (rc {run.get('returncode')}), "
            f"log {run.get('log')}:\n"
            f"{run.get('stderr_tail', '')[-1500:]}",
            flush=True,
        )
        return
    beyond = ""
    if null is not None and not null.get("failed"):
        beyond = f" beyond {run['cpu_ms_per_audio_s'] - null['cpu_ms_per_audio_s']:6.2f}"
    lat = run.get("latency") or {}
    print(
        f"  {s['mode']:6} {s['format']:9} N={s['n']:<3} #{s['repeat']} "
        f"cpu {run['cpu_ms_per_audio_s']:6.2f} ms/s{beyond}"
        f" loop {run['loop_busy_total_ms_per_session_audio_s']:5.2f} "
        f"p50/p99 {lat.get('p50_ms')}/{lat.get('p99_ms')}"
        f" hold {run['max_hold_ms']} ({run['max_hold_category']}) "
        f"RT {run.get('keeps_real_time', '-')}",
        flush=True,
    )


def spec(
    mode: str,
    n: int,
    fmt: str,
    seconds: float,
    repeat: int = 0,
    *,
    load: str = "frames20",
    deflate: bool = False,
    barge: bool = False,
) -> dict[str, Any]:
    return {
        "mode": mode,
        "n": n,
        "format": fmt,
        "seconds": seconds,
        "repeat": repeat,
        "load": load,
        "deflate": deflate,
        "barge": barge,
    }


# ---------------------------------------------------------------------------------------------
# --compare: the avatar against the floor extension, beyond the do-nothing one (issue 16)
# ---------------------------------------------------------------------------------------------
COMPARE_COLUMNS = (
    "load",
    "format",
    "emulator deflate",
    "rounds",
    "do-nothing",
    "floor beyond",
    "avatar beyond",
    "avatar / floor",
    "avatar first-frame p50 / p99 ms",
    "avatar later p50 / p99 ms",
    "floor first-frame p99 ms",
    "floor later p99 ms",
    "real time (avatar, floor)",
)


def _lat(run: dict[str, Any], key: str, pct: str) -> float | None:
    return (run.get(key) or {}).get(pct)


def summarize_compare(
    load: str,
    fmt: str,
    deflate: bool,
    rounds: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]],
) -> dict[str, Any]:
    """(avatar, floor, do-nothing) per round -> medians (ranges); `beyond` within the round."""
    good = [r for r in rounds if not any(x.get("failed") for x in r)]

    def stat(get: Any) -> dict[str, Any]:
        values = [get(a, f, z) for a, f, z in good]
        return {"median": _median(values), "range": _range(values)}

    def ratio(a: dict[str, Any], f: dict[str, Any], z: dict[str, Any]) -> float | None:
        floor = f["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]
        return (a["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]) / floor if floor > 0 else None

    return {
        "load": load,
        "format": fmt,
        "deflate": deflate,
        "rounds": len(good),
        "failed": len(rounds) - len(good),
        "do_nothing_cpu_ms_per_audio_s": stat(lambda a, f, z: z["cpu_ms_per_audio_s"]),
        "floor_beyond_ms_per_audio_s": stat(
            lambda a, f, z: f["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]
        ),
        "avatar_beyond_ms_per_audio_s": stat(
            lambda a, f, z: a["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]
        ),
        "avatar_over_floor": stat(ratio),
        "avatar_first_p50_ms": stat(lambda a, f, z: _lat(a, "latency_first_frame", "p50_ms")),
        "avatar_first_p99_ms": stat(lambda a, f, z: _lat(a, "latency_first_frame", "p99_ms")),
        "avatar_later_p50_ms": stat(lambda a, f, z: _lat(a, "latency_later_frames", "p50_ms")),
        "avatar_later_p99_ms": stat(lambda a, f, z: _lat(a, "latency_later_frames", "p99_ms")),
        "floor_first_p99_ms": stat(lambda a, f, z: _lat(f, "latency_first_frame", "p99_ms")),
        "floor_later_p99_ms": stat(lambda a, f, z: _lat(f, "latency_later_frames", "p99_ms")),
        "loadavg_1min": stat(lambda a, f, z: (a.get("loadavg_1min") or [None])[0]),
        "keeps_real_time": [
            [a.get("keeps_real_time"), f.get("keeps_real_time")] for a, f, _ in good
        ],
    }


def compare_table(summaries: list[dict[str, Any]]) -> str:
    rows = ["| " + " | ".join(COMPARE_COLUMNS) + " |", "|" + "---|" * len(COMPARE_COLUMNS)]
    for s in summaries:
        rt = s["keeps_real_time"]
        rows.append(
            "| "
            + " | ".join(
                [
                    s["load"],
                    s["format"],
                    "accepts" if s["deflate"] else "refuses",
                    str(s["rounds"]),
                    _cell(s["do_nothing_cpu_ms_per_audio_s"]),
                    _cell(s["floor_beyond_ms_per_audio_s"]),
                    _cell(s["avatar_beyond_ms_per_audio_s"]),
                    _cell(s["avatar_over_floor"]),
                    f"{_cell(s['avatar_first_p50_ms'])} / {_cell(s['avatar_first_p99_ms'])}",
                    f"{_cell(s['avatar_later_p50_ms'])} / {_cell(s['avatar_later_p99_ms'])}",
                    _cell(s["floor_first_p99_ms"]),
                    _cell(s["floor_later_p99_ms"]),
                    f"{sum(1 for x in rt if x[0])}/{len(rt)}, "
                    f"{sum(1 for x in rt if x[1])}/{len(rt)}",
                ]
            )
            + " |"
        )
    return "\n".join(rows)


def barge_table(barges: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    rows = [
        "| receiver | format | rounds | flushes | flush -> interrupt p50 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for (mode, fmt), runs in sorted(barges.items()):
        good = [r for r in runs if not r.get("failed") and r.get("flush_to_interrupt")]

        def p(key: str, good: list[dict[str, Any]] = good) -> str:
            values = [r["flush_to_interrupt"][key] for r in good]
            return _cell({"median": _median(values), "range": _range(values)})

        rows.append(
            f"| {mode} | {fmt} | {len(good)} | "
            f"{sum(r['flush_to_interrupt']['count'] for r in good)} of "
            f"{sum(r.get('flushes_sent') or 0 for r in good)} | "
            f"{p('p50_ms')} | {p('p99_ms')} | {p('max_ms')} |"
        )
    return "\n".join(rows)


def run_compare(args: argparse.Namespace, app: Path, version: str, out: Path) -> None:
    """Interleaved rounds at one N: per load the do-nothing pass, then per format and emulator
    deflate setting the floor and the avatar back to back; then the barge-in passes."""
    from benchlib.stamp import stamp

    formats = args.formats.split(",")
    loads = args.loads.split(",")
    deflates = [d == "on" for d in args.deflate.split(",")]
    n = args.compare
    log_dir = Path(tempfile.mkdtemp(prefix="bench_real_runtime_logs_"))
    runs: list[dict[str, Any]] = []
    rounds: dict[
        tuple[str, str, bool], list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]]
    ] = {}
    barges: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def go(s: dict[str, Any], null: dict[str, Any] | None = None) -> dict[str, Any]:
        run = run_pass(s, log_dir)
        runs.append(run)
        _progress(run, null)
        return run

    for repeat in range(args.repeats):
        for load in loads:
            null = go(spec("null", n, "none", args.seconds, repeat, load=load))
            for fmt in formats:
                for deflate in deflates:
                    floor = go(
                        spec("floor", n, fmt, args.seconds, repeat, load=load, deflate=deflate),
                        null,
                    )
                    avatar = go(
                        spec("avatar", n, fmt, args.seconds, repeat, load=load, deflate=deflate),
                        null,
                    )
                    rounds.setdefault((load, fmt, deflate), []).append((avatar, floor, null))
        if args.barge_seconds > 0:
            for fmt in formats:
                for mode in ("floor", "avatar"):
                    barges.setdefault((mode, fmt), []).append(
                        go(spec(mode, 1, fmt, args.barge_seconds, repeat, barge=True))
                    )
    summaries = [
        summarize_compare(load, fmt, deflate, r) for (load, fmt, deflate), r in rounds.items()
    ]
    text = compare_table(summaries) + "\n\n" + barge_table(barges)
    payload = {
        **stamp(),
        "runtime": {"app": str(app), "ten_runtime_python": version},
        "n": n,
        "seconds_per_pass": args.seconds,
        "repeats": args.repeats,
        "summaries": summaries,
        "runs": runs,
        "logs": str(log_dir),
    }
    name = args.name or "bench_real_runtime_compare"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    header = (
        f"{name}: {payload['date']}, {payload['machine']['cpu']}, "
        f"{payload['machine']['cores']} cores, "
        f"Python {payload['machine']['python']}, spatius {payload['machine']['spatius']}, "
        f"ten_runtime_python {version}; N = {n}; {args.seconds:g} s of speech per pass; "
        "medians (range) of "
        f"{args.repeats} interleaved rounds; CPU in ms per audio second; "
        f"command: {payload['command']}\n\n"
    )
    (out / f"{name}.txt").write_text(header + text + "\n")
    print("\n" + header + text)
    print(f"\nwrote {out / (name + '.json')} and .txt (runtime logs in {log_dir})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="N=1, both formats, 6 s, one repeat (~1.5 min)"
    )
    parser.add_argument(
        "--ladder",
        default="1,10,50,100",
        help="session counts (stops a format once it loses real time)",
    )
    parser.add_argument("--formats", default="pcm_s16le,ogg_opus")
    parser.add_argument(
        "--no-stop",
        action="store_true",
        help="run every N of the ladder even after real time is lost",
    )
    parser.add_argument("--name", help="results file name (default bench_real_runtime, or …_quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="speech per session per pass")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="instead: py-spy profile of the avatar passes at N sessions",
    )
    parser.add_argument(
        "--compare",
        type=int,
        metavar="N",
        help="instead: the avatar vs the floor extension (bare SDK per frame) at N sessions, "
        "both loads, emulator deflate on/off, and barge-in passes (flush -> interrupt)",
    )
    parser.add_argument(
        "--loads",
        default="frames20,tts",
        help="--compare loads: frames20 (20 ms frames, one long turn), "
        "tts (40-100 ms chunks, turns with pauses)",
    )
    parser.add_argument(
        "--deflate",
        default="off,on",
        help="--compare: the emulator refusing (off) / accepting (on) permessage-deflate",
    )
    parser.add_argument(
        "--barge-seconds",
        type=float,
        default=27.0,
        help="--compare: seconds of barge-in turns per pass (0: none)",
    )
    parser.add_argument(
        "--py-spy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    )
    parser.add_argument(
        "--py-spy-flags",
        default="--nonblocking --gil",
        help="py-spy record flags for --profile (e.g. --native: C frames, but pauses the process)",
    )
    parser.add_argument("--out", type=Path, default=HERE / "results", help="folder for the results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args.worker)
        return
    app, version = find_real_runtime()
    if app is None:
        print(how_to_run(version), file=sys.stderr)
        sys.exit(EXIT_NO_RUNTIME)
    install_do_nothing(app)
    install_do_nothing(app, FLOOR_SRC, FLOOR_ADDON)
    print(
        f"real TEN runtime: ten_runtime_python {version}, app {app}; "
        "do-nothing extension installed as "
        f"{app}/ten_packages/extension/{DO_NOTHING_ADDON}",
        flush=True,
    )
    if args.quick:
        args.ladder, args.repeats, args.seconds = "1", 1, 6.0
    if args.compare:
        run_compare(args, app, version, args.out)
        return
    if args.profile:
        from benchlib.pyspy_profile import run_profiles

        run_profiles(args, run_pass, spec, args.out)
        return
    run_ladder(args, app, version, args.out)


if __name__ == "__main__":
    main()
