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

EMULATOR_ARGS = ("--no-keep-audio", "--no-compression", "--any-avatar")
SESSION_RATE = 24000
FRAME_MS = 20
AVATAR_ADDON = "spatius_avatar_python"
DO_NOTHING_ADDON = "bench_do_nothing"
DO_NOTHING_SRC = HERE / "do_nothing_extension"
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
        import ten_runtime  # noqa: F401
        import libten_runtime_python  # noqa: F401  (the real binding's native module)
    except Exception as error:  # ImportError, or an OSError from a missing shared library
        return None, f"`import ten_runtime` failed: {error!r}"
    try:
        import ten_runtime.standin  # noqa: F401
        return None, "the ten_runtime found is the test bed's stand-in, not TEN's"
    except ImportError:
        pass
    package = Path(ten_runtime.__file__).resolve().parent  # <app>/ten_packages/system/ten_runtime_python/interface/ten_runtime
    app = package.parents[4]
    try:
        manifest = json.loads((app / "manifest.json").read_text())
        version = json.loads((package.parents[1] / "manifest.json").read_text()).get("version", "?")
    except (OSError, ValueError):
        return None, f"ten_runtime imports from {package}, but {app} is not a TEN app (no manifest.json)"
    if manifest.get("type") != "app":
        return None, f"{app}/manifest.json is not of type app"
    return app, version


def how_to_run(reason: str) -> str:
    app = REPO.parents[2] if len(REPO.parents) > 2 else REPO  # <app>/ten_packages/extension/<this>
    runtime = app / "ten_packages" / "system" / "ten_runtime_python"
    libpython = Path(sysconfig.get_config_var("LIBDIR") or "") / (sysconfig.get_config_var("LDLIBRARY") or "")
    lines = [
        "bench_real_runtime needs the real TEN runtime (" + reason + ").",
        "",
        "Run it from this extension inside a TEN app, laid out as",
        "  <app>/manifest.json                                 (\"type\": \"app\")",
        "  <app>/ten_packages/system/ten_runtime/              (libten_runtime.so, libten_utils.so)",
        "  <app>/ten_packages/system/ten_runtime_python/       (lib/libten_runtime_python.so, interface/ten_runtime/)",
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
            f"  {sys.executable} benchmarks/bench_real_runtime.py {' '.join(sys.argv[1:])}".rstrip(),
        ]
    else:
        lines += [
            "  cd <app>/ten_packages/extension/spatius_avatar_python",
            "  PYTHONPATH=<app>/ten_packages/system/ten_runtime_python/lib:<app>/ten_packages/system/ten_runtime_python/interface:<app> \\",
            "  TEN_PYTHON_LIB_PATH=/path/to/libpython3.x.so python3 benchmarks/bench_real_runtime.py",
        ]
    lines += ["", "(TEN_PYTHON_LIB_PATH: only when the addon loader does not find your libpython by itself.)",
              "Without a TEN app, benchmarks/bench_scale.py measures the same load in the test bed's stand-in."]
    return "\n".join(lines)


def install_do_nothing(app: Path) -> Path:
    """Copies the do-nothing extension into the app as ten_packages/extension/bench_do_nothing
    (replacing an older copy): the app's addon loader imports it from there by name."""
    dest = app / "ten_packages" / "extension" / DO_NOTHING_ADDON
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(DO_NOTHING_SRC, dest, ignore=shutil.ignore_patterns("__pycache__"))
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
    avatar.opus_hop  executor results of the off-loop Opus encoder (the wake-up after a job)
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
    if qualname in ("_set_state", "_copy_future_state") or "run_in_executor" in qualname or "_call_check_cancel" in qualname:
        # a worker thread's result handed to the loop (call_soon_threadsafe): the Opus encoder's jobs
        return "avatar.opus_hop"
    module = getattr(callback, "__module__", "") or ""
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
        return {
            "session_id": f"s{i}", "pace": 1.0,
            # evenly spread phases of the 20 ms frame period, as independent conversations
            "start_delay_ms": settle_s * 1000 + i * FRAME_MS / n,
            "utterances": [{"request_id": f"r{i}", "turn_id": 1, "pcm_file": str(speech),
                            "sample_rate": SESSION_RATE, "channels": 1}],
        }

    def watch() -> None:
        manager = GlobalThreadManager()
        while manager._main_loop is None or manager._main_thread is None:  # noqa: SLF001
            time.sleep(0.005)
        meter.watch(manager._main_loop)  # noqa: SLF001
        loop_class.append(type(manager._main_loop).__module__ + "." + type(manager._main_loop).__name__)  # noqa: SLF001
        sampler.loop_thread_id = manager._main_thread.ident  # noqa: SLF001
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
            return AVATAR_ADDON, avatar_property(props, i, audio_format)

        threading.Thread(target=watch, name="bench-watch", daemon=True).start()
        error = run_until_flag(pairs_graph(n, tts_script, receiver), done, timeout_s=settle_s + seconds + 120)
        return [] if error is None else [error.error_message()]

    stats: dict[str, Any] = {"connections": []}
    if mode == "null":
        errors = run_graph(None)
    else:
        with EmulatorProcess(*EMULATOR_ARGS) as emulator:
            errors = run_graph(emulator.properties)
            stats = emulator.stats(chunks=True)
    meter.uninstall()
    shutil.rmtree(workdir, ignore_errors=True)

    sent = {}
    for i in range(n):
        frames = registry.node(f"tts-{i}").sent_frames
        sent[i] = (np.array([f.sent_at for f in frames]), np.array([f.nbytes for f in frames]),
                   np.array([f.due_at for f in frames]))
    by_avatar: dict[str, list[dict[str, Any]]] = {}
    for conn in stats["connections"]:
        by_avatar.setdefault(conn["avatar_id"], []).append(conn)
    latencies, end_to_end, lags, drains, growth = [], [], [], [], []
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
        chunks = requests[0]["chunks"] if requests else []
        cum = np.cumsum(nbytes) / (2 * SESSION_RATE)  # 24 kHz mono in: the conditioner passes it through
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
    span = end_sample.at - start_sample.at
    measured_audio = audio_in_window * span / max(1e-9, last_sent - first_sent)
    per_audio = lambda s: round(1000 * s / measured_audio, 3)  # noqa: E731  (ms per audio second)
    cpu_s = end_sample.cpu_s - start_sample.cpu_s
    loop_cpu_s = end_sample.loop_thread_cpu_s - start_sample.loop_thread_cpu_s
    loop = window(sampler.loop_snapshots, first_sent, last_sent)
    busy = loop["busy_s"]
    # CPU per thread group over the same window
    ticks = os.sysconf("SC_CLK_TCK")
    t_start = next(t for at, t in reversed(sampler.threads) if at <= start_sample.at + 1e-9) \
        if any(at <= start_sample.at + 1e-9 for at, _ in sampler.threads) else sampler.threads[0][1]
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
        "cpu_ms_per_audio_s_by_thread": {k: per_audio(v) for k, v in sorted(groups.items(), key=lambda kv: -kv[1]) if v > 0},
        "loop_busy_ms_per_session_audio_s": {k: per_audio(v) for k, v in sorted(busy.items())},
        "loop_busy_total_ms_per_session_audio_s": per_audio(sum(busy.values())),
        "loop_callbacks_per_session_audio_s": round(loop["callbacks"] / measured_audio, 1),
        "loop_utilisation": round(sum(busy.values()) / max(1e-9, loop["seconds"]), 3),
        "max_hold_ms": round(loop["max_hold_s"] * 1000, 2),
        "max_hold_category": loop["max_hold_category"],
        "latency": summarize_ms(all_lat) if mode != "null" else None,
        "send_lag": summarize_ms(all_lag),
        "schedule_to_arrival": summarize_ms(all_e2e) if mode != "null" else None,
        "frames_never_arrived": lost,
        "max_drain_ms": round(max(drains) * 1000, 1) if drains else None,
        "latency_growth_ms": round(max(growth) * 1000, 1) if growth else None,
        "rss_mb_end": round(rss_mb(), 1),
        "threads_end": threading.active_count(),
    }
    if mode != "null":
        lat = result["latency"]
        result["keeps_real_time"] = bool(
            not errors and lost == 0 and lat["p99_ms"] is not None
            and result["schedule_to_arrival"]["p99_ms"] < REAL_TIME_P99_MS
            and result["max_drain_ms"] is not None and result["max_drain_ms"] < REAL_TIME_DRAIN_MS
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
def run_pass(spec: dict[str, Any], log_dir: Path, profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pass in a fresh worker process; its stderr (the runtime's log) goes to a file."""
    name = f"{spec['mode']}_{spec['format']}_n{spec['n']}_{spec.get('repeat', 0)}"
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
                        [profile["py_spy"], "record", "--pid", line.split()[1], "--rate", str(profile["rate"]),
                         "--duration", str(int(profile["duration"])), "--format", "raw",
                         *profile.get("flags", []), "--output", str(profile["raw"])],
                        stdout=subprocess.DEVNULL, stderr=log)
                elif line.startswith("RESULT "):
                    result = json.loads(line[len("RESULT "):])
            proc.wait()
        finally:
            killer.cancel()
            if spy is not None:
                spy.wait(timeout=profile["duration"] + 30 if profile else 30)
    log_size = log_path.stat().st_size
    if result is None:
        tail = log_path.read_bytes()[-3000:].decode(errors="replace")
        return {"spec": spec, "failed": True, "returncode": proc.returncode, "log": str(log_path), "stderr_tail": tail}
    result["runtime_log_bytes"] = log_size
    result["loadavg_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    return result


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 3) if values else None


def _range(values: list[float | None]) -> list[float] | None:
    values = [v for v in values if v is not None]
    return [round(min(values), 3), round(max(values), 3)] if values else None


def summarize(fmt: str, n: int, pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Medians (and ranges) over repeats; `beyond` figures are avatar minus the do-nothing pass
    of the same repeat."""
    good = [(a, z) for a, z in pairs if not a.get("failed") and not z.get("failed")]

    def stat(get: Any) -> dict[str, Any]:
        values = [get(a, z) for a, z in good]
        return {"median": _median(values), "range": _range(values)}

    def lat(a: dict[str, Any], key: str) -> float | None:
        return (a.get("latency") or {}).get(key)

    return {
        "format": fmt, "n": n, "repeats": len(good), "failed": len(pairs) - len(good),
        "cpu_ms_per_audio_s": stat(lambda a, z: a["cpu_ms_per_audio_s"]),
        "do_nothing_cpu_ms_per_audio_s": stat(lambda a, z: z["cpu_ms_per_audio_s"]),
        "cpu_beyond_do_nothing_ms_per_audio_s": stat(lambda a, z: a["cpu_ms_per_audio_s"] - z["cpu_ms_per_audio_s"]),
        "loop_ms_per_session_audio_s": stat(lambda a, z: a["loop_busy_total_ms_per_session_audio_s"]),
        "loop_beyond_do_nothing_ms_per_session_audio_s": stat(
            lambda a, z: a["loop_busy_total_ms_per_session_audio_s"] - z["loop_busy_total_ms_per_session_audio_s"]),
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


TABLE_COLUMNS = ("format", "N", "runs", "CPU ms/audio s", "do-nothing", "beyond do-nothing",
                 "loop ms/session-audio s", "loop beyond", "p50 ms", "p99 ms", "longest hold ms", "TTS send lag p99 ms", "load", "real time")


def _cell(stat: dict[str, Any]) -> str:
    median, spread = stat["median"], stat["range"]
    if median is None:
        return "-"
    return f"{median:.2f} ({spread[0]:.2f}-{spread[1]:.2f})" if spread and spread[0] != spread[1] else f"{median:.2f}"


def table(summaries: list[dict[str, Any]]) -> str:
    rows = ["| " + " | ".join(TABLE_COLUMNS) + " |", "|" + "---|" * len(TABLE_COLUMNS)]
    for s in summaries:
        rt = s["keeps_real_time"]
        rows.append("| " + " | ".join([
            s["format"], str(s["n"]), str(s["repeats"]), _cell(s["cpu_ms_per_audio_s"]),
            _cell(s["do_nothing_cpu_ms_per_audio_s"]), _cell(s["cpu_beyond_do_nothing_ms_per_audio_s"]),
            _cell(s["loop_ms_per_session_audio_s"]), _cell(s["loop_beyond_do_nothing_ms_per_session_audio_s"]),
            _cell(s["p50_ms"]), _cell(s["p99_ms"]), _cell(s["max_hold_ms"]),
            _cell(s["send_lag_p99_ms"]), _cell(s["loadavg_1min"]),
            f"{sum(1 for x in rt if x)}/{len(rt)}",
        ]) + " |")
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
            if not args.no_stop and (not rt or sum(1 for x in rt if x) * 2 <= len(rt)):  # lost it in most repeats
                live.remove(fmt)
    text = table(summaries)
    payload = {**stamp(), "runtime": {"app": str(app), "ten_runtime_python": version},
               "seconds_per_pass": args.seconds, "repeats": args.repeats, "summaries": summaries, "runs": runs,
               "logs": str(log_dir)}
    name = args.name or ("bench_real_runtime_quick" if args.quick else "bench_real_runtime")
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    header = (f"{name}: {payload['date']}, {payload['machine']['cpu']}, {payload['machine']['cores']} cores, "
              f"Python {payload['machine']['python']}, spatius {payload['machine']['spatius']}, "
              f"ten_runtime_python {version}; {args.seconds:g} s of speech per session per pass; medians "
              f"(range) of {args.repeats} repeats; command: {payload['command']}\n\n")
    (out / f"{name}.txt").write_text(header + text + "\n")
    print("\n" + header + text)
    print(f"\nwrote {out / (name + '.json')} and .txt (runtime logs in {log_dir})")


def _progress(run: dict[str, Any], null: dict[str, Any] | None = None) -> None:
    s = run["spec"]
    if run.get("failed"):
        print(f"  {s['mode']:6} {s['format']:9} N={s['n']:<3} FAILED (rc {run.get('returncode')}), log {run.get('log')}:\n"
              f"{run.get('stderr_tail', '')[-1500:]}", flush=True)
        return
    beyond = ""
    if null is not None and not null.get("failed"):
        beyond = f" beyond {run['cpu_ms_per_audio_s'] - null['cpu_ms_per_audio_s']:6.2f}"
    lat = run.get("latency") or {}
    print(f"  {s['mode']:6} {s['format']:9} N={s['n']:<3} #{s['repeat']} cpu {run['cpu_ms_per_audio_s']:6.2f} ms/s{beyond}"
          f" loop {run['loop_busy_total_ms_per_session_audio_s']:5.2f} p50/p99 {lat.get('p50_ms')}/{lat.get('p99_ms')}"
          f" hold {run['max_hold_ms']} ({run['max_hold_category']}) RT {run.get('keeps_real_time', '-')}", flush=True)


def spec(mode: str, n: int, fmt: str, seconds: float, repeat: int = 0) -> dict[str, Any]:
    return {"mode": mode, "n": n, "format": fmt, "seconds": seconds, "repeat": repeat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N=1, both formats, 6 s, one repeat (~1.5 min)")
    parser.add_argument("--ladder", default="1,10,50,100", help="session counts (stops a format once it loses real time)")
    parser.add_argument("--formats", default="pcm_s16le,ogg_opus")
    parser.add_argument("--no-stop", action="store_true", help="run every N of the ladder even after real time is lost")
    parser.add_argument("--name", help="results file name (default bench_real_runtime, or …_quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="speech per session per pass")
    parser.add_argument("--profile", type=int, metavar="N", help="instead: py-spy profile of the avatar passes at N sessions")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"))
    parser.add_argument("--py-spy-flags", default="--nonblocking --gil",
                        help="py-spy record flags for --profile (e.g. --native: C frames, but pauses the process)")
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
    print(f"real TEN runtime: ten_runtime_python {version}, app {app}; do-nothing extension installed as "
          f"{app}/ten_packages/extension/{DO_NOTHING_ADDON}", flush=True)
    if args.quick:
        args.ladder, args.repeats, args.seconds = "1", 1, 6.0
    if args.profile:
        from benchlib.pyspy_profile import run_profiles

        run_profiles(args, run_pass, spec, args.out)
        return
    run_ladder(args, app, version, args.out)


if __name__ == "__main__":
    main()
