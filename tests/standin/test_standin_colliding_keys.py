"""JSON held as TEN's C core holds it: keys and strings cut at U+0000, integers above int64
held as uint64, and what the core cannot write back as JSON (an object whose keys then
collide, such a uint64) aborts whoever reads it as JSON. The same claims are checked
against the real runtime, in a process of their own, by test_standin_as_real.py
(sections 5 and 6)."""

import json

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import AsyncExtensionTester, AsyncTenEnvTester, Data, standin
from ten_runtime.aborts import ProcessAborted

from tests.standin.test_standin_real_extension import PROPERTIES


def test_keys_and_strings_are_cut_at_u0000_and_colliding_keys_read_first():
    data = Data.create("x")
    payload = {"k\u0000x": 1, "k": 2, "s": "a\u0000b", "l": ["p\u0000q", {"o\u0000": "v\u0000w"}]}
    assert data.set_property_from_json(None, json.dumps(payload)) is None
    assert data.get_property_int("k") == (1, None)  # the first of the colliding keys
    assert data.get_property_string("s") == ("a", None)
    assert data.get_property_to_json("l") == ('["p", {"o": "v"}]', None)
    for holder in (data, data.clone()):  # a clone keeps both keys
        for path in ("", None):
            with pytest.raises(ProcessAborted, match=r"keys \['k\\x00x', 'k', "):
                holder.get_property_to_json(path)


def test_a_key_written_twice_in_the_json_text_aborts_the_json_read_too():
    data = Data.create("x")
    assert data.set_property_from_json(None, '{"m": {"a": 1, "a": 2}, "n": 3}') is None
    assert data.get_property_int("m.a") == (1, None)
    assert data.get_property_to_json("n") == ("3", None)
    with pytest.raises(ProcessAborted):
        data.get_property_to_json("m")


def test_a_uint64_above_int64_is_refused_by_the_int_getter_and_aborts_the_json_read():
    data = Data.create("x")
    assert data.set_property_from_json(None, json.dumps({"m": [2**63], "n": 2**64})) is None
    value, error = data.get_property_int("m[0]")
    assert value == 0 and error is not None
    assert data.get_property_to_json("n") == ("1.8446744073709552e+19", None)  # a float
    with pytest.raises(ProcessAborted, match=r"above int64 \(9223372036854775808\)"):
        data.clone().get_property_to_json("m")


class SendsCollidingMetadata(AsyncExtensionTester):
    async def on_start(self, ten_env: AsyncTenEnvTester) -> None:
        data = Data.create("tts_audio_start")
        data.set_property_from_json(
            None, json.dumps({"request_id": "r", "metadata": {"turn_id\u0000": 1, "turn_id": 2}})
        )
        await ten_env.send_data(data)  # never stops by itself: the fatal error stops the run


def test_the_avatar_reading_such_a_tts_payload_is_fatal_as_in_the_real_runtime():
    # A known limit (README of the stand-in): the runtime delivers the message, and the
    # avatar's on_data reads the payload as JSON, the only way TEN's Python API reads an
    # object. The real process aborts there; the stand-in ends the run the same way, so a
    # test that sends such a message fails on CI too.
    tester = SendsCollidingMetadata()
    tester.set_test_mode_single("spatius_avatar_python", json.dumps(PROPERTIES))
    tester.set_timeout(20_000_000)
    with pytest.raises(standin.StandinRunError) as caught:
        tester.run()
    [fatal] = caught.value.fatal_errors
    assert (fatal.node, fatal.callback, type(fatal.exception)) == (
        "spatius_avatar_python",
        "on_data",
        ProcessAborted,
    )
    assert "ten_json_object_set" in str(fatal.exception)
