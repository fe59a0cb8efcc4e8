"""One participant of a running graph (an extension or the tester), hosted on its loop:
its lifecycle, the queue of messages that arrive before its on_init has returned, and
the handler task of each delivered message."""

from __future__ import annotations

import asyncio
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .enums import LogLevel
from .loc import Loc
from .log import emit_log
from .loop_thread import LoopThread
from .message_schemas import MessageSchemas
from .messages import Cmd, Msg
from .property_store import PropertyStore

if TYPE_CHECKING:
    from .runtime import GraphRuntime

_HANDLERS = {
    "cmd": "on_cmd",
    "data": "on_data",
    "audio_frame": "on_audio_frame",
    "video_frame": "on_video_frame",
}


ON_START_GAP_S = 0.05  # between on_init's return and on_start's call, messages flow


class NodeState(IntEnum):
    CREATED = 0
    OPEN = 1  # on_init has returned: messages are handed to handlers
    STOPPING = 2  # on_stop is running
    DEINIT = 3  # from on_deinit on: cmds get an automatic ERROR, other messages dropped
    DONE = 4


class NodeHost:
    def __init__(
        self,
        runtime: "GraphRuntime",
        name: str,
        callbacks: Any,
        loop_thread: LoopThread,
        schemas: MessageSchemas,
        start_stages: tuple[str, ...],
        properties: PropertyStore | None = None,
    ) -> None:
        self.runtime = runtime
        self.name = name
        self.callbacks = callbacks
        self.env: Any = None  # set by the runtime right after construction
        self.loop_thread = loop_thread
        self.schemas = schemas
        self.properties = properties if properties is not None else PropertyStore()
        self.loc = Loc("", runtime.graph_id, name)
        self.state = NodeState.CREATED
        self._start_stages = start_stages
        self._early: list[Msg] = []  # messages that came before on_init returned
        self._tasks: set[asyncio.Task[None]] = set()
        self._stop_event: asyncio.Event | None = None
        self.stop_requested = False
        self.failed = False

    # -- lifecycle (runs on the node's loop) ----------------------------------------------------
    async def lifecycle(self) -> None:
        self._stop_event = asyncio.Event()
        if self.stop_requested:
            self._stop_event.set()
        for index, stage in enumerate(self._start_stages):
            # A stop that comes early skips the stages not begun yet (the first always runs).
            if index and (self.stop_requested or self.failed):
                break
            await self._guarded(stage, self.env)
            if stage == "on_init" and not self.failed:
                self._open()
                # The real runtime hands the messages queued during on_init over, and goes on
                # delivering, before it calls on_start (on_init_done goes through the
                # runtime first): a tester that sends at once reaches handlers before
                # on_start. Leave the same gap, so code that needs on_start to take audio fails here too.
                await asyncio.sleep(ON_START_GAP_S)
        await self._stop_event.wait()
        self.state = NodeState.STOPPING
        await self._guarded("on_stop", self.env)
        self.state = NodeState.DEINIT
        await self._guarded("on_deinit", self.env)
        self.state = NodeState.DONE

    def request_stop(self) -> None:
        """Thread-safe: on_stop and on_deinit follow once the current stage has returned."""
        self.stop_requested = True
        self.loop_thread.call(self._set_stop_event)

    def _set_stop_event(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()

    def _open(self) -> None:
        self.state = NodeState.OPEN
        early, self._early = self._early, []
        for msg in early:
            self._dispatch(msg)

    # -- messages ------------------------------------------------------------------------------
    def post(self, msg: Msg) -> None:
        """Thread-safe: hands `msg` to this node on its loop."""
        if not self.loop_thread.call(self._receive, msg):
            self.log(LogLevel.WARN, f"{msg.KIND} '{msg.get_name()}' dropped: the graph is gone")

    def _receive(self, msg: Msg) -> None:
        if self.state >= NodeState.DEINIT:
            if isinstance(msg, Cmd):
                self.runtime.answer_for_runtime(msg, f"extension '{self.name}' is deinitializing",
                                                cause="receiver_deinit")
            else:
                self.log(LogLevel.DEBUG, f"{msg.KIND} '{msg.get_name()}' dropped: deinitializing")
            return
        if self.state < NodeState.OPEN:
            self._early.append(msg)
            return
        self._dispatch(msg)

    def _dispatch(self, msg: Msg) -> None:
        self.runtime.record_message(self, "in", msg, msg.get_source().extension_name)
        handler_name = _HANDLERS[msg.KIND]
        task = asyncio.get_running_loop().create_task(
            self._guarded(handler_name, self.env, msg)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- helpers ---------------------------------------------------------------------------------
    async def _guarded(self, callback: str, *args: Any) -> None:
        """Runs the node's coroutine `callback(*args)`; an exception escaping it is fatal
        for the run."""
        try:
            await getattr(self.callbacks, callback)(*args)
        except Exception as exc:  # noqa: BLE001 - every escaped exception is fatal
            self.failed = True
            self.runtime.fail(self.name, callback, exc)

    def log(self, level: LogLevel, message: str) -> None:
        emit_log(self.runtime.record, self.name, level, message, "ten:standin")
