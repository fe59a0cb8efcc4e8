"""Stand-in only: NOT part of the real `ten_runtime` API.

What tests and benchmarks may read about runs of the stand-in runtime:

- `last_run()`: the RunRecord of the most recently started run (logs, every message each
  node received and sent, cmds the runtime answered with ERROR, escaped exceptions).
- `take_completed_runs()`: the records of every run finished since the last call (a
  pytest fixture uses it to check messages against the manifest after each test).
- `undeclared_messages(record, addon)`: messages an extension of that addon received or
  sent whose names its manifest `api` does not declare.
- `app_loop()`: for benchmarks only, the asyncio loop that runs every extension of the
  current run (the tester has a loop of its own).
- `set_message_recording(False)`: stop recording messages (benchmarks with many frames).
- `set_log_config(config)`: the app's `ten.log` object the logs honour (None: the
  default, every level to stderr); TEN_STANDIN_APP_DIR names an app folder to read it from.
- `StandinRunError`: what `AsyncExtensionTester.run()` raises when a run fails fatally
  (an exception escaped a callback, a property or graph the real app would die on).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import TYPE_CHECKING, Any

from .graph import TESTER_NODE
from .log import UNREAD_LOG_CONFIG, set_log_config
from .recording import AutoAnsweredCmd, FatalError, LogRecord, MessageRecord, RunRecord

if TYPE_CHECKING:
    from .runtime import GraphRuntime

__all__ = [
    "TESTER_NODE",
    "RunRecord",
    "LogRecord",
    "MessageRecord",
    "AutoAnsweredCmd",
    "FatalError",
    "StandinRunError",
    "last_run",
    "active_runs",
    "take_completed_runs",
    "app_loop",
    "set_message_recording",
    "message_recording_enabled",
    "undeclared_messages",
    "set_log_config",
    "UNREAD_LOG_CONFIG",
]


class StandinRunError(RuntimeError):
    """A run that the real runtime would have ended by killing the process."""

    def __init__(self, record: RunRecord) -> None:
        self.record = record
        self.fatal_errors = list(record.fatal_errors)
        causes = "\n".join(f"  - {fatal.describe()}" for fatal in self.fatal_errors)
        details = "\n".join(fatal.traceback_text for fatal in self.fatal_errors)
        super().__init__(f"the graph failed fatally:\n{causes}\n\n{details}")


_lock = threading.Lock()
_active: list[tuple[RunRecord, "GraphRuntime"]] = []
# Bounded so that runs outside pytest (benchmarks, demos) do not pile up records.
_completed: deque[RunRecord] = deque(maxlen=500)
_last: RunRecord | None = None
_record_messages = True


def last_run() -> RunRecord | None:
    return _last


def active_runs() -> list[RunRecord]:
    with _lock:
        return [record for record, _ in _active]


def take_completed_runs() -> list[RunRecord]:
    with _lock:
        taken = list(_completed)
        _completed.clear()
    return taken


def app_loop() -> asyncio.AbstractEventLoop | None:
    """Benchmarks only: the extension loop of the most recently started run still active."""
    with _lock:
        for _, runtime in reversed(_active):
            if runtime.app_loop is not None:
                return runtime.app_loop.loop
    return None


def set_message_recording(enabled: bool) -> None:
    global _record_messages
    _record_messages = bool(enabled)


def message_recording_enabled() -> bool:
    return _record_messages


def undeclared_messages(record: RunRecord, addon: str) -> list[str]:
    """Each message a node of `addon` received (direction in) or sent (out) whose name its
    manifest's `api` does not declare under `<kind>_in` / `<kind>_out` (cmd results are
    exempt). Nodes of that addon without a manifest are reported as such."""
    problems: list[str] = []
    for node in record.nodes_of_addon(addon):
        manifest = record.nodes[node].manifest
        if manifest is None:
            problems.append(f"{node}: addon '{addon}' has no manifest.json")
            continue
        api = manifest.get("api") or {}
        declared = {
            (direction, kind): {entry["name"] for entry in api.get(f"{kind}_{direction}") or []}
            for kind in ("cmd", "data", "audio_frame", "video_frame")
            for direction in ("in", "out")
        }
        seen: set[tuple[str, str, str]] = set()
        for message in record.messages_of(node):
            key = (message.direction, message.kind, message.name)
            if message.kind == "cmd_result" or key in seen:
                continue
            seen.add(key)
            if message.name not in declared[(message.direction, message.kind)]:
                problems.append(
                    f"{node}: {message.kind} '{message.name}' "
                    f"{'received' if message.direction == 'in' else 'sent'} but not declared "
                    f"in api.{message.kind}_{message.direction} of the manifest"
                )
    return problems


# -- called by the runtime ----------------------------------------------------------------------
def _run_started(record: RunRecord, runtime: "GraphRuntime") -> None:
    global _last
    with _lock:
        _active.append((record, runtime))
        _last = record


def _run_finished(record: RunRecord, runtime: Any) -> None:
    with _lock:
        _active[:] = [(r, rt) for r, rt in _active if rt is not runtime]
        _completed.append(record)
