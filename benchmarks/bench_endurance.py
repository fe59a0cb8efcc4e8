"""Endurance: an hour of conversation-like traffic (utterances of 1-8 s of real speech,
pauses, a barge-in every few turns) through the extension to the emulator in another
process, run faster than real time (pace 20x). RSS, asyncio tasks and threads at start
and end, and every utterance's audio accounted: completed turns arrive whole, interrupted
turns get nothing after their flush.

Run: .venv/bin/python benchmarks/bench_endurance.py [--quick] [--format ogg_opus|pcm_s16le]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.setup import REPO, prepare_paths

prepare_paths()

PACE = 20.0
PAUSE_MS = 600
BARGE_IN_EVERY = 5  # every 5th turn is interrupted halfway
SPEECH_S = 20.0


def script(
    total_audio_s: float, seed: int = 7
) -> tuple[list[dict[str, Any]], list[list[int]], list[float]]:
    """Utterances of 1-8 s cut from the speech fixture, the barge-in plan, the lengths."""
    from benchlib.setup import speech_file

    rng = random.Random(seed)
    speech = str(speech_file(24000))
    utterances: list[dict[str, Any]] = []
    plan: list[list[int]] = []
    lengths: list[float] = []
    total = 0.0
    while total < total_audio_s:
        index = len(utterances)
        length_ms = rng.randint(1000, 8000)
        offset_ms = rng.randint(0, int(SPEECH_S * 1000) - length_ms)
        utterances.append(
            {
                "request_id": f"r{index}",
                "turn_id": index + 1,
                "pcm_file": speech,
                "sample_rate": 24000,
                "offset_ms": offset_ms,
                "max_ms": length_ms,
            }
        )
        if index % BARGE_IN_EVERY == BARGE_IN_EVERY - 1:
            plan.append([index, length_ms // 40])  # halfway, in 20 ms frames
        lengths.append(length_ms / 1000)
        total += length_ms / 1000
    return utterances, plan, lengths


def loop_state(loop: asyncio.AbstractEventLoop) -> dict[str, int]:
    """Tasks on the extension loop (read on that loop) and threads of the process."""
    result: dict[str, int] = {}
    ready = threading.Event()

    def count() -> None:
        result["asyncio_tasks"] = len(asyncio.all_tasks(loop))
        ready.set()

    loop.call_soon_threadsafe(count)
    ready.wait(5)
    result["threads"] = threading.active_count()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="5 minutes of audio instead of an hour"
    )
    parser.add_argument("--format", default="ogg_opus", choices=("ogg_opus", "pcm_s16le"))
    parser.add_argument("--receiver", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.receiver is None:
        orchestrate(args)
    else:
        run(args)


def orchestrate(args: argparse.Namespace) -> None:
    """The avatar run, then the control run (the same traffic into a do-nothing node), each
    in a fresh process: RSS growth of the control is what the test bed's own records of
    every frame cost, not the extension."""
    import json
    import subprocess

    from benchlib.stamp import write_result

    results = {}
    for receiver in ("avatar", "control"):
        cmd = [sys.executable, __file__, "--format", args.format, "--receiver", receiver] + (
            ["--quick"] if args.quick else []
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise SystemExit(f"{receiver} run failed:\n{proc.stderr[-3000:]}")
        results[receiver] = json.loads(lines[-1][len("RESULT ") :])
    avatar, control = results["avatar"], results["control"]
    print(
        f"{avatar['audio_s']} s of audio in {avatar['turns']} turns, "
        f"{avatar['barge_ins']} barge-ins, "
        f"{avatar['wall_s']} s wall, {avatar['connections']} connection(s), error {avatar['error']}"
    )
    print(
        f"turns: {avatar['completed_turns_whole']} whole, "
        f"{avatar['interrupted_turns']} interrupted, "
        f"{avatar['turns_without_request']} without a request (cut before any audio); "
        f"requests left unmatched: {avatar['requests_left_unmatched']}; "
        f"stale audio after flushes: {avatar['stale_audio_ms']} ms"
    )
    for name, r in results.items():
        print(
            f"{name:>8}: RSS {r['start']['rss_mb']} -> {r['end']['rss_mb']} MB, asyncio tasks "
            f"{r['start']['asyncio_tasks']} -> {r['end']['asyncio_tasks']}, "
            f"threads {r['start']['threads']} -> {r['end']['threads']}"
        )
    growth = round(avatar["rss_growth_mb"] - control["rss_growth_mb"], 1)
    print(f"RSS growth attributable to the extension (avatar minus control): {growth} MB")
    path = write_result(
        "bench_endurance_quick" if args.quick else "bench_endurance",
        {"avatar": avatar, "control": control, "rss_growth_minus_control_mb": growth},
    )
    print(f"wrote {path.relative_to(REPO)}")


def run(args: argparse.Namespace) -> None:
    import json

    from ten_runtime import standin

    from benchlib import graph as g
    from benchlib.procstat import rss_mb
    from fake_graph import registry
    from spatius_emulator.process import EmulatorProcess

    standin.set_message_recording(False)
    total_s = 300.0 if args.quick else 3600.0
    utterances, plan, lengths = script(total_s)
    tts = {
        "session_id": "s",
        "pace": PACE,
        "pause_ms": PAUSE_MS,
        "start_delay_ms": 1500,
        "utterances": utterances,
    }
    samples: list[dict[str, Any]] = []
    done = threading.Event()
    started = time.perf_counter()

    def watch() -> None:
        while (loop := standin.app_loop()) is None:
            time.sleep(0.01)
        samples_every = 10.0 if not args.quick else 2.0
        next_at = 0.0
        while not g.tts_done(1):
            if time.perf_counter() >= next_at:
                samples.append(
                    {
                        "t_s": round(time.perf_counter() - started, 1),
                        "rss_mb": round(rss_mb(), 1),
                        "frames_sent": len(registry.node("tts-0").sent_frames),
                        **loop_state(loop),
                    }
                )
                next_at = time.perf_counter() + samples_every
            time.sleep(0.1)
        time.sleep(1.0)
        samples.append(
            {
                "t_s": round(time.perf_counter() - started, 1),
                "rss_mb": round(rss_mb(), 1),
                "frames_sent": len(registry.node("tts-0").sent_frames),
                **loop_state(loop),
            }
        )
        done.set()

    with EmulatorProcess("--no-keep-audio", "--no-compression", "--any-avatar") as emulator:
        g.flushes.clear()
        avatar = g.avatar_property(emulator.properties, 0, args.format)
        graph = g.conversation_graph(tts, avatar, plan)
        if args.receiver == "control":
            graph["nodes"][1].update(addon=g.NULL_ADDON, property={})
        threading.Thread(target=watch, daemon=True).start()
        error = g.run_until_flag(graph, done, timeout_s=total_s / PACE * 3 + 120)
        stats = emulator.stats(chunks=True)
    conns = [c for c in stats["connections"] if c["confirmed_s"] is not None]
    requests = [r for c in conns for r in c["requests"]]
    # Requests reach the emulator in turn order, one per turn that had audio sent. A barge-in
    # stops everything still playing or queued: at 20x pace that is often several turns (the
    # avatar is minutes behind the TTS), each interrupted, the last one's tail never sent.
    # So each turn is matched to the next request: ended and as long as the turn (whole), or
    # interrupted and no longer than what the TTS had sent of it before the flush that cut
    # it (anything beyond is stale). A turn that fits neither had no audio sent (its request
    # never existed: a flush came before any of it was forwarded).
    frames = registry.node("tts-0").sent_frames
    first_sent: dict[int, float] = {}
    for f in frames:
        first_sent.setdefault(f.utterance, f.sent_at)
    flush_times = sorted(sent for _, sent, *_ in g.flushes)
    completed_ok, stale_s, no_request, interrupted_turns = 0, 0.0, 0, 0
    pending = list(requests)
    for turn, length in enumerate(lengths):
        request = pending[0] if pending else None
        if (
            request is not None
            and request["ended"]
            and request["interrupt_s"] is None
            and abs(request["duration_s"] - length) <= 0.021
        ):
            completed_ok += 1
            pending.pop(0)
            continue
        if request is not None and request["interrupt_s"] is not None and turn in first_sent:
            cut_by = next((t for t in flush_times if t > first_sent[turn]), None)
            if cut_by is not None:
                pending.pop(0)
                interrupted_turns += 1
                stale_s += g.stale_audio_s(request, turn, cut_by)
                continue
        if (
            request is not None
            and request["ended"]
            and abs(request["duration_s"] - length) <= 0.021
        ):
            completed_ok += 1  # whole, and interrupted after it had all been sent and ended
            pending.pop(0)
            continue
        no_request += 1
    # "Start" is the first sample after a tenth of the traffic: start-up allocations (scripts
    # loaded, the first connection) have settled by then.
    # "End" is the last sample taken while the TTS still streamed: once its script ends, it
    # frees the script's PCM, which would hide growth elsewhere.
    streaming = samples[:-1] if len(samples) > 2 else samples
    last = streaming[-1]
    first = next(x for x in streaming if x["frames_sent"] >= last["frames_sent"] / 10)
    result = {
        "format": args.format,
        "pace": PACE,
        "audio_s": round(sum(lengths), 1),
        "turns": len(lengths),
        "barge_ins": len(g.flushes),
        "error": None if error is None else error.error_message(),
        "connections": len(conns),
        "requests": len(requests),
        "completed_turns_whole": completed_ok,
        "interrupted_turns": interrupted_turns,
        "turns_without_request": no_request,
        "requests_left_unmatched": len(pending),
        "stale_audio_ms": round(stale_s * 1000, 3),
        "wall_s": round(time.perf_counter() - started, 1),
        "start": first,
        "end": last,
        "rss_growth_mb": round(last["rss_mb"] - first["rss_mb"], 1),
        "after_stop_sample": samples[-1],
        "samples": samples,
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
