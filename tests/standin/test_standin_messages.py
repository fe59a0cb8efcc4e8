"""The stand-in's message classes, enums and errors: the API surface of the real runtime."""

import json

import pytest

pytest.importorskip("ten_runtime.standin", reason="tests of the TEN stand-in itself")

from ten_runtime import (  # noqa: E402
    AudioFrame,
    AudioFrameDataFmt,
    Cmd,
    CmdResult,
    Data,
    Loc,
    LogLevel,
    PixelFmt,
    StatusCode,
    TenError,
    TenErrorCode,
    VideoFrame,
)


def test_enum_values_are_the_real_ones():
    assert (StatusCode.OK, StatusCode.ERROR) == (0, 1)
    assert [int(level) for level in LogLevel] == [0, 1, 2, 3, 4]
    assert (AudioFrameDataFmt.INTERLEAVE, AudioFrameDataFmt.NON_INTERLEAVE) == (1, 2)
    assert {code.name: int(code) for code in TenErrorCode} == {
        "ErrorCodeGeneric": 1,
        "ErrorCodeInvalidJSON": 2,
        "ErrorCodeInvalidArgument": 3,
        "ErrorCodeInvalidType": 4,
        "ErrorCodeInvalidGraph": 5,
        "ErrorCodeTenIsClosed": 6,
        "ErrorCodeMsgNotConnected": 7,
        "ErrorCodeTimeout": 8,
    }
    assert PixelFmt.RGBA in PixelFmt


def test_ten_error_create_keeps_code_and_message():
    error = TenError.create(TenErrorCode.ErrorCodeMsgNotConnected, "no route")
    assert error.error_code() == 7 and error.error_message() == "no route"
    assert TenError.create(100000).error_code() == 100000  # not a TenErrorCode member


def test_msg_name_and_property_json_with_whole_object_paths():
    cmd = Cmd.create("flush")
    assert cmd.get_name() == "flush"
    cmd.set_name("flush2")
    assert cmd.get_name() == "flush2"
    assert cmd.set_property_from_json(None, json.dumps({"a": {"b": [1, 2]}})) is None
    for whole in (None, ""):
        text, error = cmd.get_property_to_json(whole)
        assert error is None and json.loads(text) == {"a": {"b": [1, 2]}}
    assert cmd.set_property_from_json("a.c", '"x"') is None
    assert json.loads(cmd.get_property_to_json("a")[0]) == {"b": [1, 2], "c": "x"}
    assert cmd.get_property_int("a.b[1]") == (2, None)
    text, error = cmd.get_property_to_json("nope")
    assert text == "" and error.error_code() == 100000
    assert cmd.set_property_from_json(None, "{not json").error_code() == 2


def test_msg_typed_getters_have_the_real_results():
    data = Data.create("d")
    data.set_property_int("i", 5)
    data.set_property_string("s", "5")
    data.set_property_bool("b", True)
    data.set_property_float("f", 0.5)
    assert data.get_property_int("i") == (5, None)
    assert data.get_property_string("s") == ("5", None)
    assert data.get_property_bool("b") == (True, None)
    assert data.get_property_float("f") == (0.5, None)
    # wrong types: int -> (0, None); string -> (None, None); bool and float -> code 1
    assert data.get_property_int("s") == (0, None)
    assert data.get_property_string("i") == (None, None)
    value, error = data.get_property_bool("s")
    assert value is False and error.error_code() == TenErrorCode.ErrorCodeGeneric
    value, error = data.get_property_float("s")
    assert value == 0.0 and error.error_code() == TenErrorCode.ErrorCodeGeneric
    # missing paths: the zero value and code 100000 "Failed to find value: <path>"
    for getter, zero in (
        (data.get_property_int, 0),
        (data.get_property_string, ""),
        (data.get_property_bool, False),
        (data.get_property_float, 0.0),
    ):
        value, error = getter("x.y")
        assert value == zero and type(value) is type(zero)
        assert error.error_code() == 100000
        assert error.error_message() == "Failed to find value: x.y"


def test_msg_buf_property_roundtrip():
    data = Data.create("d")
    assert data.set_property_buf("blob", b"\x00\x01\xff") is None
    assert data.get_property_buf("blob") == (bytearray(b"\x00\x01\xff"), None)
    assert data.get_property_buf("none")[1].error_code() == 100000


def test_audio_frame_fields_default_to_zero_and_roundtrip():
    frame = AudioFrame.create("pcm_frame")
    assert (
        frame.get_timestamp(),
        frame.get_sample_rate(),
        frame.get_samples_per_channel(),
        frame.get_bytes_per_sample(),
        frame.get_number_of_channels(),
        frame.get_line_size(),
        frame.is_eof(),
    ) == (0, 0, 0, 0, 0, 0, False)
    assert frame.get_buf() == bytearray()
    frame.set_timestamp(123)
    frame.set_sample_rate(24000)
    frame.set_samples_per_channel(240)
    frame.set_bytes_per_sample(2)
    frame.set_number_of_channels(2)
    frame.set_data_fmt(AudioFrameDataFmt.NON_INTERLEAVE)
    frame.set_line_size(960)
    frame.set_eof(True)
    assert (
        frame.get_timestamp(),
        frame.get_sample_rate(),
        frame.get_samples_per_channel(),
        frame.get_bytes_per_sample(),
        frame.get_number_of_channels(),
        frame.get_data_fmt(),
        frame.get_line_size(),
        frame.is_eof(),
    ) == (123, 24000, 240, 2, 2, AudioFrameDataFmt.NON_INTERLEAVE, 960, True)


@pytest.mark.parametrize("message_class", [AudioFrame, Data])
def test_buffer_alloc_lock_unlock_and_get_buf_is_a_copy(message_class):
    msg = message_class.create("m")
    msg.alloc_buf(5)  # odd sizes are fine
    view = msg.lock_buf()
    assert isinstance(view, memoryview) and len(view) == 5
    view[:] = b"abcde"
    msg.unlock_buf(view)
    copy = msg.get_buf()
    assert copy == bytearray(b"abcde") and isinstance(copy, bytearray)
    copy[0] = ord("z")
    assert msg.get_buf() == bytearray(b"abcde")
    with pytest.raises(RuntimeError):
        msg.unlock_buf(memoryview(bytearray(5)))


def test_audio_frames_and_data_refuse_an_empty_buffer():
    frame = AudioFrame.create("pcm_frame")
    with pytest.raises(ValueError, match="^Invalid audio frame size.$"):
        frame.alloc_buf(0)
    assert frame.get_buf() == bytearray()  # a frame never given a buffer is empty
    with pytest.raises(ValueError, match="^Invalid audio frame size.$"):
        frame.alloc_buf(-1)
    frame.alloc_buf(1)
    assert len(frame.get_buf()) == 1
    data = Data.create("d")
    with pytest.raises(ValueError, match="^Invalid buffer size.$"):
        data.alloc_buf(0)


def test_clone_is_deep():
    frame = AudioFrame.create("pcm_frame")
    frame.alloc_buf(3)
    view = frame.lock_buf()
    view[:] = b"xyz"
    frame.unlock_buf(view)
    frame.set_property_from_json("metadata", '{"turn_id": 1}')
    frame.set_sample_rate(16000)
    twin = frame.clone()
    frame.set_property_int("metadata.turn_id", 2)
    view = frame.lock_buf()
    view[0] = ord("X")
    frame.unlock_buf(view)
    assert twin.get_property_int("metadata.turn_id") == (1, None)
    assert twin.get_buf() == bytearray(b"xyz") and twin.get_sample_rate() == 16000


def test_cmd_result_status_and_finality():
    cmd = Cmd.create("flush")
    result = CmdResult.create(StatusCode.ERROR, cmd)
    assert result.get_status_code() == StatusCode.ERROR
    assert result.is_final() and result.is_completed()
    result.set_final(False)
    assert not result.is_final()
    assert result.clone().get_status_code() == StatusCode.ERROR


def test_video_frame_and_loc():
    frame = VideoFrame.create("v")
    frame.set_width(4)
    frame.set_height(2)
    frame.set_pixel_fmt(PixelFmt.I420)
    frame.alloc_buf(12)
    assert (frame.get_width(), frame.get_height(), frame.get_pixel_fmt()) == (4, 2, PixelFmt.I420)
    assert len(frame.get_buf()) == 12
    loc = Loc(extension_name="avatar")
    assert (loc.app_uri, loc.graph_id, loc.extension_name) == (None, None, "avatar")
