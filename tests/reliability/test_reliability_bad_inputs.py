"""A corpus of bad inputs: configuration, audio frames, data payloads and cmds.

Each row is one input (or one flood of it) and what must come of it:

- CONFIG_REJECTED: one fatal error (-1000) naming the property and its fix; the extension
  stays up, answers cmds, takes frames silently and never connects;
- RUNTIME_REFUSES: the value does not fit the type the manifest declares, so the TEN
  runtime itself refuses to start the app and names the property (the extension never
  sees it; real runtime: exit at start, so these rows need the stand-in);
- VENDOR_FATAL: the value passes every local check but Spatius refuses it: one fatal
  error with the SDK code and a fix naming the property;
- FRAME_ERROR: one clear transient error (1000) for that kind of bad frame, not one per
  frame; the frames are dropped;
- INPUT_ERROR: a TTS payload or frame metadata the extension cannot use as sent (a field
  of the wrong type, metadata that is not an object, an empty-string key): the manifest
  declares these inputs by name only, so the runtime delivers them (with schemas it would
  drop some and abort the process on others), and the extension reports one clear
  transient error (1000) naming the field, once however often it comes, and reads the
  field as missing;
- HARMLESS: the documented handling, with no error;
- CMD_ANSWERED: the cmd gets the stated result.

After every row the extension must still serve: a flush gets OK and, when the
configuration is usable, a good utterance (ramp C) reaches the emulator whole.
"""

from __future__ import annotations

import asyncio
import enum
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from scenario_kit import make_frame, run_scenario
from ten_runtime import AudioFrameDataFmt, Cmd, Data, StatusCode

from tests.reliability.reliability_kit import (
    RATE,
    Fate,
    Signal,
    check_fate,
    ended_whole,
    extension_logs,
    guard_catches,
    last_run_record,
)
from tests.reliability.suite_audit import AUDIT

GOOD = Signal("the good utterance", 0, RATE // 4)
MARK = Signal("the bad input's audio", -20000, RATE // 2)
UNSET_ENV_VAR = "SPATIUS_RELIABILITY_SURELY_UNSET_VARIABLE"
BIG_TEXT = "x" * 1_000_000


class Outcome(enum.Enum):
    CONFIG_REJECTED = "config rejected"
    RUNTIME_REFUSES = "runtime refuses the property"
    VENDOR_FATAL = "Spatius refuses it"
    FRAME_ERROR = "one frame error"
    INPUT_ERROR = "one input error"
    HARMLESS = "harmless"
    CMD_ANSWERED = "cmd answered"


Send = Callable[[Any, Any, Any], Awaitable[None]]  # (scenario, ten_env, emulator)


@dataclass(frozen=True)
class BadInput:
    name: str
    outcome: Outcome
    detail: str = ""  # the property path, the error text, or the SDK code expected
    props: Callable[[dict[str, Any]], None] | None = None  # change the configuration
    send: Send | None = None  # send the bad input once the session is ready
    check: Callable[[Any, Any], list[str]] | None = None  # (emulator, tester) -> problems
    undeclared: bool = False  # sends a message the manifest does not declare, on purpose
    marks: tuple = field(default=())  # pytest marks (a known bug: strict xfail)


# ----- configuration -----


def set_param(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        props["params"][key] = value

    return change


def set_top(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(props: dict[str, Any]) -> None:
        props[key] = value

    return change


def drop_params(props: dict[str, Any]) -> None:
    del props["params"]


def unknown_keys(props: dict[str, Any]) -> None:
    props["colour"] = "blue"
    props["params"]["spatius_region_hint"] = "mars-1"


CONFIG_ROWS = [
    BadInput(
        "cfg-sample-rate-as-string",
        Outcome.RUNTIME_REFUSES,
        "params.sample_rate",
        set_param("sample_rate", "24000"),
    ),
    BadInput(
        "cfg-uid-as-number",
        Outcome.RUNTIME_REFUSES,
        "params.agora_uid",
        set_param("agora_uid", 2001),
    ),
    BadInput(
        "cfg-params-not-an-object", Outcome.RUNTIME_REFUSES, "params", set_top("params", "spatius")
    ),
    BadInput("cfg-dump-as-string", Outcome.RUNTIME_REFUSES, "dump", set_top("dump", "yes")),
    BadInput(
        "cfg-sample-rate-beyond-int32",
        Outcome.RUNTIME_REFUSES,
        "params.sample_rate",
        set_param("sample_rate", 2**31),
    ),
    BadInput(
        "cfg-env-unset-no-fallback",
        Outcome.RUNTIME_REFUSES,
        UNSET_ENV_VAR,
        set_param("spatius_api_key", f"${{env:{UNSET_ENV_VAR}}}"),
    ),
    BadInput(
        "cfg-env-unset-empty-fallback",
        Outcome.CONFIG_REJECTED,
        "params.spatius_api_key",
        set_param("spatius_api_key", f"${{env:{UNSET_ENV_VAR}|}}"),
    ),
    BadInput(
        "cfg-env-placeholder-malformed",
        Outcome.VENDOR_FATAL,
        "appIDUnrecognized",
        set_param("spatius_app_id", "${env:SPATIUS_APP_ID"),
    ),
    BadInput(
        "cfg-no-params-at-all", Outcome.CONFIG_REJECTED, "params.spatius_avatar_id", drop_params
    ),
    BadInput(
        "cfg-blank-api-key",
        Outcome.CONFIG_REJECTED,
        "params.spatius_api_key",
        set_param("spatius_api_key", "   "),
    ),
    BadInput(
        "cfg-uid-missing", Outcome.CONFIG_REJECTED, "params.agora_uid", set_param("agora_uid", "")
    ),
    BadInput(
        "cfg-uid-beyond-uint32",
        Outcome.CONFIG_REJECTED,
        "params.agora_uid",
        set_param("agora_uid", "4294967296"),
    ),
    BadInput(
        "cfg-sample-rate-1-hz",
        Outcome.CONFIG_REJECTED,
        "params.sample_rate",
        set_param("sample_rate", 1),
    ),
    BadInput(
        "cfg-sample-rate-negative",
        Outcome.CONFIG_REJECTED,
        "params.sample_rate",
        set_param("sample_rate", -24000),
    ),
    BadInput(
        "cfg-expiry-absurd",
        Outcome.CONFIG_REJECTED,
        "params.session_expire_minutes",
        set_param("session_expire_minutes", 2**31 - 1),
    ),
    BadInput(
        "cfg-buffer-negative",
        Outcome.CONFIG_REJECTED,
        "max_buffered_audio_ms",
        set_top("max_buffered_audio_ms", -5),
    ),
    BadInput(
        "cfg-telemetry-unknown",
        Outcome.CONFIG_REJECTED,
        "telemetry",
        set_top("telemetry", "sometimes"),
    ),
    BadInput(
        "cfg-only-one-endpoint",
        Outcome.CONFIG_REJECTED,
        "ingress_endpoint_url",
        set_top("ingress_endpoint_url", ""),
    ),
    BadInput(
        "cfg-endpoint-not-http",
        Outcome.CONFIG_REJECTED,
        "console_endpoint_url",
        set_top("console_endpoint_url", "ftp://127.0.0.1/v1/console"),
    ),
    BadInput(
        "cfg-audio-format-unknown",
        Outcome.CONFIG_REJECTED,
        "params.audio_format",
        set_param("audio_format", "mp3"),
    ),
    BadInput(
        "cfg-unknown-keys", Outcome.HARMLESS, "unknown property colour is ignored", unknown_keys
    ),
]


# ----- audio frames -----


def frame_with(
    pcm: bytes,
    *,
    rate: int = RATE,
    channels: int = 1,
    width: int = 2,
    turn: int = 7,
    fmt: AudioFrameDataFmt = AudioFrameDataFmt.INTERLEAVE,
) -> Any:
    frame = make_frame(pcm, rate, channels, {"turn_id": turn}, width=width)
    frame.set_data_fmt(fmt)
    return frame


def send_frames(make: Callable[[], Any], count: int = 3) -> Send:
    async def send(t, env, emulator) -> None:
        for _ in range(count):
            await env.send_audio_frame(make())

    return send


def bad_layout(**layout: Any) -> Send:
    return send_frames(lambda: frame_with(MARK.pcm, **layout))


async def empty_frames(t, env, emulator) -> None:
    for _ in range(5):
        await env.send_audio_frame(frame_with(b""))


async def odd_sizes(t, env, emulator) -> None:
    # 1, 3 and 5 bytes, then the rest: odd trailing bytes are carried to the next frame.
    await t.frames(env, MARK.pcm, RATE, metadata={"turn_id": 7}, sizes=[1, 3, 5, 961, 2, 7])
    await t.data(
        env, "tts_audio_end", {"request_id": "mark", "reason": 1, "metadata": {"turn_id": 7}}
    )
    await t.until(lambda: ended_whole(emulator, MARK), what="the odd-sized frames to arrive")


def mark_arrives_whole(emulator, tester) -> list[str]:
    return check_fate(emulator, MARK, Fate.WHOLE)


def sawtooth(seconds: float) -> bytes:
    """Long audio whose values stay clear of GOOD's range (a ramp cannot be that long)."""
    return (np.arange(int(RATE * seconds)) % 20000 - 30000).astype("<i2").tobytes()


def big_frame(seconds: float) -> Send:
    async def send(t, env, emulator) -> None:
        await env.send_audio_frame(frame_with(sawtooth(seconds)))
        await t.data(
            env, "tts_audio_end", {"request_id": "big", "reason": 1, "metadata": {"turn_id": 7}}
        )
        await t.until(
            lambda: (
                any(r.ended for c in emulator.recording.sessions for r in c.requests)
                or t.received.errors
            ),
            what="the big frame's request to end (or an error)",
        )

    return send


def big_frame_arrives(seconds: float) -> Callable[[Any, Any], list[str]]:
    def check(emulator, tester) -> list[str]:
        expected = sawtooth(seconds)
        got = [
            r.data
            for c in emulator.recording.sessions
            for r in c.requests
            if r.data and r.data[:64] == expected[:64]
        ]
        if got != [expected]:
            AUDIT.count("lost_audio_bytes", len(expected) - sum(map(len, got)))
            return [
                f"the {seconds:g} s frame did not arrive whole: "
                f"{[len(g) for g in got]} of {len(expected)} bytes"
            ]
        return []

    return check


async def planar_stereo(t, env, emulator) -> None:
    mono = np.frombuffer(MARK.pcm, dtype=np.int16)
    planes = (
        np.concatenate([mono, mono]).astype("<i2").tobytes()
    )  # all left samples, then all right
    await env.send_audio_frame(frame_with(planes, channels=2, fmt=AudioFrameDataFmt.NON_INTERLEAVE))
    await t.data(
        env, "tts_audio_end", {"request_id": "mark", "reason": 1, "metadata": {"turn_id": 7}}
    )
    await t.until(
        lambda: (
            any(r.ended for c in emulator.recording.sessions for r in c.requests)
            or any("dropped audio frame" in e["message"] for e in t.received.errors)
        ),
        what="the planar frame's audio or its error",
    )


def planar_understood_or_refused(emulator, tester) -> list[str]:
    """Left = right = MARK: the right downmix is MARK itself; else one clear error."""
    refused = [e for e in tester.received.errors if "dropped audio frame" in e["message"]]
    if refused:
        return (
            []
            if len(refused) == 1 and "interleav" in refused[0]["message"]
            else [f"unclear refusal {refused}"]
        )
    return check_fate(emulator, MARK, Fate.WHOLE)


async def planar_mono(t, env, emulator) -> None:
    await env.send_audio_frame(frame_with(MARK.pcm, fmt=AudioFrameDataFmt.NON_INTERLEAVE))
    await t.data(
        env, "tts_audio_end", {"request_id": "mark", "reason": 1, "metadata": {"turn_id": 7}}
    )
    await t.until(lambda: ended_whole(emulator, MARK), what="the mono frame to arrive")


def metadata_frames(metadata: Any, *, as_string: bool = False) -> Send:
    """Three frames with that metadata; a callable gives each frame's (by its number), so
    that the frames differ and a once-only error is not just a parse cache at work."""
    numbers = iter(range(1_000_000))

    def make() -> Any:
        frame = make_frame(MARK.pcm[:1920], RATE, 1, None)
        value = metadata(next(numbers)) if callable(metadata) else metadata
        if as_string:
            frame.set_property_string("metadata", value)
        else:
            frame.set_property_from_json("metadata", json.dumps(value))
        return frame

    return send_frames(make)


async def empty_key_turn_is_reported_without_it(t, env, emulator) -> None:
    """A turn whose frame metadata holds a "" key: its audio arrives, and the metrics that
    echo the turn's metadata are sent without the key (the runtime would abort on it under
    the declared data_out schema)."""
    metadata = {"": "x", "turn_id": 7, "session_id": "s"}
    await t.frames(env, MARK.pcm, RATE, metadata=metadata)
    await t.data(
        env,
        "tts_audio_end",
        {"request_id": "mark", "reason": 1, "metadata": {"turn_id": 7, "session_id": "s"}},
    )
    await t.until(lambda: ended_whole(emulator, MARK), what="the turn to end")
    echoed = await t.until(
        lambda: [
            m["metadata"]
            for m in t.received.of("metrics")
            if "request_audio_seconds" in m["metrics"]
        ],
        what="the request's metrics",
    )
    assert echoed[0] == {"turn_id": 7, "session_id": "s"}, echoed


def lying_sample_count() -> Any:
    frame = frame_with(MARK.pcm)
    frame.set_samples_per_channel(12345)
    return frame


async def lying_then_end(t, env, emulator) -> None:
    await env.send_audio_frame(lying_sample_count())
    await t.data(
        env, "tts_audio_end", {"request_id": "mark", "reason": 1, "metadata": {"turn_id": 7}}
    )
    await t.until(lambda: ended_whole(emulator, MARK), what="the frame to arrive")


FRAME_ROWS = [
    BadInput("frame-width-1", Outcome.FRAME_ERROR, "1 bytes per sample", send=bad_layout(width=1)),
    BadInput("frame-width-4", Outcome.FRAME_ERROR, "4 bytes per sample", send=bad_layout(width=4)),
    BadInput(
        "frame-width-unset", Outcome.FRAME_ERROR, "0 bytes per sample", send=bad_layout(width=0)
    ),
    BadInput("frame-rate-unset", Outcome.FRAME_ERROR, "sample rate 0", send=bad_layout(rate=0)),
    BadInput(
        "frame-rate-7999", Outcome.FRAME_ERROR, "sample rate 7999", send=bad_layout(rate=7999)
    ),
    BadInput(
        "frame-rate-384000", Outcome.FRAME_ERROR, "sample rate 384000", send=bad_layout(rate=384000)
    ),
    BadInput(
        "frame-rate-negative",
        Outcome.FRAME_ERROR,
        "sample rate -24000",
        send=bad_layout(rate=-24000),
    ),
    BadInput("frame-channels-0", Outcome.FRAME_ERROR, "0 channels", send=bad_layout(channels=0)),
    BadInput("frame-channels-9", Outcome.FRAME_ERROR, "9 channels", send=bad_layout(channels=9)),
    BadInput("frame-empty", Outcome.HARMLESS, send=empty_frames),
    BadInput("frame-odd-sizes", Outcome.HARMLESS, send=odd_sizes, check=mark_arrives_whole),
    BadInput(
        "frame-sample-count-lies", Outcome.HARMLESS, send=lying_then_end, check=mark_arrives_whole
    ),
    BadInput("frame-huge-5s", Outcome.HARMLESS, send=big_frame(5.0), check=big_frame_arrives(5.0)),
    BadInput(
        "frame-huge-12s-beyond-the-buffer",
        Outcome.HARMLESS,
        send=big_frame(12.0),
        check=big_frame_arrives(12.0),
    ),
    BadInput(
        "frame-non-interleaved-mono", Outcome.HARMLESS, send=planar_mono, check=mark_arrives_whole
    ),
    BadInput(
        "frame-non-interleaved-stereo",
        Outcome.HARMLESS,
        send=planar_stereo,
        check=planar_understood_or_refused,
    ),
    BadInput(
        "frame-metadata-not-json",
        Outcome.INPUT_ERROR,
        "pcm_frame.metadata must be a JSON object, got a string",
        send=metadata_frames(lambda n: "{turn_id: %d" % n, as_string=True),
    ),
    BadInput(
        "frame-metadata-a-list",
        Outcome.INPUT_ERROR,
        "pcm_frame.metadata must be a JSON object, got an array",
        send=metadata_frames(lambda n: [7, n]),
    ),
    BadInput(
        "frame-metadata-a-number",
        Outcome.INPUT_ERROR,
        "pcm_frame.metadata must be a JSON object, got a number",
        send=metadata_frames(7),
    ),
    BadInput(
        "frame-metadata-empty-key",
        Outcome.INPUT_ERROR,
        "pcm_frame.metadata has a key with an empty name",
        send=metadata_frames(lambda n: {"": n, "turn_id": 7}),
    ),
    BadInput(
        "frame-metadata-empty-key-echoed",
        Outcome.INPUT_ERROR,
        "pcm_frame.metadata has a key with an empty name",
        send=empty_key_turn_is_reported_without_it,
        check=mark_arrives_whole,
    ),
    BadInput(
        "frame-metadata-odd-shapes",
        Outcome.HARMLESS,
        send=metadata_frames({"turn_id": [1, 2], "session_id": {"x": None}, "request_id": 12}),
    ),
    BadInput(
        "frame-metadata-huge",
        Outcome.HARMLESS,
        send=metadata_frames({"turn_id": 7, "blob": BIG_TEXT}),
    ),
]


# ----- data payloads -----


def data_message(
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    buf: bytes | None = None,
    string_property: tuple[str, str] | None = None,
    times: int = 1,
) -> Send:
    async def send(t, env, emulator) -> None:
        for _ in range(times):
            message = Data.create(name)
            if payload is not None:
                message.set_property_from_json(None, json.dumps(payload))
            if buf is not None:
                message.set_property_buf("payload", buf)
            if string_property is not None:
                message.set_property_string(*string_property)
            await env.send_data(message)

    return send


def after_mark_turn(send_end: Send) -> Send:
    """A turn of MARK audio, then the end under test: it must end the request."""

    async def send(t, env, emulator) -> None:
        await t.frames(env, MARK.pcm, RATE, metadata={"turn_id": 7})
        await send_end(t, env, emulator)
        await t.until(lambda: ended_whole(emulator, MARK), what="the end to end the request")

    return send


async def unknown_reasons(t, env, emulator) -> None:
    """Reasons other than 2 (interrupted) end the request, as 1 (finished) and 3 (error) do."""
    for number, reason in enumerate((0, 4, 99, -1)):
        turn = 70 + number
        signal = Signal(f"turn {turn}", -20000 + number * 1000, 960)
        await t.frames(env, signal.pcm, RATE, metadata={"turn_id": turn})
        await t.data(
            env,
            "tts_audio_end",
            {"request_id": f"r{turn}", "reason": reason, "metadata": {"turn_id": turn}},
        )
        await t.until(
            lambda signal=signal: ended_whole(emulator, signal),
            what=f"reason {reason} to end the request",
        )


DATA_ROWS = [
    # Each is sent three times: one error for the kind of problem, not one per message.
    BadInput(
        "data-start-request-id-number",
        Outcome.INPUT_ERROR,
        "tts_audio_start.request_id must be a string, got a number",
        send=data_message("tts_audio_start", {"request_id": 5}, times=3),
    ),
    BadInput(
        "data-end-reason-string-still-ends-the-turn",
        Outcome.INPUT_ERROR,
        "tts_audio_end.reason must be an integer",
        send=after_mark_turn(
            data_message(
                "tts_audio_end", {"request_id": "mark", "reason": "1", "metadata": {"turn_id": 7}}
            )
        ),
    ),
    BadInput(
        "data-end-reason-string",
        Outcome.INPUT_ERROR,
        "tts_audio_end.reason must be an integer (1 finished, 2 interrupted, 3 error), "
        'got a string ("1")',
        send=data_message("tts_audio_end", {"request_id": "r", "reason": "1"}, times=3),
    ),
    BadInput(
        "data-end-reason-bool",
        Outcome.INPUT_ERROR,
        "got a boolean (true)",
        send=data_message("tts_audio_end", {"request_id": "r", "reason": True}, times=3),
    ),
    BadInput(
        "data-end-reason-beyond-int64",
        Outcome.INPUT_ERROR,
        "tts_audio_end.reason must be an integer",
        send=data_message("tts_audio_end", {"request_id": "r", "reason": 2**70}, times=3),
    ),
    BadInput(
        "data-end-metadata-a-list",
        Outcome.INPUT_ERROR,
        "tts_audio_end.metadata must be a JSON object, got an array",
        send=data_message("tts_audio_end", {"request_id": "r", "metadata": [1]}, times=3),
    ),
    BadInput(
        "data-finalize-metadata-not-json",
        Outcome.INPUT_ERROR,
        "finalize.metadata must be a JSON object, got a string",
        send=data_message("finalize", string_property=("metadata", "{oops"), times=3),
    ),
    BadInput(
        "data-finalize-empty-key",
        Outcome.INPUT_ERROR,
        "finalize has a property with an empty name",
        send=data_message("finalize", {"": 1}, times=3),
    ),
    BadInput(
        "data-start-empty-key",
        Outcome.INPUT_ERROR,
        "tts_audio_start has a property with an empty name",
        send=data_message("tts_audio_start", {"": 1, "request_id": "r"}, times=3),
    ),
    BadInput(
        "data-start-metadata-empty-key",
        Outcome.INPUT_ERROR,
        "tts_audio_start.metadata has a key with an empty name",
        send=data_message(
            "tts_audio_start", {"request_id": "r", "metadata": {"": 1, "turn_id": 5}}, times=3
        ),
    ),
    BadInput(
        "data-end-empty-ends-the-turn",
        Outcome.HARMLESS,
        send=after_mark_turn(data_message("tts_audio_end", {})),
    ),
    BadInput(
        "data-finalize-without-payload",
        Outcome.HARMLESS,
        send=after_mark_turn(data_message("finalize")),
    ),
    BadInput("data-start-empty", Outcome.HARMLESS, send=data_message("tts_audio_start", {})),
    BadInput("data-end-unknown-reasons-end-the-turn", Outcome.HARMLESS, send=unknown_reasons),
    BadInput(
        "data-end-of-a-request-never-started",
        Outcome.HARMLESS,
        send=data_message("tts_audio_end", {"request_id": "never-started", "reason": 1}),
    ),
    BadInput(
        "data-huge-request-id",
        Outcome.HARMLESS,
        send=after_mark_turn(data_message("tts_audio_end", {"request_id": BIG_TEXT, "reason": 1})),
    ),
    BadInput(
        "data-binary-payload",
        Outcome.HARMLESS,
        send=data_message("tts_audio_end", buf=bytes(range(256))),
    ),
    BadInput(
        "data-non-json-text-fields",
        Outcome.HARMLESS,
        send=data_message(
            "tts_audio_start", {"request_id": "{{{not json", "metadata": {"turn_id": "}{"}}
        ),
    ),
    BadInput(
        "data-unknown-name",
        Outcome.HARMLESS,
        send=data_message("asr_result", {"text": "hi"}),
        undeclared=True,
    ),
]


# ----- cmds -----


def cmd_with(
    name: str,
    props: dict[str, Any] | None,
    expected: StatusCode,
    count: int = 1,
    detail: str | None = None,
) -> Send:
    async def send(t, env, emulator) -> None:
        async def one() -> None:
            cmd = Cmd.create(name)
            if props is not None:
                cmd.set_property_from_json(None, json.dumps(props))
            result, err = await env.send_cmd(cmd)
            assert err is None, err.error_message()
            assert result.get_status_code() == expected, f"{name}: {result.get_status_code()}"
            if detail is not None:
                text, _ = result.get_property_string("detail")
                assert detail in (text or ""), text

        await asyncio.gather(*(one() for _ in range(count)))

    return send


CMD_ROWS = [
    BadInput(
        "cmd-unknown-name",
        Outcome.CMD_ANSWERED,
        send=cmd_with(
            "make_coffee", None, StatusCode.ERROR, detail="does not handle the cmd 'make_coffee'"
        ),
        undeclared=True,
    ),
    BadInput(
        "cmd-unknown-flood",
        Outcome.CMD_ANSWERED,
        send=cmd_with("make_tea", {"n": 1}, StatusCode.ERROR, 100),
        undeclared=True,
    ),
    BadInput(
        "cmd-flush-odd-properties",
        Outcome.CMD_ANSWERED,
        send=cmd_with(
            "flush", {"x": [1, {"y": None}], "reason": -1, "big": BIG_TEXT}, StatusCode.OK
        ),
    ),
    BadInput(
        "cmd-flush-flood", Outcome.CMD_ANSWERED, send=cmd_with("flush", None, StatusCode.OK, 300)
    ),
    BadInput(
        "cmd-user-joined-garbage",
        Outcome.CMD_ANSWERED,
        send=cmd_with("on_user_joined", {"user_id": {"nested": [1, None]}}, StatusCode.OK),
    ),
]

ROWS = CONFIG_ROWS + FRAME_ROWS + DATA_ROWS + CMD_ROWS


def params() -> list[Any]:
    out = []
    for row in ROWS:
        marks = list(row.marks) + ([pytest.mark.undeclared_input] if row.undeclared else [])
        out.append(pytest.param(row, id=row.name, marks=marks))
    return out


# ----- running a row -----


async def still_serving(t, env, emulator, connects: bool) -> None:
    assert await t.cmd(env, "flush") == StatusCode.OK
    await t.data(env, "tts_audio_start", {"request_id": "good", "metadata": {"turn_id": 99}})
    await t.frames(env, GOOD.pcm, RATE, metadata={"turn_id": 99})
    await t.data(
        env, "tts_audio_end", {"request_id": "good", "reason": 1, "metadata": {"turn_id": 99}}
    )
    if connects:
        await t.until(lambda: ended_whole(emulator, GOOD), what="the good utterance")
    else:
        assert await t.cmd(env, "on_user_left") == StatusCode.OK


def stand_in_error() -> type[BaseException]:
    from ten_runtime import standin

    return standin.StandinRunError


@pytest.mark.parametrize("row", params())
def test_bad_input(row: BadInput, emulator, pcm_props):
    AUDIT.count("bad_inputs_tried")
    props = json.loads(json.dumps(pcm_props))
    if row.props is not None:
        row.props(props)
    config_only = row.outcome in (Outcome.CONFIG_REJECTED, Outcome.VENDOR_FATAL)

    async def script(t, env) -> None:
        if config_only:
            await t.until(
                lambda: any(e["code"] == -1000 for e in t.received.errors), what="the fatal error"
            )
        else:
            # Ready in the extension, not only confirmed by the emulator: a frame beyond the
            # buffer bound must meet a ready session (the bound is for audio that waits).
            await t.until(
                lambda: emulator.recording.sessions and t.extension_ready(),
                what="the ready session",
            )
        if row.send is not None:
            await row.send(t, env, emulator)
        await still_serving(t, env, emulator, connects=not config_only)

    if row.outcome is Outcome.RUNTIME_REFUSES:
        if not _has_standin():
            pytest.skip("the real runtime exits the process on a property misfit")
        with pytest.raises(stand_in_error()) as refused:
            run_scenario(props, script)
        assert row.detail in str(refused.value)
        assert not emulator.recording.token_requests
        return

    tester = run_scenario(props, script)
    record = last_run_record()
    errors = tester.received.errors
    problems: list[str] = []
    if record is not None:
        problems += [f"the guard caught: {m}" for m in guard_catches(record)]
    if row.check is not None:
        problems += row.check(emulator, tester)
    problems += check_fate(emulator, GOOD, Fate.NOTHING if config_only else Fate.WHOLE)

    if row.outcome is Outcome.CONFIG_REJECTED:
        (error,) = errors
        assert (
            error["code"] == -1000 and row.detail in error["message"] and "Fix:" in error["message"]
        ), error
        assert not emulator.recording.token_requests, "a rejected configuration must never connect"
    elif row.outcome is Outcome.VENDOR_FATAL:
        (error,) = errors
        assert error["code"] == -1000 and error["vendor_info"]["code"] == row.detail, error
        assert "params." in error["message"], "the fix must name the property"
    elif row.outcome is Outcome.FRAME_ERROR:
        (error,) = errors  # one for the kind of bad frame, not one per frame
        assert error["code"] == 1000 and "dropped audio frame" in error["message"], error
        assert row.detail in error["message"], error
        problems += check_fate(emulator, MARK, Fate.NOTHING)
    elif row.outcome is Outcome.INPUT_ERROR:
        (error,) = errors  # one for the kind of problem, however often it came
        assert (
            error["code"] == 1000
            and row.detail in error["message"]
            and "Fix the sender" in error["message"]
        ), error
        if record is not None:
            assert any(
                level == "ERROR" and row.detail in message
                for level, message in extension_logs(record)
            ), row.detail
            assert not [r.message for r in record.logs if "dropped:" in r.message], (
                "the runtime dropped an input"
            )
    else:
        assert not errors, errors
        if row.detail and record is not None:
            assert any(row.detail in message for _, message in extension_logs(record)), row.detail
    assert not problems, "\n".join(problems)


def _has_standin() -> bool:
    try:
        from ten_runtime import standin  # noqa: F401
    except ImportError:
        return False
    return True
