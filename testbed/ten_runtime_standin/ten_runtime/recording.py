"""What one run of a graph recorded, for tests: logs, messages, auto-answered cmds and
escaped exceptions. Stand-in only; read it through `ten_runtime.standin`."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from .log_level import LogLevel


@dataclass(frozen=True)
class LogRecord:
    level: LogLevel
    node: str
    message: str
    category: str | None = None
    fields: Any = None
    time: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class MessageRecord:
    node: str
    direction: str  # "in" (handed to the node's handler) or "out" (sent by the node)
    kind: str  # "cmd", "cmd_result", "data", "audio_frame" or "video_frame"
    name: str
    properties_json: str
    peer: str | None = None  # the sender of an "in" message
    time: float = field(default_factory=time.perf_counter)


@dataclass(frozen=True)
class AutoAnsweredCmd:
    """A cmd the runtime answered with StatusCode.ERROR because no handler did."""

    name: str
    sender: str
    receivers: tuple[str, ...]
    # "graph_stopped": still without a result when the graph stopped;
    # "receiver_deinit": arrived at an extension in on_deinit;
    # "schema_misfit": did not fit the receiver's cmd_in schema.
    cause: str


@dataclass(frozen=True)
class FatalError:
    """An exception that escaped a callback (the real process would os._exit(1)), or
    another failure that ends the run."""

    node: str
    callback: str
    exception: BaseException
    traceback_text: str

    def describe(self) -> str:
        return (
            f"{self.node}.{self.callback} raised {type(self.exception).__name__}: {self.exception}"
        )


@dataclass
class NodeInfo:
    name: str
    addon: str | None
    folder: str | None
    manifest: dict[str, Any] | None


class RunRecord:
    """Everything one `AsyncExtensionTester.run()` recorded. Lists only grow, so tests can
    read them while the graph runs (appends are atomic under the GIL)."""

    def __init__(self, record_messages: bool = True) -> None:
        self.record_messages = record_messages
        self.nodes: dict[str, NodeInfo] = {}
        self.logs: list[LogRecord] = []
        self.messages: list[MessageRecord] = []
        self.auto_answered_cmds: list[AutoAnsweredCmd] = []
        self.fatal_errors: list[FatalError] = []
        self.result: Any = None  # the TenError given to stop_test, or None
        self.finished = threading.Event()

    # -- writers (used by the runtime) --------------------------------------------------------
    def add_log(self, entry: LogRecord) -> None:
        self.logs.append(entry)

    def add_message(self, entry: MessageRecord) -> None:
        if self.record_messages:
            self.messages.append(entry)

    def add_fatal(self, node: str, callback: str, exc: BaseException) -> FatalError:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fatal = FatalError(node, callback, exc, text)
        self.fatal_errors.append(fatal)
        return fatal

    # -- readers -------------------------------------------------------------------------------
    def logs_of(self, node: str, min_level: LogLevel = LogLevel.DEBUG) -> list[LogRecord]:
        return [r for r in self.logs if r.node == node and r.level >= min_level]

    def log_messages(self, node: str | None = None) -> list[str]:
        return [r.message for r in self.logs if node is None or r.node == node]

    def messages_of(
        self, node: str, direction: str | None = None, kind: str | None = None
    ) -> list[MessageRecord]:
        return [
            m
            for m in self.messages
            if m.node == node
            and (direction is None or m.direction == direction)
            and (kind is None or m.kind == kind)
        ]

    def unanswered_cmds(self) -> list[AutoAnsweredCmd]:
        """Cmds that nobody answered before the graph stopped."""
        return [c for c in self.auto_answered_cmds if c.cause == "graph_stopped"]

    def nodes_of_addon(self, addon: str) -> list[str]:
        return [info.name for info in self.nodes.values() if info.addon == addon]
