"""Properties as the stand-in loads them: env placeholders, deep merge over property.json,
checks against the manifest's api.property, and the AsyncTenEnv getters."""

import json

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, Data, standin  # noqa: E402
from ten_runtime.properties import (  # noqa: E402
    PropertyLoadError,
    deep_merge,
    load_extension_properties,
    resolve_env,
)

API = {
    "property": {
        "properties": {
            "key": {"type": "string"},
            "params": {
                "type": "object",
                "properties": {
                    "sample_rate": {"type": "int32"},
                    "gain": {"type": "float32"},
                    "voices": {"type": "array", "items": {"type": "string"}},
                },
            },
            "small": {"type": "uint8"},
            "flag": {"type": "bool"},
        }
    }
}


def test_env_placeholders_resolve_everywhere_and_always_to_strings():
    env = {"KEY": "secret", "RATE": "24000", "EMPTY": ""}
    value = {
        "a": "${env:KEY}",
        "b": "${env:MISSING|}",
        "c": "${env:MISSING|fallback}",
        "d": {"e": ["${env:RATE}", "${env:KEY|x}", 3]},
        "f": "${env:EMPTY}",
        "g": "prefix ${env:KEY}",  # not a whole-string placeholder: kept as written
    }
    assert resolve_env(value, env) == {
        "a": "secret",
        "b": "",
        "c": "fallback",
        "d": {"e": ["24000", "secret", 3]},
        "f": "",
        "g": "prefix ${env:KEY}",
    }


def test_missing_env_var_without_fallback_is_fatal():
    with pytest.raises(PropertyLoadError, match="NOT_SET_ANYWHERE.*d.e\\[0\\]|d.e\\[0\\].*NOT_SET"):
        resolve_env({"d": {"e": ["${env:NOT_SET_ANYWHERE}"]}}, {})


def test_deep_merge_merges_objects_and_replaces_everything_else():
    base = {"params": {"a": 1, "b": {"c": 2, "d": 3}}, "list": [1, 2], "x": 1}
    override = {"params": {"b": {"c": 20}, "e": 5}, "list": [9], "x": {"y": 1}}
    assert deep_merge(base, override) == {
        "params": {"a": 1, "b": {"c": 20, "d": 3}, "e": 5},
        "list": [9],
        "x": {"y": 1},
    }
    assert base["params"]["b"]["c"] == 2  # inputs untouched


@pytest.mark.parametrize(
    ("node_property", "message"),
    [
        (
            {"params": {"sample_rate": "24000"}},
            "params.sample_rate: unsupported conversion from `string` to `int32`",
        ),
        ({"params": {"sample_rate": 2**31}}, "out of the range of `int32`"),
        ({"small": -1}, "out of the range of `uint8`"),
        ({"flag": 1}, "unsupported conversion from `int64` to `bool`"),
        ({"params": {"gain": "1.0"}}, "to `float32`"),
        ({"params": {"voices": ["a", 2]}}, "params.voices\\[1\\]: unsupported conversion"),
        ({"params": 5}, "params: unsupported conversion from `int64` to `object`"),
        ({"key": None}, "from `null` to `string`"),
    ],
)
def test_values_that_do_not_fit_the_manifest_are_fatal(node_property, message):
    with pytest.raises(PropertyLoadError, match=message):
        load_extension_properties({}, node_property, {"api": API}, "extension 'x'")


def test_fitting_values_load_and_ints_widen_to_declared_floats():
    loaded = load_extension_properties(
        {"params": {"sample_rate": 16000, "gain": 1}, "undeclared": "kept"},
        {"params": {"sample_rate": 24000}, "flag": True},
        {"api": API},
        "extension 'x'",
    )
    assert loaded == {
        "params": {"sample_rate": 24000, "gain": 1.0},
        "undeclared": "kept",
        "flag": True,
    }
    assert isinstance(loaded["params"]["gain"], float)


REPORTER = """
class TestedExtension(AsyncExtension):
    async def on_start(self, ten_env):
        report = {}
        for path in ("key", "params.sample_rate", "params.rate_text", "nested.deep.flag",
                     "params.gain", "missing.path"):
            report[path] = {
                "int": list(await ten_env.get_property_int(path)),
                "string": list(await ten_env.get_property_string(path)),
                "bool": list(await ten_env.get_property_bool(path)),
                "float": list(await ten_env.get_property_float(path)),
                "exists": (await ten_env.is_property_exist(path))[0],
            }
        report["whole"] = json.loads((await ten_env.get_property_to_json(None))[0])
        report["whole_empty"] = json.loads((await ten_env.get_property_to_json(""))[0])
        report["params"] = json.loads((await ten_env.get_property_to_json("params"))[0])
        await ten_env.set_property_int("params.sample_rate", 8000)
        await ten_env.set_property_string("added.text", "t")
        report["after_set"] = [(await ten_env.get_property_int("params.sample_rate"))[0],
                               (await ten_env.get_property_string("added.text"))[0]]
        data = Data.create("report")
        data.set_property_from_json(None, json.dumps(report, default=lambda e: [
            int(e.error_code()), e.error_message()]))
        await ten_env.send_data(data)
"""


class ReportCollector(AsyncExtensionTester):
    def __init__(self) -> None:
        super().__init__()
        self.report: dict | None = None

    async def on_data(self, ten_env: AsyncTenEnvTester, data: Data) -> None:
        if data.get_name() == "report":
            self.report = json.loads(data.get_property_to_json(None)[0])
            ten_env.stop_test()


def test_extension_reads_merged_resolved_properties_with_the_real_getter_results(
    make_extension, monkeypatch
):
    monkeypatch.setenv("STANDIN_TEST_KEY", "from-env")
    addon = make_extension(
        "reporter",
        REPORTER,
        api={
            "property": {
                "properties": {
                    "key": {"type": "string"},
                    "params": {
                        "type": "object",
                        "properties": {
                            "sample_rate": {"type": "int32"},
                            "gain": {"type": "float64"},
                        },
                    },
                }
            }
        },
        properties={
            "key": "${env:STANDIN_TEST_KEY}",
            "params": {"sample_rate": 16000, "gain": 2, "rate_text": "5"},
            "nested": {"deep": {"flag": True}},
        },
    )
    tester = ReportCollector()
    tester.set_test_mode_single(addon, json.dumps({"params": {"sample_rate": 24000}}))
    assert tester.run() is None
    report = tester.report
    not_found = lambda path: [100000, f"Failed to find value: {path}"]  # noqa: E731
    assert report["key"]["string"] == ["from-env", None]
    assert report["key"]["int"] == [0, None]  # a string read as int: (0, None)
    assert report["params.sample_rate"]["int"] == [24000, None]  # node property wins
    assert report["params.sample_rate"]["string"] == [None, None]
    assert report["params.sample_rate"]["bool"][1][0] == 1
    assert report["params.rate_text"]["int"] == [0, None]  # "5" is not converted
    assert report["nested.deep.flag"]["bool"] == [True, None]
    assert report["params.gain"]["float"] == [2.0, None]  # declared float64: widened
    assert report["missing.path"] == {
        "int": [0, not_found("missing.path")],
        "string": ["", not_found("missing.path")],
        "bool": [False, not_found("missing.path")],
        "float": [0.0, not_found("missing.path")],
        "exists": False,
    }
    assert report["whole"] == report["whole_empty"]
    assert report["whole"]["params"] == {"sample_rate": 24000, "gain": 2.0, "rate_text": "5"}
    assert report["params"] == report["whole"]["params"]
    assert report["after_set"] == [8000, "t"]


NOOP = """
class TestedExtension(AsyncExtension):
    pass
"""


class StopAtOnce(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        ten_env.stop_test()


def test_run_fails_when_an_env_var_has_no_value_and_no_fallback(make_extension, monkeypatch):
    monkeypatch.delenv("STANDIN_UNSET_VAR", raising=False)
    addon = make_extension("env_fatal", NOOP, properties={"key": "${env:STANDIN_UNSET_VAR}"})
    tester = StopAtOnce()
    tester.set_test_mode_single(addon)
    with pytest.raises(standin.StandinRunError, match="STANDIN_UNSET_VAR is not set"):
        tester.run()


def test_run_fails_on_a_string_in_an_int_property(make_extension):
    addon = make_extension(
        "int_fatal",
        NOOP,
        api={"property": {"properties": {"rate": {"type": "int32"}}}},
        properties={"rate": 16000},
    )
    tester = StopAtOnce()
    tester.set_test_mode_single(addon, json.dumps({"rate": "24000"}))
    with pytest.raises(
        standin.StandinRunError, match="rate: unsupported conversion from `string` to `int32`"
    ):
        tester.run()
    assert standin.last_run().fatal_errors[0].callback == "load"
