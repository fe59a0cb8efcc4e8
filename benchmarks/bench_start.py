"""Session start: the extension's `connect_ms` metric (on_start schedules the connect ->
session confirmed) and the emulator's view (token request -> handshake confirmed), cold
and with the session token prefetched by `spatius.prewarm(prefetch_session_token=True)`
in the same process; and the same two at the bare SDK level (init + start).

The SDK keeps prefetched tokens in a process-wide cache keyed by (api key, app id,
console URL) that `AvatarSession.init()` reads: an app that calls `spatius.prewarm` before
the avatar starts speeds it up with no change to the extension (checked here by the
emulator's token request count).

Run: .venv/bin/python benchmarks/bench_start.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib.setup import REPO, prepare_paths

prepare_paths()


async def prefetch(props: dict[str, Any]) -> bool:
    import spatius

    result = await spatius.prewarm(
        app_id=props["params"]["spatius_app_id"],
        api_key=props["params"]["spatius_api_key"],
        console_endpoint_url=props["console_endpoint_url"],
        ingress_endpoint_url=props["ingress_endpoint_url"],
        warm_tls=False,
        prefetch_session_token=True,
    )
    return bool(result.session_token_prefetched)


def extension_start(emulator: Any, prefetched: bool) -> dict[str, Any]:
    import spatius.token_cache as token_cache

    from benchlib import graph as g
    from fake_graph import registry, run_graph_until, the_tester_node

    token_cache.clear_cached_session_tokens()
    if prefetched:
        assert asyncio.run(prefetch(emulator.properties)), "prewarm did not prefetch a token"
    before = emulator.stats()
    graph = {
        "nodes": [
            {
                "type": "extension",
                "name": "avatar-0",
                "addon": g.AVATAR_ADDON,
                "property": g.avatar_property(emulator.properties, 0, "pcm_s16le"),
            },
            {"type": "extension", "name": "sink", "addon": "fake_sink", "property": {}},
            the_tester_node(),
        ],
        "connections": [
            {
                "extension": "avatar-0",
                "data": [{"name": "metrics", "dest": [{"extension": "sink"}]}],
            }
        ],
    }

    def connected(records: Any) -> bool:
        return any(
            m.name == "metrics" and "connect_ms" in m.properties.get("metrics", {})
            for m in records.node("sink").received
        )

    outcome = run_graph_until(graph, connected, timeout_s=30)
    after = emulator.stats()
    metrics = next(
        m.properties["metrics"]
        for m in registry.node("sink").received
        if m.name == "metrics" and "connect_ms" in m.properties.get("metrics", {})
    )
    conn = after["connections"][-1]
    return {
        "ok": outcome.error is None and outcome.satisfied,
        "connect_ms": metrics["connect_ms"],
        "emulator_open_to_confirm_ms": round((conn["confirmed_s"] - conn["opened_s"]) * 1000, 2),
        "token_requests": after["token_requests"] - before["token_requests"],
    }


async def sdk_start(emulator: Any, index: int, prefetched: bool) -> dict[str, Any]:
    import spatius.token_cache as token_cache

    from benchlib.floor import new_floor_session

    token_cache.clear_cached_session_tokens()
    if prefetched:
        await prefetch(emulator.properties)
    before = emulator.stats()["token_requests"]
    session = new_floor_session(emulator.properties, index, "pcm_s16le")
    started = time.perf_counter()
    await session.init()
    init_done = time.perf_counter()
    await session.start()
    confirmed = time.perf_counter()
    await session.close()
    return {
        "connect_ms": round((confirmed - started) * 1000, 2),
        "init_ms": round((init_done - started) * 1000, 2),
        "token_requests": emulator.stats()["token_requests"] - before,
    }


def summary(values: list[float]) -> dict[str, float]:
    import numpy as np

    data = np.array(values)
    return {
        "median_ms": round(float(np.median(data)), 2),
        "p90_ms": round(float(np.percentile(data, 90)), 2),
        "min_ms": round(float(data.min()), 2),
        "runs": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    import spatius
    from ten_runtime import standin

    from benchlib.stamp import write_result
    from spatius_emulator.process import EmulatorProcess

    spatius.configure_telemetry("")
    standin.set_message_recording(False)
    repeats = 3 if args.quick else 12
    ext: dict[str, list[dict[str, Any]]] = {"cold": [], "prefetched": []}
    sdk: dict[str, list[dict[str, Any]]] = {"cold": [], "prefetched": []}
    with EmulatorProcess("--no-compression", "--any-avatar") as emulator:
        extension_start(emulator, False)  # first start pays imports and the first connection set-up
        for i in range(repeats):  # alternate, so drift on a noisy machine hits both alike
            for kind in ("cold", "prefetched"):
                ext[kind].append(extension_start(emulator, kind == "prefetched"))
                sdk[kind].append(asyncio.run(sdk_start(emulator, i, kind == "prefetched")))
    result = {
        "extension": {
            k: {
                "connect_ms": summary([r["connect_ms"] for r in v]),
                "emulator_open_to_confirm_ms": summary(
                    [r["emulator_open_to_confirm_ms"] for r in v]
                ),
                "token_requests_per_start": sum(r["token_requests"] for r in v) / len(v),
                "all_ok": all(r["ok"] for r in v),
            }
            for k, v in ext.items()
        },
        "sdk": {
            k: {
                "connect_ms": summary([r["connect_ms"] for r in v]),
                "init_ms": summary([r["init_ms"] for r in v]),
                "token_requests_per_start": sum(r["token_requests"] for r in v) / len(v),
            }
            for k, v in sdk.items()
        },
    }
    print(
        f"{'':>22} {'cold median ms':>15} {'prefetched median ms':>21} "
        f"{'token req/start (cold, pref.)':>30}"
    )
    for level, key in (("extension connect_ms", "extension"), ("SDK init+start", "sdk")):
        cold, pref = result[key]["cold"], result[key]["prefetched"]
        print(
            f"{level:>22} {cold['connect_ms']['median_ms']:>15} "
            f"{pref['connect_ms']['median_ms']:>21} "
            f"{cold['token_requests_per_start']:>14} {pref['token_requests_per_start']:>15}"
        )
    path = write_result("bench_start_quick" if args.quick else "bench_start", result)
    print(f"wrote {path.relative_to(REPO)}")


if __name__ == "__main__":
    main()
