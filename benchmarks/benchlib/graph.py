"""N fake_tts -> avatar pairs in one graph (one app, one shared extension loop), run in
the TEN stand-in against an emulator in another process; and the loop's classifier."""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncExtensionTester,
    AsyncTenEnv,
    AsyncTenEnvTester,
    AudioFrame,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
    TenEnv,
    TenError,
    register_addon_as_extension,
)

import fake_graph  # noqa: F401  (registers fake_tts, fake_main_control, fake_sink)
from fake_graph import check_tester_node, registry, the_tester_node

AVATAR_ADDON = "spatius_avatar_python"
NULL_ADDON = "bench_null_sink"


class NullSink(AsyncExtension):
    """Takes frames and does nothing: the control run that prices the TTS and the runtime."""

    async def on_audio_frame(self, ten_env: AsyncTenEnv, audio_frame: AudioFrame) -> None:
        return None

    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        return None

    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))


@register_addon_as_extension(NULL_ADDON)
class NullSinkAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(NullSink(name), context)


def avatar_property(
    emulator_properties: dict[str, Any], index: int, audio_format: str, sample_rate: int = 24000
) -> dict[str, Any]:
    props = copy.deepcopy(emulator_properties)
    props["params"].update(
        {
            "spatius_avatar_id": f"avatar-{index}",  # the emulator runs with --any-avatar
            "agora_channel": f"bench-{index}",
            "agora_uid": str(2000 + index),
            "audio_format": audio_format,
            "sample_rate": sample_rate,
        }
    )
    props["telemetry"] = "off"
    return props


def pairs_graph(
    n: int,
    tts_script: Callable[[int], dict[str, Any]],
    receiver: Callable[[int], tuple[str, dict[str, Any]]],
    extra_nodes: list[dict[str, Any]] | None = None,
    extra_connections: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """tts-i -> avatar-i for i in range(n); `receiver(i)` gives the receiving node's addon
    and property."""
    nodes: list[dict[str, Any]] = []
    connections: list[dict[str, Any]] = []
    for i in range(n):
        addon, prop = receiver(i)
        nodes.append(
            {
                "type": "extension",
                "name": f"tts-{i}",
                "addon": "fake_tts",
                "property": tts_script(i),
            }
        )
        nodes.append({"type": "extension", "name": f"avatar-{i}", "addon": addon, "property": prop})
        connections.append(
            {
                "extension": f"tts-{i}",
                "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": f"avatar-{i}"}]}],
                "data": [
                    {"name": n_, "dest": [{"extension": f"avatar-{i}"}]}
                    for n_ in ("tts_audio_start", "tts_audio_end")
                ],
            }
        )
    return {
        "nodes": nodes + (extra_nodes or []) + [the_tester_node()],
        "connections": connections + (extra_connections or []),
    }


class _FlagTester(AsyncExtensionTester):
    """Stops the run once `done` is set. Polls every 50 ms instead of waiting on the
    records, which would wake this tester's loop on every frame sent."""

    def __init__(self, done: threading.Event) -> None:
        super().__init__()
        self._done = done
        self._task: asyncio.Task[None] | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self._task = asyncio.create_task(self._wait(ten_env))

    async def _wait(self, ten_env: AsyncTenEnvTester) -> None:
        # A threading.Event (set from another thread) cannot be awaited: poll it.
        while not self._done.is_set():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        ten_env.stop_test()


def run_until_flag(
    graph: dict[str, Any], done: threading.Event, timeout_s: float
) -> TenError | None:
    """Runs the graph until `done` is set (by any thread), then stops it; returns run()'s error."""
    check_tester_node(graph)
    registry.reset()
    tester = _FlagTester(done)
    tester.set_test_mode_graph(json.dumps(graph))
    tester.set_timeout(int(timeout_s * 1_000_000))
    return tester.run()


def tts_done(n: int) -> bool:
    nodes = registry.nodes()
    return all(
        "script_done" in nodes[f"tts-{i}"].events for i in range(n) if f"tts-{i}" in nodes
    ) and all(f"tts-{i}" in nodes for i in range(n))


def classify_graph_callback(callback: Any) -> str:
    """Which part of the process a loop callback belongs to: `avatar` (the extension and the
    Spatius SDK/websocket work it causes), `tts` (the fake TTS, including the runtime's
    send path it calls), `standin` (the runtime's delivery callbacks), or `other`."""
    owner = getattr(callback, "__self__", None)
    if isinstance(owner, asyncio.Task):
        coro = owner.get_coro()
        code = getattr(coro, "cr_code", None)
        frame = getattr(coro, "cr_frame", None)
        if code is not None and code.co_name == "_guarded" and frame is not None:
            host = frame.f_locals.get("self")
            name = getattr(host, "name", "")
            return (
                "tts"
                if name.startswith("tts")
                else "avatar"
                if name.startswith("avatar")
                else "other"
            )
        filename = code.co_filename if code is not None else ""
        return _by_file(filename)
    if owner is not None:
        module = type(owner).__module__
        if module.startswith("ten_runtime"):
            return "standin"
        if module.startswith(("websockets", "aiohttp")):
            return "avatar"
        if module.startswith("asyncio"):  # transports/futures: the only sockets here are the SDK's
            protocol = getattr(owner, "_protocol", None)
            return "avatar" if protocol is not None else "asyncio"
        return "other"
    module = getattr(callback, "__module__", "") or ""
    if module.startswith("ten_runtime"):
        return "standin"
    if module.startswith("fake_graph"):
        return "tts"
    qualname = getattr(callback, "__qualname__", "")
    if "_chain_future" in qualname or "run_in_executor" in qualname:
        return "avatar"  # executor results: the extension's off-loop Opus jobs
    return "asyncio"


def _by_file(filename: str) -> str:
    if (
        "spatius_avatar_python" in filename
        or "/spatius/" in filename
        or "websockets" in filename
        or "aiohttp" in filename
    ):
        return "avatar"
    if "fake_graph" in filename:
        return "tts"
    if "ten_runtime" in filename:
        return "standin"
    if "/extension.py" in filename:
        return "avatar"
    return "other"


BARGER_ADDON = "bench_barger"
# (utterance, flush sent at perf_counter, result at perf_counter, status) per flush sent.
flushes: list[tuple[int, float, float, int | None]] = []


class Barger(AsyncExtension):
    """Barges in on a plan: for each (utterance U, K frames), once the TTS node has sent K
    frames of U, sends cmd flush (as main_control does) and records when."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._task: asyncio.Task[None] | None = None

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        import json

        text, _ = await ten_env.get_property_to_json(None)
        script = json.loads(text or "{}")
        self._task = asyncio.create_task(self._run(ten_env, script["tts"], script["plan"]))

    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self, ten_env: AsyncTenEnv, tts: str, plan: list[list[int]]) -> None:
        # Polls every 2 ms, counting only frames new since the last look: waking on every
        # record change and rescanning every frame sent so far would cost O(frames) per frame.
        counts: dict[int, int] = {}
        seen = 0
        for utterance, frames in plan:
            deadline = time.perf_counter() + 600
            while counts.get(utterance, 0) < frames:
                if time.perf_counter() > deadline:
                    return
                await asyncio.sleep(0.002)
                sent = registry.node(tts).sent_frames
                for frame in sent[seen:]:
                    counts[frame.utterance] = counts.get(frame.utterance, 0) + 1
                seen = len(sent)
            sent_at = time.perf_counter()
            result, error = await ten_env.send_cmd(Cmd.create("flush"))
            status = None if error is not None or result is None else int(result.get_status_code())
            flushes.append((utterance, sent_at, time.perf_counter(), status))


@register_addon_as_extension(BARGER_ADDON)
class BargerAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(Barger(name), context)


def conversation_graph(
    tts_property: dict[str, Any], avatar_prop: dict[str, Any], plan: list[list[int]]
) -> dict[str, Any]:
    """tts -> avatar, barger --flush--> avatar, and the avatar passes the flush on to the TTS
    (which then ends its current utterance, as a TTS does after a barge-in)."""
    return {
        "nodes": [
            {"type": "extension", "name": "tts-0", "addon": "fake_tts", "property": tts_property},
            {
                "type": "extension",
                "name": "avatar-0",
                "addon": AVATAR_ADDON,
                "property": avatar_prop,
            },
            {
                "type": "extension",
                "name": "barger",
                "addon": BARGER_ADDON,
                "property": {"tts": "tts-0", "plan": plan},
            },
            {"type": "extension", "name": "sink", "addon": "fake_sink", "property": {}},
            the_tester_node(),  # the tester only polls a flag: nothing routed to it
        ],
        "connections": [
            {
                "extension": "tts-0",
                "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": "avatar-0"}]}],
                "data": [
                    {"name": n, "dest": [{"extension": "avatar-0"}]}
                    for n in ("tts_audio_start", "tts_audio_end")
                ],
            },
            {
                "extension": "barger",
                "cmd": [{"name": "flush", "dest": [{"extension": "avatar-0"}]}],
            },
            {
                "extension": "avatar-0",
                "cmd": [{"name": "flush", "dest": [{"extension": "tts-0"}]}],
                "data": [
                    {"name": n, "dest": [{"extension": "sink"}]} for n in ("metrics", "error")
                ],
            },
        ],
    }


def stale_audio_s(
    request: dict[str, Any],
    utterance: int,
    flush_sent_at: float,
    tts: str = "tts-0",
    rate: int = 24000,
    channels: int = 1,
) -> float:
    """Audio of an interrupted turn that reached the emulator beyond what the TTS had sent
    before the flush (frames sent before it may still be forwarded; later ones are stale)."""
    frames = registry.node(tts).sent_frames
    before = sum(
        f.nbytes for f in frames if f.utterance == utterance and f.sent_at < flush_sent_at
    )  # small runs
    excess = request["duration_s"] - before / (2 * rate * channels)
    return excess if excess > 1e-6 else 0.0
