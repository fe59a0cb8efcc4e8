"""Profile of the per-frame path under the real TEN runtime: py-spy (`record --native`,
raw collapsed stacks) attached to a bench_real_runtime worker for its streaming window,
then each sample is put in a thread, a context (who started the work: the feeding TTS,
our on_audio_frame, our streamer's owner task, ...) and a "self" category (the deepest
frame that is ours, the SDK's, websockets', the runtime's, asyncio's ...).

py-spy samples only threads that have a Python thread state, and only while they are not
idle; the runtime's purely native threads are priced by the worker's per-thread CPU
(`cpu_ms_per_audio_s_by_thread`). Sampling pauses the process briefly (py-spy's default
blocking mode), so the absolute figures are a little higher than in unprofiled runs;
the shares are what this is for.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable

PY_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*\.py):(?P<line>\d+)\)$")
C_FRAME = re.compile(r"^.*? \([^()]*\.(c|cc|cpp|h):\d+\)$")
NATIVE_FRAME = re.compile(r"^(?P<func>.*?) \((?P<lib>[^()]*)\)$")

# Self categories, matched from the leaf up: the first frame that matches decides.
SELF_RULES: list[tuple[str, Callable[[str], bool]]] = [
    # py-spy names Python files relative to their sys.path entry ("spatius/avatar_session.py")
    # and, for TEN (built with symbols), C frames by source file ("msg.c:427").
    ("TEN runtime native (C)", lambda f: _c_frame(f) and "callproc.c" not in f),
    ("libopus (encoding)", lambda f: "libopus" in f),
    (
        "opuslib_next + ctypes (libopus calls)",
        lambda f: _file(f).startswith(("opuslib_next/", "ctypes/")) or "callproc.c" in f,
    ),
    ("SDK Ogg writer (spatius/audio_encoder.py)", lambda f: _file(f) == "spatius/audio_encoder.py"),
    ("our opus.py", lambda f: _file(f).endswith("spatius_avatar_python/opus.py")),
    ("websockets", lambda f: _file(f).startswith("websockets/")),
    ("protobuf", lambda f: _file(f).startswith("google/") or "_pb2" in f),
    ("spatius SDK", lambda f: _file(f).startswith("spatius/")),
    ("our streamer.py", lambda f: _file(f).endswith("spatius_avatar_python/streamer.py")),
    ("our audio.py (conditioner)", lambda f: _file(f).endswith("spatius_avatar_python/audio.py")),
    (
        "our pipeline.py + turns.py",
        lambda f: _file(f).endswith(
            ("spatius_avatar_python/pipeline.py", "spatius_avatar_python/turns.py")
        ),
    ),
    (
        "our tts_messages.py (metadata parse)",
        lambda f: _file(f).endswith("spatius_avatar_python/tts_messages.py"),
    ),
    ("our extension.py", lambda f: _file(f) == "spatius_avatar_python/extension.py"),
    ("fake TTS (feeder)", lambda f: _file(f).startswith("fake_graph/")),
    ("runtime Python binding (ten_runtime/*.py)", lambda f: _file(f).startswith("ten_runtime/")),
    (
        "benchmark meter / sampler",
        lambda f: _file(f).startswith("benchlib/") or "bench_real_runtime.py" in f,
    ),
    ("json", lambda f: _file(f).startswith("json/")),
    (
        "asyncio + selectors",
        lambda f: _file(f).startswith("asyncio/") or _file(f) == "selectors.py",
    ),
    (
        "concurrent.futures / threading",
        lambda f: _file(f).startswith("concurrent/") or _file(f) == "threading.py",
    ),
    ("other Python", lambda f: _file(f).endswith(".py")),
]


def _file(frame: str) -> str:
    m = PY_FRAME.match(frame)
    return m["file"] if m else ""


def _c_frame(frame: str) -> bool:
    return bool(C_FRAME.match(frame))


# Inclusive time of functions (a sample counts if the frame is anywhere on its stack).
INCLUSIVE: list[tuple[str, Callable[[str], bool]]] = [
    (
        "runtime handler task _wrapper_on_audio_frame (avatar + do-nothing)",
        lambda f: f.startswith("_wrapper_on_audio_frame "),
    ),
    (
        "our on_audio_frame (extension.py)",
        lambda f: (
            f.startswith("on_audio_frame ") and _file(f) == "spatius_avatar_python/extension.py"
        ),
    ),
    (
        "  _frame_metadata (get_property_to_json + compare)",
        lambda f: f.startswith("_frame_metadata "),
    ),
    (
        "  AudioFrame.get_property_to_json (TEN C)",
        lambda f: f.startswith("ten_py_msg_get_property_to_json "),
    ),
    (
        "  read_frame_metadata (parse: the fake TTS's metadata changes every frame)",
        lambda f: f.startswith("read_frame_metadata "),
    ),
    ("  AudioFrame.get_buf (TEN C)", lambda f: "get_buf" in f and _c_frame(f)),
    ("  check_frame_format", lambda f: f.startswith("check_frame_format ")),
    ("  SpeechPipeline.on_frame", lambda f: f.startswith("on_frame ") and "pipeline.py" in f),
    ("    TurnGate.on_frame", lambda f: f.startswith("on_frame ") and "turns.py" in f),
    ("    AudioConditioner.process", lambda f: f.startswith("process ") and "audio.py" in f),
    ("    AvatarStreamer.push_audio", lambda f: f.startswith("push_audio ")),
    (
        "streamer owner task _run (streamer.py)",
        lambda f: f.startswith("_run ") and "streamer.py" in f,
    ),
    ("  _send_next", lambda f: f.startswith("_send_next ")),
    (
        "  OggOpusRequestEncoder.encode (submit + await)",
        lambda f: f.startswith("encode ") and "opus.py" in f,
    ),
    ("  loop.run_in_executor", lambda f: f.startswith("run_in_executor ")),
    (
        "  AvatarSession.send_audio (SDK)",
        lambda f: f.startswith("send_audio ") and _file(f).startswith("spatius/"),
    ),
    (
        "    websockets send",
        lambda f: f.startswith(("send ", "send_data ")) and _file(f).startswith("websockets/"),
    ),
    (
        "    transport write (socket send)",
        lambda f: f.startswith("write ") and "selector_events.py" in f,
    ),
    ("opus worker _encode_now", lambda f: f.startswith("_encode_now ")),
    ("  libopus (native)", lambda f: "libopus" in f),
    (
        "  opuslib_next encode (ctypes call, GIL release/reacquire)",
        lambda f: f.startswith("encode ") and _file(f).startswith("opuslib_next/"),
    ),
    (
        "  Ogg page writing (SDK encoder, Python)",
        lambda f: _file(f) == "spatius/audio_encoder.py" and not f.startswith("encode "),
    ),
    ("fake TTS _send_frame (feeder)", lambda f: f.startswith("_send_frame ")),
    ("  AsyncTenEnv.send_audio_frame", lambda f: f.startswith("send_audio_frame ")),
    (
        "runtime thread: _proxy_on_audio_frame (hand-off to the loop)",
        lambda f: f.startswith("_proxy_on_audio_frame "),
    ),
    (
        "asyncio run_coroutine_threadsafe callback (task creation)",
        lambda f: f.startswith("callback ") and "asyncio/tasks.py" in f,
    ),
    ("asyncio _read_from_self (self-pipe wake-up)", lambda f: f.startswith("_read_from_self ")),
    (
        "asyncio select/epoll (active part)",
        lambda f: f.startswith("select ") and "selectors.py" in f,
    ),
    ("benchmark LoopMeter._run wrapper", lambda f: f.startswith("_run ") and "loop_meter.py" in f),
]


def _bare(frame: str) -> str:
    """`Class.method (file:line)` -> `method (file:line)`, so rules can match bare names."""
    head, sep, rest = frame.partition(" (")
    return head.rsplit(".", 1)[-1] + sep + rest


def thread_of(frames: list[str]) -> str:
    text = ";".join(frames)
    if "global_thread_manager.py" in text:
        return "python loop (PythonGlobalMainThread)"
    if "concurrent/futures/thread.py" in text:
        return "opus encoder threads"
    if "async_test.py" in text:
        return "tester loop"
    if "procstat.py" in text or "bench_real_runtime.py" in text:
        return "benchmark threads"
    if "async_extension.py" in text or "/ten_runtime/" in text:
        return "runtime threads calling into Python (message hand-off)"
    if ".py:" not in text:
        return "native-only stacks"
    return "other Python threads"


def context_of(frames: list[str]) -> str:
    """Who caused a loop-thread sample (the outermost of our/peer code on the stack)."""
    text = ";".join(frames)
    if "(fake_graph/" in text:
        return "feeding TTS (fake_tts: build frame, send_audio_frame)"
    if "spatius_avatar_python/extension.py" in text and "on_audio_frame" in text:
        return "our on_audio_frame task (extension.py -> pipeline -> push_audio)"
    if "spatius_avatar_python/streamer.py" in text:
        return "our streamer owner task (-> opus submit, SDK send_audio, websockets)"
    if "spatius_avatar_python/" in text:
        return "our extension, other"
    if "(spatius/" in text or "(websockets/" in text or "(aiohttp/" in text:
        return "SDK / websockets own tasks and socket callbacks"
    if "async_extension.py" in text or "asyncio/tasks.py:" in text and "callback" in text:
        return "runtime delivery on the loop (task creation, handler task of the do-nothing)"
    if "_read_from_self" in text:
        return "asyncio self-pipe wake-ups (call_soon_threadsafe from other threads)"
    if "(benchlib/" in text:
        return "benchmark meter (outside any callback)"
    return "asyncio loop machinery (select, scheduling)"


def _folded(frame: str) -> bool:
    """Native frames of CPython and libc are charged to the Python frame that called them
    (a socket write to websockets, a dict lookup to our code); TEN's and libopus' are not."""
    return ".py:" not in frame and not _c_frame(frame) and "libopus" not in frame


def self_of(frames: list[str]) -> tuple[str, str]:
    """(category, frame) of the deepest frame matching a rule, CPython/libc natives folded
    into their caller; the leaf native frame is kept in the label."""
    leaf_native = _short(frames[-1]) if frames and _folded(frames[-1]) else ""
    for frame in reversed(frames):
        if _folded(frame):
            continue
        for name, match in SELF_RULES:
            if match(frame):
                label = _short(frame)
                return name, label + (
                    f" -> {leaf_native}" if leaf_native and leaf_native != label else ""
                )
    return "CPython / libc (no Python caller)", leaf_native or "?"


def _short(frame: str) -> str:
    m = PY_FRAME.match(frame)
    if m:
        path = m["file"]
        parts = path.split("/")
        tail = "/".join(parts[-2:]) if len(parts) > 1 else path
        return f"{m['func']} ({tail}:{m['line']})"
    m = NATIVE_FRAME.match(frame)
    if m:
        return f"{m['func']} ({Path(m['lib']).name})"
    return frame


def parse_raw(path: Path) -> list[tuple[list[str], int]]:
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples.append((stack.split(";"), int(count)))
    return samples


def aggregate(raw: Path, rate: int, audio_seconds: float) -> dict[str, Any]:
    samples = parse_raw(raw)
    to_ms = 1000.0 / rate / max(1e-9, audio_seconds)  # ms of CPU per audio second, per sample
    threads: Counter[str] = Counter()
    contexts: Counter[str] = Counter()
    context_self: dict[str, Counter[str]] = defaultdict(Counter)
    selfs: Counter[str] = Counter()
    leaf_frames: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    worker_self: Counter[str] = Counter()
    total = 0
    for frames, count in samples:
        total += count
        thread = thread_of(frames)
        threads[thread] += count
        category, frame = self_of(frames)
        bare = [_bare(f) for f in frames]
        for name, match in INCLUSIVE:
            if any(match(f) for f in bare):
                inclusive[name] += count
        if thread.startswith("python loop"):
            context = context_of(frames)
            contexts[context] += count
            context_self[context][category] += count
            selfs[category] += count
            leaf_frames[frame] += count
        elif thread == "opus encoder threads":
            worker_self[category] += count

    def ms(counter: Counter[str]) -> list[tuple[str, float, int]]:
        return [(k, round(v * to_ms, 3), v) for k, v in counter.most_common()]

    return {
        "samples": total,
        "rate_hz": rate,
        "audio_seconds": audio_seconds,
        "sampled_cpu_ms_per_audio_s": round(total * to_ms, 3),
        "by_thread": ms(threads),
        "loop_by_context": ms(contexts),
        "loop_context_self": {k: ms(v)[:6] for k, v in context_self.items()},
        "loop_by_self_category": ms(selfs),
        "loop_top_frames": ms(leaf_frames)[:30],
        "opus_workers_by_self_category": ms(worker_self),
        "inclusive": [
            (name, round(inclusive[name] * to_ms, 3), inclusive[name]) for name, _ in INCLUSIVE
        ],
    }


def render(title: str, agg: dict[str, Any]) -> str:
    out = [
        title,
        "",
        f"{agg['samples']} samples at {agg['rate_hz']} Hz over "
        f"{agg['audio_seconds']:.1f} session-audio s: "
        f"{agg['sampled_cpu_ms_per_audio_s']:.2f} ms of sampled CPU per audio second "
        "(all Python threads).",
        "",
    ]

    def block(name: str, rows: list[tuple[str, float, int]], indent: str = "  ") -> None:
        out.append(name)
        for label, value, count in rows:
            out.append(f"{indent}{value:8.3f} ms/s  {count:6d}  {label}")
        out.append("")

    block("By thread (ms per audio second, samples):", agg["by_thread"])
    block("Python loop thread, by context (who caused the work):", agg["loop_by_context"])
    for context, rows in agg["loop_context_self"].items():
        block(f"  {context}, by self category:", rows, indent="      ")
    block(
        "Python loop thread, by self category (deepest frame matching a rule):",
        agg["loop_by_self_category"],
    )
    block("Python loop thread, top self frames:", agg["loop_top_frames"])
    block("Opus encoder threads, by self category:", agg["opus_workers_by_self_category"])
    block("Inclusive time of key functions (all threads):", agg["inclusive"])
    return "\n".join(out)


def run_profiles(
    args: Any,
    run_pass: Callable[..., dict[str, Any]],
    spec: Callable[..., dict[str, Any]],
    out: Path,
) -> None:
    """For each format: an avatar pass at `args.profile` sessions with py-spy attached, and a
    do-nothing pass the same way (what the feeder and the runtime cost alone)."""
    import shutil
    import tempfile

    from .stamp import stamp

    py_spy = args.py_spy
    if not py_spy or not Path(py_spy).exists() and not shutil.which(py_spy):
        raise SystemExit(
            "py-spy not found: `pip install py-spy` into this Python, or pass --py-spy PATH"
        )
    n = args.profile
    rate = 200
    log_dir = Path(tempfile.mkdtemp(prefix="bench_real_runtime_profile_"))
    out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {**stamp(), "n": n, "seconds": args.seconds, "profiles": {}}
    texts = []
    for mode, fmt in [("null", "none")] + [("avatar", f) for f in args.formats.split(",")]:
        raw = log_dir / f"{mode}_{fmt}.raw"
        duration = max(2, int(args.seconds) - 2)
        run = run_pass(
            spec(mode, n, fmt, args.seconds),
            log_dir,
            profile={
                "py_spy": py_spy,
                "rate": rate,
                "duration": duration,
                "raw": raw,
                "flags": args.py_spy_flags.split(),
            },
        )
        if run.get("failed") or not raw.exists():
            print(f"{mode} {fmt}: profiling failed: {run.get('stderr_tail', '')[-800:]}")
            continue
        agg = aggregate(raw, rate, duration * n)
        agg["run"] = {
            k: run.get(k)
            for k in (
                "cpu_ms_per_audio_s",
                "loop_busy_total_ms_per_session_audio_s",
                "loop_busy_ms_per_session_audio_s",
                "cpu_ms_per_audio_s_by_thread",
                "latency",
                "max_hold_ms",
                "keeps_real_time",
            )
        }
        key = f"{mode}_{fmt}"
        report["profiles"][key] = agg
        label = "do-nothing extension" if mode == "null" else f"avatar, {fmt}"
        title = (
            f"py-spy {args.py_spy_flags} at {rate} Hz, {label}, N={n}, "
            f"{duration} s of the streaming window "
            f"({report['date']}, {report['machine']['cpu']}, "
            f"{report['machine']['cores']} cores)\n"
            f"figures of the same pass (py-spy attached): cpu {run['cpu_ms_per_audio_s']} ms/s, "
            f"per thread {json.dumps(run['cpu_ms_per_audio_s_by_thread'])}\n"
            "loop busy per category (LoopMeter): "
            f"{json.dumps(run['loop_busy_ms_per_session_audio_s'])}"
        )
        text = render(title, agg)
        texts.append(text)
        (out / f"profile_real_runtime_{key}_n{n}.txt").write_text(text + "\n")
        print(text, flush=True)
    (out / f"profile_real_runtime_n{n}.json").write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"wrote {out}/profile_real_runtime_*_n{n}.txt and profile_real_runtime_n{n}.json "
        f"(raw stacks in {log_dir})"
    )
