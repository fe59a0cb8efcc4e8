"""Barge-in: latency from cmd `flush` sent (by a main_control-like node) to the interrupt
received by the emulator (another process), p50/p99 over many barge-ins; and the audio of
each interrupted turn that reached the emulator beyond what the TTS had sent before the
flush (stale audio, must be zero), and bytes that arrived after the interrupt (must be zero).

Run: .venv/bin/python benchmarks/bench_interrupt.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.setup import REPO, prepare_paths

prepare_paths()

UTTERANCE_MS = 1500
FLUSH_AFTER_FRAMES = 25  # 0.5 s into each utterance
PAUSE_MS = 300


def pair_flushes_with_interrupts(
    flush_sent_at: list[float], interrupted: list[dict[str, Any]]
) -> list[dict[str, Any] | None]:
    """For each flush (send times in order), the interrupted request it caused: the first
    interrupt at or after the flush and before the next flush, on any connection; None when
    none arrived. Matched by time, not by position: one missing or extra interrupt, or a
    reconnect, must not shift every later pair."""
    by_time = sorted(interrupted, key=lambda r: float(r["interrupt_s"]))
    pairs: list[dict[str, Any] | None] = []
    for i, sent_at in enumerate(flush_sent_at):
        next_at = flush_sent_at[i + 1] if i + 1 < len(flush_sent_at) else float("inf")
        pairs.append(next((r for r in by_time if sent_at <= r["interrupt_s"] < next_at), None))
    return pairs


def run(audio_format: str, barge_ins: int) -> dict[str, Any]:
    import numpy as np
    from ten_runtime import standin

    from benchlib import graph as g
    from benchlib.latency import summarize_ms
    from benchlib.setup import speech_file
    from fake_graph import registry
    from spatius_emulator.process import EmulatorProcess

    standin.set_message_recording(False)
    g.flushes.clear()
    speech = speech_file(24000)
    utterances = [
        {
            "request_id": f"r{i}",
            "turn_id": i + 1,
            "pcm_file": str(speech),
            "sample_rate": 24000,
            "offset_ms": (i * 700) % 18000,
            "max_ms": UTTERANCE_MS,
        }
        for i in range(barge_ins)
    ]
    tts = {
        "session_id": "s",
        "pace": 1.0,
        "pause_ms": PAUSE_MS,
        "start_delay_ms": 1500,
        "utterances": utterances,
    }
    plan = [[i, FLUSH_AFTER_FRAMES] for i in range(barge_ins)]
    with EmulatorProcess("--no-keep-audio", "--no-compression", "--any-avatar") as emulator:
        avatar = g.avatar_property(emulator.properties, 0, audio_format)
        done = threading.Event()

        def watch() -> None:
            while not g.tts_done(1) or len(g.flushes) < barge_ins:
                time.sleep(0.05)
            time.sleep(0.5)
            done.set()

        threading.Thread(target=watch, daemon=True).start()
        error = g.run_until_flag(
            g.conversation_graph(tts, avatar, plan), done, timeout_s=barge_ins * 3 + 60
        )
        stats = emulator.stats(chunks=True)
    conns = [c for c in stats["connections"] if c["confirmed_s"] is not None]
    requests = [r for c in conns for r in c["requests"]]
    interrupted = [r for r in requests if r["interrupt_s"] is not None]
    pairs = pair_flushes_with_interrupts([f[1] for f in g.flushes], interrupted)
    latencies, stale_s, stale_requests, after_interrupt = [], 0.0, 0, 0
    for (utterance, sent_at, _, _), request in zip(g.flushes, pairs, strict=True):
        if request is None:
            continue
        latencies.append(request["interrupt_s"] - sent_at)
        excess = g.stale_audio_s(request, utterance, sent_at)
        if excess:
            stale_s += excess
            stale_requests += 1
        after_interrupt += sum(
            int(c[1]) for c in request["chunks"] if c[0] > request["interrupt_s"]
        )
    flush_results = [f[2] - f[1] for f in g.flushes]
    return {
        "format": audio_format,
        "error": None if error is None else error.error_message(),
        "barge_ins": len(g.flushes),
        "flush_results_ok": sum(1 for f in g.flushes if f[3] == 0),
        "interrupts_received": len(interrupted),
        "flushes_without_interrupt": sum(1 for r in pairs if r is None),
        "interrupts_without_flush": len(interrupted) - sum(1 for r in pairs if r is not None),
        "connections": len(conns),
        "flush_to_interrupt": summarize_ms(np.array(latencies)),
        "flush_to_result": summarize_ms(np.array(flush_results)),
        "stale_audio_ms": round(stale_s * 1000, 3),
        "requests_with_stale_audio": stale_requests,
        "bytes_after_interrupt": after_interrupt,
        "next_turn_audio_s": round(sum(r["duration_s"] for r in requests), 2),
        "frames_sent": len(registry.node("tts-0").sent_frames),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from benchlib.stamp import write_result

    barge_ins = 10 if args.quick else 60
    results = [run(fmt, barge_ins) for fmt in ("pcm_s16le", "ogg_opus")]
    print(
        f"{'format':>10} {'barge-ins':>9} {'interrupts':>10} {'unpaired':>8} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'stale ms':>8}"
    )
    for r in results:
        lat = r["flush_to_interrupt"]
        print(
            f"{r['format']:>10} {r['barge_ins']:>9} {r['interrupts_received']:>10} "
            f"{r['flushes_without_interrupt']:>8} {lat['p50_ms']!s:>7} "
            f"{lat['p99_ms']!s:>7} {lat['max_ms']!s:>7} {r['stale_audio_ms']:>8}"
        )
    path = write_result(
        "bench_interrupt_quick" if args.quick else "bench_interrupt", {"runs": results}
    )
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
