"""Lifecycle order, early messages, deinit behaviour, threads and fatal exceptions."""

import asyncio
import json
import sys
import threading
import time

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import (
    AsyncExtension,
    AsyncExtensionTester,
    AsyncTenEnvTester,
    Cmd,
    CmdResult,
    Data,
    StatusCode,
    standin,
)

STAGE_LOGGER = """
class TestedExtension(AsyncExtension):
    async def on_configure(self, ten_env):
        ten_env.log_info("stage on_configure")

    async def on_init(self, ten_env):
        ten_env.log_info("stage on_init")

    async def on_start(self, ten_env):
        ten_env.log_info("stage on_start")
        await ten_env.send_data(Data.create("started"))

    async def on_stop(self, ten_env):
        ten_env.log_info("stage on_stop")

    async def on_deinit(self, ten_env):
        ten_env.log_info("stage on_deinit")

    async def on_cmd(self, ten_env, cmd):
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
"""


class PingThenStop(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.stages: list[str] = []
        self.pinged = False
        self.extension_started = False

    async def on_init(self, ten_env: AsyncTenEnvTester) -> None:
        self.stages.append("tester on_init")

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self.stages.append("tester on_start")
        result, error = await ten_env.send_cmd(Cmd.create("ping"))
        assert error is None and result is not None
        assert result.get_status_code() == StatusCode.OK
        self.pinged = True
        self._stop_when_started(ten_env)

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        self.extension_started = self.extension_started or data.get_name() == "started"
        self._stop_when_started(ten_env)

    def _stop_when_started(self, ten_env: AsyncTenEnvTester) -> None:
        # The ping may be answered before the extension's on_start (messages flow from
        # on_init on): stop once the extension said it started, or its on_start may not run.
        if self.pinged and self.extension_started:
            ten_env.stop_test()

    async def on_stop(self, ten_env: AsyncTenEnvTester) -> None:
        self.stages.append("tester on_stop")
        self.stopped_at = time.perf_counter()

    async def on_deinit(self, ten_env: AsyncTenEnvTester) -> None:
        self.stages.append("tester on_deinit")


def test_stages_run_in_order_and_the_tester_stops_after_the_extension(make_extension):
    addon = make_extension("stages", STAGE_LOGGER)
    tester = PingThenStop()
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    record = standin.last_run()
    stages = [m for m in record.log_messages(addon) if m.startswith("stage ")]
    assert stages == [
        "stage on_configure",
        "stage on_init",
        "stage on_start",
        "stage on_stop",
        "stage on_deinit",
    ]
    assert tester.stages == [
        "tester on_init",
        "tester on_start",
        "tester on_stop",
        "tester on_deinit",
    ]
    # the extension was through on_deinit before the tester's on_stop was called
    ext_deinit = next(r.time for r in record.logs if r.message == "stage on_deinit")
    assert ext_deinit < tester.stopped_at


EARLY = """
INIT_GATE = threading.Event()


class TestedExtension(AsyncExtension):
    def __init__(self, name):
        super().__init__(name)
        self.got_early = asyncio.Event()

    async def on_init(self, ten_env):
        # Hold on_init until the tester has sent its messages.
        await asyncio.get_running_loop().run_in_executor(None, INIT_GATE.wait, 30)
        ten_env.log_info("on_init returns")

    async def on_start(self, ten_env):
        ten_env.log_info("on_start begins")
        await asyncio.wait_for(self.got_early.wait(), 30)
        ten_env.log_info("on_start saw the early messages")
        await ten_env.send_data(Data.create("started"))

    async def on_data(self, ten_env, data):
        ten_env.log_info(f"on_data {data.get_name()}")
        self.got_early.set()

    async def on_cmd(self, ten_env, cmd):
        ten_env.log_info(f"on_cmd {cmd.get_name()}")
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
"""


class SendBeforeInitReturns(AsyncExtensionTester):
    def __init__(self, addon: str) -> None:
        super().__init__()
        self.addon = addon
        self.status: StatusCode | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        await ten_env.send_data(Data.create("early_data"))
        cmd_task = asyncio.create_task(ten_env.send_cmd(Cmd.create("early_cmd")))
        await asyncio.sleep(0)  # lets the task post the cmd
        sys.modules[f"ten_packages.extension.{self.addon}.addon"].INIT_GATE.set()
        result, error = await cmd_task
        assert error is None and result is not None
        self.status = result.get_status_code()

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "started":  # the extension got through on_start
            ten_env.stop_test()


def test_messages_sent_before_on_init_returns_arrive_after_it_and_before_on_start(make_extension):
    addon = make_extension("early", EARLY)
    tester = SendBeforeInitReturns(addon)
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    assert tester.status == StatusCode.OK
    logs = standin.last_run().log_messages(addon)
    assert logs.index("on_init returns") < logs.index("on_data early_data")
    assert logs.index("on_init returns") < logs.index("on_cmd early_cmd")
    # As the real runtime does: the queued messages are handed over before on_start is called,
    # so an extension must take them before it has started anything.
    assert logs.index("on_data early_data") < logs.index("on_start begins")
    assert "on_start saw the early messages" in logs


DEINIT = """
DEINIT_GATE = threading.Event()


class TestedExtension(AsyncExtension):
    async def on_deinit(self, ten_env):
        await ten_env.send_data(Data.create("deinit_started"))
        await asyncio.get_running_loop().run_in_executor(None, DEINIT_GATE.wait, 30)

    async def on_cmd(self, ten_env, cmd):
        ten_env.log_info(f"on_cmd {cmd.get_name()}")
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def on_data(self, ten_env, data):
        ten_env.log_info(f"on_data {data.get_name()}")
"""


class SendDuringDeinit(AsyncExtensionTester):
    def __init__(self, addon: str) -> None:
        super().__init__()
        self.addon = addon
        self.late_result: CmdResult | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        ten_env.stop_test()

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "deinit_started":
            await ten_env.send_data(Data.create("late_data"))
            self.late_result, _ = await ten_env.send_cmd(Cmd.create("late_cmd"))
            sys.modules[f"ten_packages.extension.{self.addon}.addon"].DEINIT_GATE.set()


def test_from_on_deinit_on_cmds_get_error_and_other_messages_are_dropped(make_extension):
    addon = make_extension("deinit", DEINIT)
    tester = SendDuringDeinit(addon)
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    assert tester.late_result is not None
    assert tester.late_result.get_status_code() == StatusCode.ERROR
    record = standin.last_run()
    assert "on_cmd late_cmd" not in record.log_messages(addon)
    assert "on_data late_data" not in record.log_messages(addon)
    assert [c.cause for c in record.auto_answered_cmds] == ["receiver_deinit"]


THREAD_REPORTER = """
class TestedExtension(AsyncExtension):
    async def on_start(self, ten_env):
        data = Data.create("where")
        data.set_property_from_json(None, json.dumps({
            "node": self.name, "thread": threading.get_ident(),
            "loop": id(asyncio.get_running_loop())}))
        await ten_env.send_data(data)
"""


class CollectWhere(AsyncExtensionTester):
    """Collects `expected` reports, then stops. The extensions' data may reach the tester
    before its own on_start (messages flow from on_init on): it stops only once both have
    happened, so what on_start looks at is always seen."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected = expected
        self.where: list[dict] = []
        self.tester_thread = 0
        self.started = False

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self.tester_thread = threading.get_ident()
        self.look(ten_env)
        self.started = True
        self._stop_when_done(ten_env)

    def look(self, ten_env: AsyncTenEnvTester) -> None:
        """What a test looks at in on_start."""

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        self.where.append(json.loads(data.get_property_to_json(None)[0]))
        self._stop_when_done(ten_env)

    def _stop_when_done(self, ten_env: AsyncTenEnvTester) -> None:
        if self.started and len(self.where) == self.expected:
            ten_env.stop_test()


def test_all_extensions_share_one_loop_thread_apart_from_the_tester_and_the_caller(make_extension):
    addon = make_extension("threads", THREAD_REPORTER)
    graph = {
        "nodes": [{"type": "extension", "name": f"n{i}", "addon": addon} for i in range(3)]
        + [{"type": "extension", "name": "ten:test_extension", "addon": "ten:test_extension"}],
        "connections": [
            {
                "extension": f"n{i}",
                "data": [{"name": "where", "dest": [{"extension": "ten:test_extension"}]}],
            }
            for i in range(3)
        ],
    }
    tester = CollectWhere(3)
    tester.set_test_mode_graph(json.dumps(graph))
    assert tester.run() is None
    assert sorted(w["node"] for w in tester.where) == ["n0", "n1", "n2"]
    assert len({w["thread"] for w in tester.where}) == 1
    assert len({w["loop"] for w in tester.where}) == 1
    extension_thread = tester.where[0]["thread"]
    assert extension_thread != tester.tester_thread
    assert threading.get_ident() not in (extension_thread, tester.tester_thread)


def test_app_loop_is_exposed_while_a_run_is_active(make_extension):
    addon = make_extension("loop", THREAD_REPORTER)
    seen = {}

    class LookAtLoop(CollectWhere):
        def look(self, ten_env: AsyncTenEnvTester) -> None:
            loop = standin.app_loop()
            assert loop is not None
            seen["loop_id"] = id(loop)
            seen["running"] = loop.is_running()

    tester = LookAtLoop(1)
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    assert seen == {"loop_id": tester.where[0]["loop"], "running": True}
    assert standin.app_loop() is None  # nothing runs any more


UNANSWERING = """
class TestedExtension(AsyncExtension):
    async def on_cmd(self, ten_env, cmd):
        if cmd.get_name() == "twice":
            first = await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
            second = await ten_env.return_result(CmdResult.create(StatusCode.ERROR, cmd))
            ten_env.log_info(f"return_result gave {first!r} then {second!r}")
            return
        if cmd.get_name() == "streamed":
            for index in range(3):
                result = CmdResult.create(StatusCode.OK, cmd)
                result.set_final(index == 2)
                result.set_property_int("index", index)
                await ten_env.return_result(result)
            return
        # "ignored": never answered
        await ten_env.send_data(Data.create("got_ignored"))
"""


class AnswerChecks(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.twice: CmdResult | None = None
        self.streamed: list[tuple[int, bool]] = []
        self.ignored: asyncio.Task | None = None

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        self.twice, _ = await ten_env.send_cmd(Cmd.create("twice"))
        async for result, error in ten_env.send_cmd_ex(Cmd.create("streamed")):
            assert error is None and result is not None
            self.streamed.append((result.get_property_int("index")[0], result.is_final()))
        self.ignored = asyncio.create_task(ten_env.send_cmd(Cmd.create("ignored")))

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "got_ignored":
            ten_env.stop_test()


def test_first_final_result_wins_streams_arrive_and_unanswered_cmds_get_error_at_stop(
    make_extension,
):
    addon = make_extension("answers", UNANSWERING)
    tester = AnswerChecks()
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    assert tester.twice.get_status_code() == StatusCode.OK
    assert tester.streamed == [(0, False), (1, False), (2, True)]
    result, error = tester.ignored.result()
    assert error is None and result.get_status_code() == StatusCode.ERROR
    record = standin.last_run()
    assert "return_result gave None then None" in record.log_messages(addon)
    assert [(c.name, c.sender, c.cause) for c in record.unanswered_cmds()] == [
        ("ignored", "ten:test_extension", "graph_stopped")
    ]


RAISING = """
class TestedExtension(AsyncExtension):
    async def on_cmd(self, ten_env, cmd):
        raise ValueError("boom in on_cmd")

    async def on_start(self, ten_env):
        props, _ = await ten_env.get_property_to_json("")
        if json.loads(props).get("fail_on_start"):
            raise KeyError("boom in on_start")
"""


class SendOneCmd(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        await ten_env.send_cmd(Cmd.create("anything"))


def test_an_exception_escaping_on_cmd_fails_the_run_loudly(make_extension):
    addon = make_extension("raise_cmd", RAISING)
    tester = SendOneCmd()
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError) as caught:
        tester.run()
    message = str(caught.value)
    assert f"{addon}.on_cmd raised ValueError: boom in on_cmd" in message
    fatal = caught.value.fatal_errors[0]
    assert (fatal.node, fatal.callback, type(fatal.exception)) == (addon, "on_cmd", ValueError)


def test_an_exception_escaping_on_start_fails_the_run_loudly(make_extension):
    addon = make_extension("raise_start", RAISING)
    tester = AsyncExtensionTester()  # never stops by itself: the fatal error stops the run
    tester.set_test_mode_single(addon, json.dumps({"fail_on_start": True}))
    with pytest.raises(standin.StandinRunError, match=f"{addon}.on_start raised KeyError"):
        tester.run()


class RaisingTester(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        raise RuntimeError("tester bug")


def test_an_exception_in_the_tester_fails_the_run(make_extension):
    addon = make_extension("tester_raise", STAGE_LOGGER)
    tester = RaisingTester()
    tester.set_test_mode_single(addon)
    with pytest.raises(
        standin.StandinRunError,
        match=r"ten:test_extension\.on_start raised RuntimeError: tester bug",
    ):
        tester.run()
    # the extension was still stopped in order
    assert standin.last_run().log_messages(addon)[-2:] == ["stage on_stop", "stage on_deinit"]


BAD_ADDON = """
class TestedExtension(AsyncExtension):
    pass
"""

BAD_ADDON_FOOTER = """

@register_addon_as_extension({name!r})
class TestedExtensionAddon(Addon):
    def on_create_instance(self, ten_env, name, context):
        raise LookupError("addon cannot build it")
"""


def test_an_exception_in_the_addon_fails_the_run(make_extension):
    addon = make_extension("bad_addon", BAD_ADDON, footer=BAD_ADDON_FOOTER)
    tester = AsyncExtensionTester()
    tester.set_test_mode_single(addon)
    with pytest.raises(
        standin.StandinRunError,
        match=f"{addon}.on_create_instance raised LookupError: addon cannot build it",
    ):
        tester.run()


def test_the_tester_times_out_with_a_timeout_error(make_extension):
    addon = make_extension("timeout", STAGE_LOGGER)
    tester = AsyncExtensionTester()
    tester.set_test_mode_single(addon)
    tester.set_timeout(200_000)  # 0.2 s; the default is 180 s
    error = tester.run()
    assert error is not None and error.error_code() == 8
    assert standin.last_run().log_messages(addon)[-1] == "stage on_deinit"


def test_the_stop_error_is_what_run_returns(make_extension):
    addon = make_extension("stop_error", STAGE_LOGGER)

    class StopWithError(AsyncExtensionTester):
        async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
            from ten_runtime import TenError, TenErrorCode

            ten_env.stop_test(TenError.create(TenErrorCode.ErrorCodeGeneric, "what went wrong"))

    tester = StopWithError()
    tester.set_test_mode_single(addon)
    error = tester.run()
    assert error.error_code() == 1 and error.error_message() == "what went wrong"


def test_plain_extension_class_is_refused(make_extension):
    addon = make_extension("sync_ext", "class TestedExtension(Extension):\n    pass\n")
    tester = AsyncExtensionTester()
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError, match="AsyncExtension subclasses only"):
        tester.run()


def test_async_extension_keeps_its_node_name():
    assert AsyncExtension("avatar").name == "avatar"
