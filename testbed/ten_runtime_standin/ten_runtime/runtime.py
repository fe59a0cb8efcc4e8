"""One run of a graph: builds the extensions, routes messages between the app loop (every
extension) and the tester loop, tracks cmd results, and stops everything in order.

Delivery between loops is one `call_soon_threadsafe` per receiver: no polling, no sleeps.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from collections.abc import AsyncGenerator
from typing import Any

from . import standin
from .aborts import end_process_if_asked
from .addon_manager import AddonInfo, resolve_addon
from .async_extension import AsyncExtension
from .async_ten_env import AsyncTenEnv
from .cmd_tracker import CmdTracker, PendingCmd
from .cmd import Cmd, new_cmd_id
from .cmd_result import CmdResult, error_result_for
from .error import TenError, TenErrorCode, generic_error
from .graph import GraphSpec, NodeSpec
from .log import emit_log
from .loop_thread import LoopThread
from .message_schemas import MessageSchemas
from .log_level import LogLevel
from .msg import Msg
from .node_host import NodeHost
from .properties import load_extension_properties
from .property_store import PropertyStore, to_json
from .recording import AutoAnsweredCmd, MessageRecord, NodeInfo, RunRecord
from .ten_env import EnvTarget, TenEnv

CREATE_INSTANCE_TIMEOUT_S = 10.0
# How long stopping (on_stop + on_deinit of every extension, then the tester's) may take
# before the stand-in gives up on it and fails the run.
STOP_TIMEOUT_S = 30.0
LOOP_STOP_GRACE_S = 3.0


class SchemaAbort(RuntimeError):
    """The real runtime's schema code fails an assertion on this message (SIGABRT)."""

    aborts_process = True


class GraphRuntime:
    def __init__(
        self, spec: GraphSpec, tester: Any, tester_env_factory: Any, timeout_s: float
    ) -> None:
        self.spec = spec
        self.graph_id = uuid.uuid4().hex
        self.record = RunRecord(record_messages=standin.message_recording_enabled())
        self._tester = tester
        self._tester_env_factory = tester_env_factory
        self._timeout_s = timeout_s
        self._hosts: dict[str, NodeHost] = {}
        self._cmds = CmdTracker()
        self._stop_lock = threading.Lock()
        self._stop_event = threading.Event()
        self._stopping = False
        self._result: TenError | None = None
        self.app_loop: LoopThread | None = None
        self.tester_loop: LoopThread | None = None

    # -- the run (blocks the calling thread) ----------------------------------------------------
    def run(self) -> TenError | None:
        standin._run_started(self.record, self)
        try:
            self.app_loop = LoopThread("ten-standin-app")
            self.tester_loop = LoopThread("ten-standin-tester")
            self.app_loop.loop.set_exception_handler(self._loop_exception_handler)
            self.tester_loop.loop.set_exception_handler(self._loop_exception_handler)
            if self._build_graph():
                self._run_graph()
        finally:
            self._shut_loops()
            self.record.result = self._result
            self.record.finished.set()
            standin._run_finished(self.record, self)
        if self.record.fatal_errors:
            raise standin.StandinRunError(self.record)
        return self._result

    def _build_graph(self) -> bool:
        assert self.app_loop and self.tester_loop
        for node in self.spec.nodes:
            try:
                host = self._build_extension(node)
            except Exception as exc:  # a node that cannot be built is fatal
                self.record.add_fatal(node.name, "load", exc)
                emit_log(
                    self.record, node.name, LogLevel.ERROR, f"cannot load: {exc}", "ten:standin"
                )
                end_process_if_asked(exc)
                return False
            if host is None:
                return False
            self._hosts[node.name] = host
        tester_host = NodeHost(
            self,
            self.spec.tester,
            self._tester,
            self.tester_loop,
            MessageSchemas(None),
            ("on_init", "on_start"),
            is_tester=True,
        )
        tester_host.env = self._tester_env_factory(tester_host)
        self._hosts[self.spec.tester] = tester_host
        return True

    def _build_extension(self, node: NodeSpec) -> NodeHost | None:
        assert self.app_loop
        info: AddonInfo = resolve_addon(node.addon)
        self.record.nodes[node.name] = NodeInfo(
            node.name, node.addon, str(info.folder) if info.folder else None, info.manifest
        )
        properties = load_extension_properties(
            info.default_properties,
            node.property,
            info.manifest,
            f"extension '{node.name}' (addon '{node.addon}')",
        )
        future = self.app_loop.submit(self._create_instance(info, node.name))
        instance = future.result(timeout=CREATE_INSTANCE_TIMEOUT_S + 1.0)
        if instance is None:
            return None
        host = NodeHost(
            self,
            node.name,
            instance,
            self.app_loop,
            MessageSchemas(info.manifest),
            ("on_configure", "on_init", "on_start"),
            PropertyStore(properties),
        )
        host.env = AsyncTenEnv(
            TenEnv(EnvTarget(self.record, node.name, host=host)),
            self.app_loop.loop,
            self.app_loop.thread,
            None,
        )
        return host

    async def _create_instance(self, info: AddonInfo, node_name: str) -> AsyncExtension | None:
        """Runs the addon's on_create_instance on the app loop; None after a fatal error."""
        loop = asyncio.get_running_loop()
        created: asyncio.Future[object] = loop.create_future()

        def on_done(what: str, args: tuple[Any, ...]) -> None:
            if what == "create_instance":

                def resolve() -> None:  # a second report is ignored
                    if not created.done():
                        created.set_result(args[0])

                loop.call_soon_threadsafe(resolve)

        try:
            addon = info.addon_class()
            addon.on_create_instance(
                TenEnv(EnvTarget(self.record, node_name, on_done)), node_name, None
            )
            instance = await asyncio.wait_for(created, CREATE_INSTANCE_TIMEOUT_S)
        except asyncio.TimeoutError:
            self.fail(
                node_name,
                "on_create_instance",
                TimeoutError(
                    f"addon '{info.name}' did not call on_create_instance_done "
                    f"within {CREATE_INSTANCE_TIMEOUT_S} s"
                ),
            )
            return None
        except Exception as exc:  # escaped from the addon: fatal
            self.fail(node_name, "on_create_instance", exc)
            return None
        if not isinstance(instance, AsyncExtension):
            self.fail(
                node_name,
                "on_create_instance",
                TypeError(
                    f"addon '{info.name}' created {type(instance).__name__}; the stand-in runs "
                    "AsyncExtension subclasses only"
                ),
            )
            return None
        return instance

    def _run_graph(self) -> None:
        extensions = [h for name, h in self._hosts.items() if name != self.spec.tester]
        tester = self._hosts[self.spec.tester]
        lifecycles = {h.name: h.loop_thread.submit(h.lifecycle()) for h in extensions}
        tester_lifecycle = tester.loop_thread.submit(tester.lifecycle())

        if not self._stop_event.wait(self._timeout_s):
            self.request_stop(
                TenError(
                    TenErrorCode.ErrorCodeTimeout, f"the test timed out after {self._timeout_s} s"
                )
            )

        for host in extensions:
            host.request_stop()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, lifecycle in lifecycles.items():
            self._wait_lifecycle(name, lifecycle, deadline)
        for pending in self._cmds.close_all("the graph stopped before the cmd got a result"):
            self._note_auto_answer(pending.name, pending.sender, pending.receivers, "graph_stopped")
        tester.request_stop()
        self._wait_lifecycle(self.spec.tester, tester_lifecycle, time.monotonic() + STOP_TIMEOUT_S)

    def _wait_lifecycle(
        self, name: str, lifecycle: concurrent.futures.Future[Any], deadline: float
    ) -> None:
        try:
            lifecycle.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            self.record.add_fatal(
                name,
                "on_stop/on_deinit",
                TimeoutError(
                    f"'{name}' did not get through on_stop and on_deinit within {STOP_TIMEOUT_S} s"
                ),
            )

    def _shut_loops(self) -> None:
        for loop_thread in (self.app_loop, self.tester_loop):
            if loop_thread is not None and not loop_thread.stop(LOOP_STOP_GRACE_S):
                self.record.add_fatal(
                    loop_thread.name,
                    "stop",
                    RuntimeError(f"the loop thread {loop_thread.name} is blocked and did not stop"),
                )

    # -- stopping and failing (thread-safe) -------------------------------------------------------
    def request_stop(self, error: TenError | None) -> None:
        with self._stop_lock:
            if self._stopping:
                return
            self._stopping = True
            self._result = error
            # At once, so that an extension not started yet is not started any more.
            for name, host in self._hosts.items():
                if name != self.spec.tester:
                    host.stop_requested = True
        self._stop_event.set()

    def tester_started(self) -> None:
        """The tester's on_start has begun (it ran up to its first wait): the extensions
        may go on from on_configure now. In the real runtime a tester that stops in its
        on_start mostly stops the extensions before their on_init."""
        for name, host in self._hosts.items():
            if name != self.spec.tester:
                host.open_start_gate()

    def fail(self, node: str, callback: str, exc: BaseException) -> None:
        """An exception escaped a callback: the real process would os._exit(1). Record it,
        deliver nothing more to anyone (the real process is gone before any result reaches
        a sender) and stop the graph; run() then raises StandinRunError."""
        fatal = self.record.add_fatal(node, callback, exc)
        emit_log(self.record, node, LogLevel.ERROR, f"fatal: {fatal.describe()}", "ten:standin")
        end_process_if_asked(exc)
        self._cmds.silence()
        self.request_stop(generic_error(f"fatal: {fatal.describe()}"))

    def _loop_exception_handler(
        self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]
    ) -> None:
        # A task the extension spawned itself failed: the real runtime only logs it too.
        emit_log(
            self.record,
            "ten:standin",
            LogLevel.ERROR,
            f"unhandled exception on a loop: {context.get('message')} {context.get('exception')!r}",
            "asyncio",
        )

    # -- messages --------------------------------------------------------------------------------
    def _receivers(self, sender: NodeHost, msg: Msg) -> list[NodeHost]:
        if msg._dests:
            names = [loc.extension_name for loc in msg._dests if loc.extension_name is not None]
        else:
            names = self.spec.destinations(sender.name, msg.KIND, msg.get_name())
        return [self._hosts[name] for name in names if name in self._hosts]

    async def send_cmd(
        self, sender: NodeHost, cmd: Cmd
    ) -> tuple[CmdResult | None, TenError | None]:
        future: asyncio.Future[tuple[CmdResult | None, TenError | None]] = (
            asyncio.get_running_loop().create_future()
        )

        def deliver(result: CmdResult) -> None:
            # The first result, final or not (a streamed answer's later results are dropped).
            if not future.done():
                future.set_result((result, None))

        error = self._dispatch_cmd(sender, cmd, deliver)
        if error is not None:
            return None, error
        return await future

    async def send_cmd_ex(
        self, sender: NodeHost, cmd: Cmd
    ) -> AsyncGenerator[tuple[CmdResult | None, TenError | None], None]:
        results: asyncio.Queue[CmdResult] = asyncio.Queue()
        error = self._dispatch_cmd(sender, cmd, results.put_nowait)
        if error is not None:
            yield None, error
            return
        while True:
            result = await results.get()
            yield result, None
            if result.is_final():
                return

    def _dispatch_cmd(self, sender: NodeHost, cmd: Cmd, deliver: Any) -> TenError | None:
        name = cmd.get_name()
        receivers = self._receivers(sender, cmd)
        if not receivers:
            return TenError(
                TenErrorCode.ErrorCodeMsgNotConnected,
                f"Failed to find destination of a 'cmd' message '{name}' from graph.",
            )
        properties = cmd._properties()
        if self._schema_abort(sender, "out", cmd, properties):
            return generic_error(f"fatal: cmd '{name}' aborted the process")
        problem = sender.schemas.misfit("out", "cmd", name, properties)
        if problem:
            sender.log(LogLevel.WARN, f"cmd '{name}' not sent, it misfits cmd_out: {problem}")
            return generic_error(problem)
        cmd._cmd_id = new_cmd_id()

        def deliver_and_record(result: CmdResult) -> None:
            self.record_message(sender, "in", result, result.get_source().extension_name)
            deliver(result)

        self._cmds.open(
            PendingCmd(
                cmd._cmd_id,
                name,
                sender.name,
                tuple(r.name for r in receivers),
                sender.loop_thread.call,
                deliver_and_record,
            )
        )
        self.record_message(sender, "out", cmd)
        for receiver in receivers:
            if self._schema_abort(receiver, "in", cmd, properties):
                continue
            problem = receiver.schemas.misfit("in", "cmd", name, properties)
            if problem:
                receiver.log(LogLevel.WARN, f"See in cmd::{name} with invalid schema: {problem}")
                self.answer_for_runtime(cmd, problem, cause="schema_misfit", answerer=receiver)
                continue
            receiver.post(cmd._copy_for_delivery(sender.loc))
        return None

    def send_message(self, sender: NodeHost, msg: Msg, wait_for_result: bool) -> TenError | None:
        """Data and frames: fire-and-forget; errors are reported only with wait_for_result."""
        kind, name = msg.KIND, msg.get_name()
        receivers = self._receivers(sender, msg)
        if not receivers:
            return (
                TenError(
                    TenErrorCode.ErrorCodeMsgNotConnected,
                    f"Failed to find destination of a '{kind}' message '{name}' from graph.",
                )
                if wait_for_result
                else None
            )
        properties = msg._properties()
        if self._schema_abort(sender, "out", msg, properties):
            return (
                generic_error(f"fatal: {kind} '{name}' aborted the process")
                if wait_for_result
                else None
            )
        problem = sender.schemas.misfit("out", kind, name, properties)
        if problem:
            sender.log(LogLevel.WARN, f"{kind} '{name}' not sent, it misfits {kind}_out: {problem}")
            return generic_error(problem) if wait_for_result else None
        self.record_message(sender, "out", msg)
        error: TenError | None = None
        for receiver in receivers:
            if self._schema_abort(receiver, "in", msg, properties):
                continue
            problem = receiver.schemas.misfit("in", kind, name, properties)
            if problem:
                receiver.log(LogLevel.WARN, f"See in {kind}::{name} with invalid schema: {problem}")
                error = generic_error(problem)
                continue
            receiver.post(msg._copy_for_delivery(sender.loc))
        return error if wait_for_result else None

    def _schema_abort(
        self, node: NodeHost, direction: str, msg: Msg, properties: dict[str, Any]
    ) -> bool:
        """A message whose schema check would abort the real process (an empty-string key
        under a declared schema): fatal for the run, like an escaped exception."""
        problem = node.schemas.fatal(direction, msg.KIND, msg.get_name(), properties)
        if problem is None:
            return False
        self.fail(node.name, f"{msg.KIND}_{direction} schema check", SchemaAbort(problem))
        return True

    def return_result(self, answerer: NodeHost, result: CmdResult) -> TenError | None:
        delivered = result._copy_for_delivery(answerer.loc)
        if self._cmds.resolve(delivered) is not None:
            self.record_message(answerer, "out", result)
        return None  # a result for an already answered cmd is ignored, without an error

    def answer_for_runtime(
        self, cmd: Cmd, detail: str, cause: str, answerer: NodeHost | None = None
    ) -> None:
        """The automatic ERROR result the runtime gives a cmd nobody will handle."""
        result = error_result_for(cmd, detail)
        if answerer is not None:
            result._source = answerer.loc
        pending = self._cmds.resolve(result)
        if pending is not None:
            self._note_auto_answer(pending.name, pending.sender, pending.receivers, cause)

    def _note_auto_answer(
        self, name: str, sender: str, receivers: tuple[str, ...], cause: str
    ) -> None:
        self.record.auto_answered_cmds.append(AutoAnsweredCmd(name, sender, receivers, cause))
        emit_log(
            self.record,
            sender,
            LogLevel.INFO,
            f"cmd '{name}' answered with ERROR by the runtime ({cause})",
            "ten:standin",
        )

    def record_message(
        self, host: NodeHost, direction: str, msg: Msg, peer: str | None = None
    ) -> None:
        if self.record.record_messages:
            self.record.add_message(
                MessageRecord(
                    host.name, direction, msg.KIND, msg.get_name(), to_json(msg._properties()), peer
                )
            )
