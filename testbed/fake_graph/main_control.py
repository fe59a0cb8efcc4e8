"""fake_main_control: sends cmd `flush` at a scripted moment and records its result;
records (and answers OK) every cmd and records every data it receives.

Node property (one trigger):
    flush_after_ms: N                         -- N ms after on_start, or
    flush_after_tts_frames: {"tts": "<node>", "utterance": U, "frames": K}
                                              -- once that TTS node has sent K frames of
                                                 utterance U (read from the shared records)
    flush_timeout_ms: how long to wait for the trigger (default 60000)
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ten_runtime import (
    Addon,
    AsyncExtension,
    AsyncTenEnv,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
    TenEnv,
    register_addon_as_extension,
)

from .capture import capture
from .records import Registry, registry


class FakeMainControl(AsyncExtension):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self._task: asyncio.Task[None] | None = None

    async def on_start(self, ten_env: AsyncTenEnv) -> None:
        text, _ = await ten_env.get_property_to_json(None)
        script = json.loads(text or "{}")
        if "flush_after_ms" in script or "flush_after_tts_frames" in script:
            self._task = asyncio.create_task(self._flush_when_due(ten_env, script))

    async def on_stop(self, ten_env: AsyncTenEnv) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def on_cmd(self, ten_env: AsyncTenEnv, cmd: Cmd) -> None:
        registry.add_received(self.name, capture("cmd", cmd))
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def on_data(self, ten_env: AsyncTenEnv, data: Data) -> None:
        registry.add_received(self.name, capture("data", data))

    async def _flush_when_due(self, ten_env: AsyncTenEnv, script: dict[str, Any]) -> None:
        try:
            if "flush_after_tts_frames" in script:
                trigger = script["flush_after_tts_frames"]
                tts, utterance, frames = (
                    trigger["tts"],
                    int(trigger["utterance"]),
                    int(trigger["frames"]),
                )

                def reached(records: Registry) -> bool:
                    return records.node(tts).frames_sent_in(utterance) >= frames

                timeout_s = float(script.get("flush_timeout_ms", 60000)) / 1000
                if not await registry.wait_until(reached, timeout_s):
                    ten_env.log_warn(f"flush trigger not reached: {tts} utterance {utterance}")
                    return
            else:
                await asyncio.sleep(float(script["flush_after_ms"]) / 1000)
            registry.add_event(self.name, "flush_sent")
            result, error = await ten_env.send_cmd(Cmd.create("flush"))
            status = None if error is not None or result is None else int(result.get_status_code())
            registry.add_cmd_result(self.name, "flush", status)
            registry.add_event(self.name, "flush_result")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            ten_env.log_error(f"fake_main_control failed: {exc!r}")


@register_addon_as_extension("fake_main_control")
class FakeMainControlAddon(Addon):
    def on_create_instance(self, ten_env: TenEnv, name: str, context: object) -> None:
        ten_env.on_create_instance_done(FakeMainControl(name), context)
