"""One participant of a running graph (an extension or the tester), hosted on its loop:
its lifecycle, the queue of messages that arrive before its on_init has returned, and
the handler task of each delivered message."""

from __future__ import annotations

import asyncio
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .aborts import ProcessAborted
from .log_level import LogLevel
from .loc import Loc
from .log import emit_log
from .loop_thread import LoopThread
from .message_schemas import MessageSchemas
from .cmd import Cmd
from .msg import Msg
from .property_store import PropertyStore

if TYPE_CHECKING:
    from .runtime import GraphRuntime

_HANDLERS = {
    "cmd": "on_cmd",
    "data": "on_data",
    "audio_frame": "on_audio_frame",
    "video_frame": "on_video_frame",
}


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
        is_tester: bool = False,
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
        self.is_tester = is_tester
        # An extension's on_init waits for this: the tester's on_start has begun.
        self._start_gate: asyncio.Event | None = None
        self._start_gate_open = False
        self.stop_requested = False
        self.failed = False

    # -- lifecycle (runs on the node's loop) ----------------------------------------------------
    async def lifecycle(self) -> None:
        self._stop_event = asyncio.Event()
        self._start_gate = asyncio.Event()
        if self.stop_requested:
            self._stop_event.set()
        if self._start_gate_open or self.stop_requested:
            self._start_gate.set()
        for index, stage in enumerate(self._start_stages):
            # A stop that comes early skips the start stages not begun yet (on_configure
            # always runs). The real runtime, for a tester that stops at once, gives
            # configure then stop and deinit most times, sometimes on_init and even
            # on_start before them: an extension may rely on none of them.
            if index and (self.stop_requested or self.failed):
                break
            if stage == "on_init" and not self.is_tester:
                # After on_configure an extension waits for the tester's on_start to begin,
                # as the real runtime mostly orders them: a tester that stops at once
                # stops the extension before its on_init.
                await self._start_gate.wait()
                if self.stop_requested or self.failed:
                    break
            await self._run_stage(stage)
            if stage == "on_init" and not self.failed:
                self._open()
                # The real runtime hands the messages queued during on_init over before it
                # calls on_start (on_init_done goes through the runtime first): what the
                # tester sent at once reaches handlers before on_start (observed).
                await asyncio.sleep(0)
        await self._stop_event.wait()
        self.state = NodeState.STOPPING
        await self._guarded("on_stop", self.env)
        self.state = NodeState.DEINIT
        await self._guarded("on_deinit", self.env)
        self.state = NodeState.DONE

    async def _run_stage(self, stage: str) -> None:
        """Runs a start stage. The tester's on_start lets the extensions start once it has
        run up to its first wait (so a stop_test there comes first). After a fatal error a
        stage still waiting is cancelled: in the real runtime the process is gone."""
        assert self._stop_event is not None
        task = asyncio.get_running_loop().create_task(self._guarded(stage, self.env))
        if stage == "on_start" and self.is_tester:
            await asyncio.sleep(0)  # the task's first step runs now
            self.runtime.tester_started()
        stop = asyncio.get_running_loop().create_task(self._stop_event.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not task.done() and self.runtime.record.fatal_errors:
                task.cancel()
            await asyncio.wait({task})
        finally:
            stop.cancel()

    def open_start_gate(self) -> None:
        """Thread-safe: lets this extension's on_init (and then on_start) be called."""
        self._start_gate_open = True
        self.loop_thread.call(self._set_start_gate)

    def _set_start_gate(self) -> None:
        if self._start_gate is not None:
            self._start_gate.set()

    def request_stop(self) -> None:
        """Thread-safe: on_stop and on_deinit follow once the current stage has returned."""
        self.stop_requested = True
        self.loop_thread.call(self._set_stop_event)

    def _set_stop_event(self) -> None:
        if self._stop_event is not None:
            self._stop_event.set()
        self._set_start_gate()  # an extension waiting to start stops instead

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
                self.runtime.answer_for_runtime(
                    msg, f"extension '{self.name}' is deinitializing", cause="receiver_deinit"
                )
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
        task = asyncio.get_running_loop().create_task(self._guarded(handler_name, self.env, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- helpers ---------------------------------------------------------------------------------
    async def _guarded(self, callback: str, *args: Any) -> None:
        """Runs the node's coroutine `callback(*args)`; an exception escaping it is fatal
        for the run, and so is a runtime call in it that aborts the real process."""
        try:
            await getattr(self.callbacks, callback)(*args)
        except (Exception, ProcessAborted) as exc:  # every escaped exception is fatal
            self.failed = True
            self.runtime.fail(self.name, callback, exc)

    def log(self, level: LogLevel, message: str) -> None:
        emit_log(self.runtime.record, self.name, level, message, "ten:standin", caller_depth=2)
