"""One demo run: the Spatius emulator in a thread, the voice-agent graph with the real
extension on the TEN runtime (the test bed's stand-in outside a TEN app), and a tester
that narrates the run and stops it once everything it waits for has happened.

Imports the test bed: import this module only after `paths.use_testbed()`.
"""

from __future__ import annotations

import asyncio
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fake_graph
from spatius_emulator import EmulatorConfig, EmulatorThread
from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester

from .demo_facts import Clocks, DemoFacts, collect
from .demo_graph import barge_in_script, demo_graph, tts_script
from .demo_progress import Narrator
from .live_output import LiveOutput

TICK_S = 0.1
HANG_GUARD_S = 30.0  # beyond the scripted length: only against hangs
PAUSE_MS = 2000  # between utterances (the user speaks), at pace 1
START_DELAY_MS = 1000  # the agent speaks a moment after it joined

# The emulator's credentials for this run: fake, and accepted by nothing else.
API_KEY = "demo-api-key"
APP_ID = "demo-app"
AVATAR_ID = "demo-avatar"
AGORA_APP_ID = "0123456789abcdef0123456789abcdef"
AGORA_APP_CERT = "fedcba9876543210fedcba9876543210"
CHANNEL = "demo-channel"
AVATAR_UID = "2001"
SESSION_RATE = 24000


@dataclass
class DemoOutcome:
    facts: DemoFacts
    completed: bool  # everything the demo waits for happened before the hang guard
    elapsed_s: float
    failure: str | None  # the graph or the tester broke


def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        api_keys=(API_KEY,),
        app_ids=(APP_ID,),
        avatar_ids=(AVATAR_ID,),
        agora_app_id=AGORA_APP_ID,
        agora_app_cert=AGORA_APP_CERT,
    )


def avatar_properties(emulator: EmulatorThread, audio_format: str) -> dict[str, Any]:
    return {
        "params": {
            "spatius_api_key": API_KEY,
            "spatius_app_id": APP_ID,
            "spatius_avatar_id": AVATAR_ID,
            "agora_appid": AGORA_APP_ID,
            "agora_appcert": AGORA_APP_CERT,
            "agora_channel": CHANNEL,
            "agora_uid": AVATAR_UID,
            "audio_format": audio_format,
            "sample_rate": SESSION_RATE,
        },
        "console_endpoint_url": emulator.console_url,
        "ingress_endpoint_url": emulator.ingress_url,
        "telemetry": "off",  # nothing leaves the machine
    }


class _DemoTester(AsyncExtensionTester):
    def __init__(
        self, snapshot: Callable[[], DemoFacts], out: LiveOutput, deadline_s: float
    ) -> None:
        super().__init__()
        self._snapshot = snapshot
        self._out = out
        self._deadline_s = deadline_s
        self._task: asyncio.Task[None] | None = None
        self.completed = False
        self.failure: str | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self._task = asyncio.create_task(self._watch(ten_env))

    async def _watch(self, ten_env: AsyncTenEnvTester) -> None:
        started = time.monotonic()
        narrator = Narrator(started)
        try:
            while True:
                elapsed = time.monotonic() - started
                facts = self._snapshot()
                for line in narrator.new_events(facts):
                    self._out.event(line)
                self._out.status(narrator.status(facts, elapsed))
                if facts.complete:
                    self.completed = True
                    break
                if facts.fatal_error is not None or elapsed > self._deadline_s:
                    break
                await asyncio.sleep(TICK_S)
        except Exception:  # reported with the outcome, in the caller's thread
            self.failure = traceback.format_exc()
        finally:
            self._out.close()
            ten_env.stop_test()


def run_demo(
    pcm_files: list[Path],
    planned_s: list[float],
    sample_rate: int,
    *,
    pace: float,
    audio_format: str,
    out: LiveOutput,
) -> DemoOutcome:
    """Run the graph with one utterance per raw mono s16le file (at `sample_rate`)."""
    frames_of_second = planned_s[1] * 1000 / 20  # fake_tts sends 20 ms frames
    tts = tts_script(
        pcm_files,
        sample_rate,
        pace=pace,
        pause_ms=PAUSE_MS,
        start_delay_ms=int(START_DELAY_MS / pace),
    )
    main_control = barge_in_script(max(1, int(frames_of_second // 2)))
    scripted_s = (sum(planned_s) + PAUSE_MS / 1000 * (len(planned_s) - 1)) / pace
    fake_graph.registry.reset()
    clocks = Clocks.measure()
    started = time.monotonic()
    with EmulatorThread(emulator_config()) as emulator:
        graph = demo_graph(avatar_properties(emulator, audio_format), tts, main_control)

        def snapshot() -> DemoFacts:
            return collect(fake_graph.registry, emulator.recording, planned_s, sample_rate, clocks)

        tester = _DemoTester(snapshot, out, scripted_s + HANG_GUARD_S)
        tester.set_test_mode_graph(json.dumps(graph))
        failure = None
        try:
            error = tester.run()
            if error is not None:
                failure = f"the graph stopped with an error: {error.error_message()}"
        except Exception as exc:  # e.g. the stand-in's StandinRunError: an extension crashed
            failure = f"the graph failed: {exc}"
        failure = tester.failure or failure
        facts = snapshot()
    return DemoOutcome(facts, tester.completed, time.monotonic() - started, failure)
