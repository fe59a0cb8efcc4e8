"""The cheaper data path's parts, measured in isolation (no TEN, one process):

1. Opus hand-offs: S sessions on one asyncio loop, each encoding our speech at real-time
   pace (20 ms frames, phases spread over the frame period), through
   - `executor`: today's `OggOpusRequestEncoder.encode` (one `run_in_executor` job per call,
     two pool threads),
   - `worker`: `OpusWorker` (one thread, one `call_soon_threadsafe` per batch), a job per frame,
   - `executor40`, `worker40`: the same with 40 ms per job (what the batching rule gives at
     20 ms frames).
   Same encoder, same settings (complexity 5): the difference is the hand-offs.
2. Sends: the bare SDK sending PCM to the emulator (another process) at real-time pace,
   20 ms per `send_audio` (today: one per frame) vs 40 ms (the batching rule), with the
   emulator refusing permessage-deflate and accepting it (the SDK offers it).

Figure: CPU of this process (all threads, `time.process_time`) per audio second, median of
`--repeats` interleaved runs; the variants of one row run back to back.

Run: .venv/bin/python benchmarks/micro_data_path.py [--seconds 8] [--repeats 3] [--sessions 1,10]
Writes benchmarks/results/micro_data_path.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from benchlib.setup import RESULTS_DIR, prepare_paths  # noqa: E402

prepare_paths()

from spatius_emulator.process import EmulatorProcess  # noqa: E402
from speech_fixtures import speech_pcm  # noqa: E402

from benchlib.floor import new_floor_session  # noqa: E402
from spatius_avatar_python.opus import OggOpusRequestEncoder  # noqa: E402
from spatius_avatar_python.opus_worker import OpusWorker  # noqa: E402
from spatius_avatar_python.transport import new_uncompressed_session  # noqa: E402

RATE = 24000
FRAME_S = 0.020
FRAME_BYTES = int(RATE * FRAME_S) * 2


async def paced(sessions: int, seconds: float, per_send_s: float, send: Any) -> float:
    """Runs `send(i, pcm, end)` for each session at real-time pace; returns CPU s used."""
    pcm = speech_pcm(RATE, seconds)
    step = int(RATE * per_send_s) * 2
    pieces = [pcm[k : k + step] for k in range(0, len(pcm), step)]
    start = time.perf_counter() + 0.2
    cpu0 = time.process_time()

    async def one(i: int) -> None:
        phase = start + i * FRAME_S / sessions
        for k, piece in enumerate(pieces):
            # a piece is sendable once its last 20 ms frame has arrived
            due = phase + (k + 1) * per_send_s - FRAME_S
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await send(i, piece, k == len(pieces) - 1)

    await asyncio.gather(*(one(i) for i in range(sessions)))
    return time.process_time() - cpu0


async def opus_run(variant: str, sessions: int, seconds: float) -> float:
    encoders = [OggOpusRequestEncoder(RATE) for _ in range(sessions)]
    worker = OpusWorker() if variant.startswith("worker") else None

    async def send(i: int, piece: bytes, end: bool) -> None:
        if worker is None:
            await encoders[i].encode(piece, end=end)
        else:
            await worker.encode(encoders[i], piece, end=end)

    per_send = 0.040 if variant.endswith("40") else FRAME_S
    try:
        cpu = await paced(sessions, seconds, per_send, send)
    finally:
        if worker is not None:
            worker.close()
    return 1000 * cpu / (sessions * seconds)


async def send_run(
    props: dict[str, Any], per_send_s: float, sessions: int, seconds: float, factory: Any
) -> float:
    opened = []
    for i in range(sessions):
        session = new_floor_session(props, i, "pcm_s16le")
        if factory is not None:  # the same session, opened without permessage-deflate
            session = factory(**_kwargs_of(session))
        await session.init()
        await session.start()
        opened.append(session)

    async def send(i: int, piece: bytes, end: bool) -> None:
        await opened[i].send_audio(piece, end=end)

    try:
        cpu = await paced(sessions, seconds, per_send_s, send)
    finally:
        await asyncio.gather(*(s.close() for s in opened), return_exceptions=True)
    return 1000 * cpu / (sessions * seconds)


def _kwargs_of(session: Any) -> dict[str, Any]:
    c = session._config
    return {
        "avatar_id": c.avatar_id,
        "api_key": c.api_key,
        "app_id": c.app_id,
        "sample_rate": c.sample_rate,
        "audio_format": c.audio_format,
        "console_endpoint_url": c.console_endpoint_url,
        "ingress_endpoint_url": c.ingress_endpoint_url,
        "agora_egress": c.agora_egress,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sessions", default="1,10")
    args = parser.parse_args()
    from benchlib.stamp import stamp

    import spatius

    spatius.configure_telemetry("")
    rows: list[dict[str, Any]] = []
    for sessions in [int(s) for s in args.sessions.split(",")]:
        runs: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for variant in ("executor", "worker", "executor40", "worker40"):
                runs.setdefault(f"opus {variant}", []).append(
                    asyncio.run(opus_run(variant, sessions, args.seconds))
                )
            for deflate in (False, True):
                extra = () if deflate else ("--no-compression",)
                with EmulatorProcess("--no-keep-audio", "--any-avatar", *extra) as emulator:
                    for per_send in (0.020, 0.040):
                        verb = "accepts" if deflate else "refuses"
                        name = f"pcm send {int(per_send * 1000)} ms, emulator {verb} deflate"
                        runs.setdefault(name, []).append(
                            asyncio.run(
                                send_run(
                                    emulator.properties, per_send, sessions, args.seconds, None
                                )
                            )
                        )
                    if deflate:
                        name = (
                            "pcm send 20 ms, emulator accepts deflate, our session (none offered)"
                        )
                        runs.setdefault(name, []).append(
                            asyncio.run(
                                send_run(
                                    emulator.properties,
                                    0.020,
                                    sessions,
                                    args.seconds,
                                    new_uncompressed_session,
                                )
                            )
                        )
        for name, values in runs.items():
            row = {
                "sessions": sessions,
                "variant": name,
                "cpu_ms_per_audio_s": round(statistics.median(values), 2),
                "runs": [round(v, 2) for v in values],
            }
            rows.append(row)
            print(
                f"N={sessions:<3} {name:75} {row['cpu_ms_per_audio_s']:7.2f} ms/s  {row['runs']}",
                flush=True,
            )
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "micro_data_path.json").write_text(
        json.dumps({**stamp(), "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
