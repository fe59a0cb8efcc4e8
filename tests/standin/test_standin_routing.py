"""Routing by the graph's connections (dest and source forms, name and names), unrouted
sends, and message checks against the manifests of sender and receiver."""

import json

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import (  # noqa: E402
    AsyncExtensionTester,
    AsyncTenEnvTester,
    AudioFrame,
    Cmd,
    Data,
    Loc,
    SendOptions,
    StatusCode,
    TenErrorCode,
    VideoFrame,
    standin,
)

TESTER = "ten:test_extension"

# Each node answers cmds OK and, on cmd "relay", sends data `relay.what` to whatever the graph
# routes. It reports everything it receives to the tester as data "seen".
RELAY = """
class TestedExtension(AsyncExtension):
    async def on_cmd(self, ten_env, cmd):
        if cmd.get_name() == "relay":
            what, _ = cmd.get_property_string("what")
            kind, _ = cmd.get_property_string("kind")
            if kind == "cmd":
                result, error = await ten_env.send_cmd(Cmd.create(what))
                outcome = error.error_code() if error else int(result.get_status_code())
            else:
                outcome = await ten_env.send_data(Data.create(what), SendOptions(wait_for_result=True))
                outcome = outcome.error_code() if outcome else 0
            reply = CmdResult.create(StatusCode.OK, cmd)
            reply.set_property_int("outcome", int(outcome))
            await ten_env.return_result(reply)
            return
        await self._seen(ten_env, "cmd", cmd)
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def on_data(self, ten_env, data):
        await self._seen(ten_env, "data", data)

    async def _seen(self, ten_env, kind, msg):
        seen = Data.create("seen")
        seen.set_property_from_json(None, json.dumps({
            "by": self.name, "kind": kind, "name": msg.get_name(),
            "from": msg.get_source().extension_name}))
        await ten_env.send_data(seen)
"""


def relay_cmd(kind: str, what: str, to: str) -> Cmd:
    cmd = Cmd.create("relay")
    cmd.set_property_string("kind", kind)
    cmd.set_property_string("what", what)
    cmd.set_dests([Loc(extension_name=to)])
    return cmd


class Relayer(AsyncExtensionTester):
    """Asks nodes to send messages, collects what every node saw, stops after `expected`."""

    def __init__(self, requests: list[tuple[str, str, str]], expected: int) -> None:
        super().__init__()
        self.requests = requests
        self.expected = expected
        self.outcomes: dict[str, int] = {}
        self.seen: list[tuple[str, str, str, str]] = []

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        for kind, what, node in self.requests:
            result, error = await ten_env.send_cmd(relay_cmd(kind, what, node))
            assert error is None, error
            self.outcomes[f"{node}:{what}"] = result.get_property_int("outcome")[0]
        self._stop_when_complete(ten_env)

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        seen = json.loads(data.get_property_to_json(None)[0])
        self.seen.append((seen["by"], seen["kind"], seen["name"], seen["from"]))
        self._stop_when_complete(ten_env)

    def _stop_when_complete(self, ten_env: AsyncTenEnvTester) -> None:
        if len(self.outcomes) == len(self.requests) and len(self.seen) == self.expected:
            ten_env.stop_test()


def graph_of(addon: str, connections: list[dict]) -> str:
    report = {"extension": None, "data": [{"name": "seen", "dest": [{"extension": TESTER}]}]}
    return json.dumps(
        {
            "nodes": [{"type": "extension", "name": n, "addon": addon} for n in ("a", "b", "c")]
            + [{"type": "extension", "name": TESTER, "addon": TESTER}],
            "connections": connections + [dict(report, extension=n) for n in ("a", "b", "c")],
        }
    )


def test_dest_and_source_forms_with_name_and_names_route_as_declared(make_extension):
    addon = make_extension("relay", RELAY)
    graph = graph_of(
        addon,
        [
            # forward: a's "hello" data goes to b; a's cmds x and y go to b and c
            {
                "extension": "a",
                "data": [{"name": "hello", "dest": [{"extension": "b"}]}],
                "cmd": [{"names": ["x", "y"], "dest": [{"extension": "b"}, {"extension": "c"}]}],
            },
            # backward: c receives "bye" from b and "hello2" from a
            {
                "extension": "c",
                "data": [
                    {"name": "bye", "source": [{"extension": "b"}]},
                    {"names": ["hello2"], "source": [{"extension": "a"}]},
                ],
            },
        ],
    )
    requests = [
        ("data", "hello", "a"),
        ("data", "bye", "b"),
        ("data", "hello2", "a"),
        ("cmd", "x", "a"),
        ("data", "bye", "a"),
    ]  # a has no route for "bye"
    tester = Relayer(requests, expected=5)
    tester.set_test_mode_graph(graph)
    assert tester.run() is None
    assert sorted(tester.seen) == sorted(
        [
            ("b", "data", "hello", "a"),
            ("c", "data", "bye", "b"),
            ("c", "data", "hello2", "a"),
            ("b", "cmd", "x", "a"),
            ("c", "cmd", "x", "a"),
        ]
    )
    assert tester.outcomes == {
        "a:hello": 0,
        "b:bye": 0,
        "a:hello2": 0,
        "a:x": 0,
        "a:bye": TenErrorCode.ErrorCodeMsgNotConnected,
    }


def test_unrouted_cmd_gives_code_7_with_the_real_message(make_extension):
    addon = make_extension("unrouted", RELAY)
    graph = graph_of(addon, [])
    tester = Relayer([("cmd", "nowhere", "a")], expected=0)
    tester.set_test_mode_graph(graph)
    assert tester.run() is None
    assert tester.outcomes == {"a:nowhere": 7}

    class DirectCheck(AsyncExtensionTester):
        async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
            self.cmd = await ten_env.send_cmd(Cmd.create("nowhere"))
            self.data = await ten_env.send_data(Data.create("nowhere"))
            self.data_wait = await ten_env.send_data(
                Data.create("nowhere"), SendOptions(wait_for_result=True)
            )
            self.audio = await ten_env.send_audio_frame(AudioFrame.create("nowhere"))
            self.audio_wait = await ten_env.send_audio_frame(
                AudioFrame.create("nowhere"), SendOptions(wait_for_result=True)
            )
            self.video_wait = await ten_env.send_video_frame(
                VideoFrame.create("nowhere"), SendOptions(wait_for_result=True)
            )
            ten_env.stop_test()

    direct = DirectCheck()
    direct.set_test_mode_graph(graph)  # the tester has no routes in this graph
    assert direct.run() is None
    result, error = direct.cmd
    assert result is None and error.error_code() == TenErrorCode.ErrorCodeMsgNotConnected
    assert (
        error.error_message()
        == "Failed to find destination of a 'cmd' message 'nowhere' from graph."
    )
    assert direct.data is None and direct.audio is None
    assert direct.data_wait.error_code() == 7 and direct.audio_wait.error_code() == 7
    assert direct.video_wait.error_code() == 7


STRICT = """
class TestedExtension(AsyncExtension):
    async def on_cmd(self, ten_env, cmd):
        ten_env.log_info(f"got cmd {cmd.get_name()}")
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
        if cmd.get_name() == "emit":
            bad = Data.create("report")
            bad.set_property_int("count", -1)  # data_out says uint8
            error = await ten_env.send_data(bad, SendOptions(wait_for_result=True))
            silent = await ten_env.send_data(bad)
            good = Data.create("report")
            good.set_property_int("count", 3)
            await ten_env.send_data(good)
            ten_env.log_info(f"bad report: {error.error_code()} / {silent}")

    async def on_data(self, ten_env, data):
        ten_env.log_info(f"got data {data.get_name()}")

    async def on_audio_frame(self, ten_env, frame):
        ten_env.log_info(f"got frame {frame.get_name()}")
"""

STRICT_API = {
    "cmd_in": [
        {
            "name": "set_level",
            "property": {"properties": {"level": {"type": "int32"}}, "required": ["level"]},
        },
        {"name": "emit"},
    ],
    "data_in": [{"name": "text", "property": {"properties": {"text": {"type": "string"}}}}],
    "data_out": [{"name": "report", "property": {"properties": {"count": {"type": "uint8"}}}}],
    "audio_frame_in": [
        {
            "name": "pcm_frame",
            "property": {"properties": {"metadata": {"type": "object", "properties": {}}}},
        }
    ],
}


class SchemaProbe(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.results: dict[str, object] = {}
        self.reports: list[int] = []

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        missing = Cmd.create("set_level")  # required `level` missing
        wrong = Cmd.create("set_level")
        wrong.set_property_string("level", "3")  # a string in an int32
        fine = Cmd.create("set_level")
        fine.set_property_int("level", 3)
        undeclared = Cmd.create("not_in_manifest")
        undeclared.set_property_string("level", "anything")
        for label, cmd in (
            ("missing", missing),
            ("wrong", wrong),
            ("fine", fine),
            ("undeclared", undeclared),
        ):
            result, error = await ten_env.send_cmd(cmd)
            assert error is None
            self.results[label] = result.get_status_code()
        bad_text = Data.create("text")
        bad_text.set_property_int("text", 5)
        self.results["bad_data"] = await ten_env.send_data(
            bad_text, SendOptions(wait_for_result=True)
        )
        self.results["bad_data_silent"] = await ten_env.send_data(bad_text)
        good_text = Data.create("text")
        good_text.set_property_string("text", "hi")
        self.results["good_data"] = await ten_env.send_data(
            good_text, SendOptions(wait_for_result=True)
        )
        bad_frame = AudioFrame.create("pcm_frame")
        bad_frame.set_property_from_json("metadata", "[1]")
        self.results["bad_frame"] = await ten_env.send_audio_frame(
            bad_frame, SendOptions(wait_for_result=True)
        )
        await ten_env.send_cmd(Cmd.create("emit"))

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        self.reports.append(data.get_property_int("count")[0])
        ten_env.stop_test()


def test_messages_are_checked_against_the_manifest_api_by_name(make_extension):
    addon = make_extension("strict", STRICT, api=STRICT_API)
    tester = SchemaProbe()
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    results = tester.results
    assert results["missing"] == StatusCode.ERROR
    assert results["wrong"] == StatusCode.ERROR
    assert results["fine"] == StatusCode.OK
    assert results["undeclared"] == StatusCode.OK  # names the manifest lacks are not checked
    assert results["bad_data"].error_code() == TenErrorCode.ErrorCodeGeneric
    assert results["bad_data_silent"] is None
    assert results["good_data"] is None
    assert results["bad_frame"].error_code() == TenErrorCode.ErrorCodeGeneric
    record = standin.last_run()
    logs = record.log_messages(addon)
    assert logs.count("got cmd set_level") == 1  # misfits never reached the extension
    assert "got cmd not_in_manifest" in logs
    assert logs.count("got data text") == 1
    assert "got frame pcm_frame" not in logs
    assert [c.cause for c in record.auto_answered_cmds] == ["schema_misfit", "schema_misfit"]
    # the dropped incoming data was logged as a warning on the receiver
    assert any(
        "with invalid schema: ." in r.message and r.level == 3 for r in record.logs_of(addon)
    )
    # outgoing: the misfit report was not delivered, only reported with wait_for_result
    assert "bad report: 1 / None" in logs
    assert tester.reports == [3]


def test_source_loc_names_the_sender(make_extension):
    addon = make_extension("source_loc", RELAY)
    tester = Relayer([("data", "ping", "a")], expected=1)
    tester.set_test_mode_graph(
        graph_of(
            addon, [{"extension": "a", "data": [{"name": "ping", "dest": [{"extension": "c"}]}]}]
        )
    )
    assert tester.run() is None
    assert tester.seen == [("c", "data", "ping", "a")]


EMPTY_KEY_API = {
    "cmd_in": [
        {"name": "probe"},
        {"name": "checked_cmd", "property": {"properties": {"x": {"type": "int32"}}}},
    ],
    "data_in": [
        {
            "name": "checked",
            "property": {"properties": {"metadata": {"type": "object", "properties": {}}}},
        },
        {"name": "by_name_only"},
    ],
    "audio_frame_in": [
        {
            "name": "pcm_frame",
            "property": {"properties": {"metadata": {"type": "object", "properties": {}}}},
        }
    ],
}

COUNTER = """
class TestedExtension(AsyncExtension):
    async def on_cmd(self, ten_env, cmd):
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))

    async def on_data(self, ten_env, data):
        ten_env.log_info(f"got data {data.get_name()} {data.get_property_to_json(None)[0]}")

    async def on_audio_frame(self, ten_env, frame):
        ten_env.log_info(f"got frame {frame.get_property_to_json('metadata')[0]}")
"""


class SendThenStop(AsyncExtensionTester):
    """Sends `messages`, then a cmd (answered after they were handled, same sender, FIFO)."""

    def __init__(self, messages: list) -> None:
        super().__init__()
        self.messages = messages

    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        for message in self.messages:
            if isinstance(message, AudioFrame):
                await ten_env.send_audio_frame(message)
            elif isinstance(message, Cmd):
                await ten_env.send_cmd(message)
            else:
                await ten_env.send_data(message)
        await ten_env.send_cmd(Cmd.create("probe"))
        ten_env.stop_test()


def data_with(name: str, payload: dict) -> Data:
    data = Data.create(name)
    data.set_property_from_json(None, json.dumps(payload))
    return data


def cmd_with(payload: dict) -> Cmd:
    cmd = Cmd.create("checked_cmd")
    cmd.set_property_from_json(None, json.dumps(payload))
    return cmd


def frame_with_metadata(metadata: object) -> AudioFrame:
    frame = AudioFrame.create("pcm_frame")
    frame.set_property_from_json("metadata", json.dumps(metadata))
    return frame


def test_empty_keys_are_delivered_where_no_schema_validates_them(make_extension):
    addon = make_extension("empty_keys_ok", COUNTER, api=EMPTY_KEY_API)
    tester = SendThenStop(
        [
            data_with("by_name_only", {"": 1}),  # declared by name only: not validated
            data_with("undeclared", {"": 1}),  # not declared: not validated
            data_with("checked", {"metadata": {"a": {"": 1}}}),  # under an undeclared key
            frame_with_metadata({"a": {"": 2}}),
        ]
    )
    tester.set_test_mode_single(addon)
    assert tester.run() is None
    logs = standin.last_run().log_messages(addon)
    assert 'got data by_name_only {"": 1}' in logs and 'got data undeclared {"": 1}' in logs
    assert 'got data checked {"metadata": {"a": {"": 1}}}' in logs
    assert 'got frame {"a": {"": 2}}' in logs


@pytest.mark.parametrize(
    ("message", "where"),
    [
        (
            lambda: data_with("checked", {"": 1, "metadata": {}}),
            "data 'checked' has an empty-string key \"\" in (the message's property root)",
        ),
        (
            lambda: data_with("checked", {"metadata": {"": 1}}),
            "data 'checked' has an empty-string key \"\" in metadata",
        ),
        (
            lambda: frame_with_metadata({"turn_id": 1, "": 1}),
            "audio_frame 'pcm_frame' has an empty-string key \"\" in metadata",
        ),
        (
            lambda: cmd_with({"x": 1, "": 2}),
            "cmd 'checked_cmd' has an empty-string key \"\" in (the message's property root)",
        ),
    ],
)
def test_an_empty_key_under_a_declared_schema_is_fatal(make_extension, message, where):
    addon = make_extension("empty_keys_fatal", COUNTER, api=EMPTY_KEY_API)
    tester = SendThenStop([message()])
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError) as failed:
        tester.run()
    assert where in str(failed.value) and "SIGABRT" in str(failed.value)
    record = standin.last_run()
    assert not any(m.startswith("got ") for m in record.log_messages(addon))  # never delivered
    assert record.fatal_errors[0].node == addon


def test_an_empty_key_in_what_an_extension_sends_under_its_declared_schema_is_fatal(make_extension):
    sender = """
class TestedExtension(AsyncExtension):
    async def on_start(self, ten_env):
        report = Data.create("report")
        report.set_property_from_json(None, json.dumps({"metadata": {"": "echoed"}}))
        await ten_env.send_data(report)
"""
    addon = make_extension(
        "empty_key_out",
        sender,
        api={
            "data_out": [
                {
                    "name": "report",
                    "property": {"properties": {"metadata": {"type": "object", "properties": {}}}},
                }
            ]
        },
    )
    tester = AsyncExtensionTester()
    tester.set_test_mode_single(addon)
    with pytest.raises(
        standin.StandinRunError, match="data 'report' has an empty-string key .* data_out"
    ):
        tester.run()
