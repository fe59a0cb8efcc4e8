"""Property-based fuzzing (hypothesis) of what a TTS can send: audio frames of any layout
and metadata, and arbitrary JSON for tts_audio_start / tts_audio_end / finalize.

One real extension runs for the whole test (a scenario run on a background thread) and
every hypothesis example is fed to it through the tester's loop, so hundreds of examples
cost seconds. After each example: no exception escaped a callback (the stand-in would
have failed the run), none was caught by the extension's last line of defence either,
and a flush still gets OK. At the end a good utterance still reaches the emulator whole.

Deterministic: `derandomize=True`, so CI runs the same examples every time.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scenario_kit import make_frame, run_scenario
from ten_runtime import AudioFrameDataFmt, Data, StatusCode

from tests.reliability.reliability_kit import RATE, Signal, guard_catches, last_run_record
from tests.reliability.suite_audit import AUDIT

GOOD = Signal("the good utterance after the fuzzing", 0, RATE // 4)
FILLER = Signal("audio of the fuzzed turns", -20000, RATE // 25)
CALL_TIMEOUT_S = 20.0  # generous: only against hangs
FUZZ = settings(
    derandomize=True,
    max_examples=150,
    deadline=None,
    database=None,
    # One emulator and one extension serve every example, on purpose.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


class LiveExtension:
    """The real extension in one scenario run that lasts until `finish()`."""

    def __init__(self, props: dict[str, Any], emulator: Any) -> None:
        self._props = props
        self._emulator = emulator
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._finish: asyncio.Event | None = None
        self._tester: Any = None
        self._env: Any = None
        self._thread = threading.Thread(target=self._run, name="fuzzed-extension", daemon=True)
        self._guard_catches_seen = 0

    def __enter__(self) -> "LiveExtension":
        self._thread.start()
        if not self._ready.wait(CALL_TIMEOUT_S):
            raise TimeoutError(f"the extension did not get a session: {self._failure!r}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._loop is not None and self._finish is not None:
            self._loop.call_soon_threadsafe(self._finish.set)
        self._thread.join(CALL_TIMEOUT_S)
        assert not self._thread.is_alive(), "the run did not stop"
        if self._failure is not None and exc_info[0] is None:
            raise self._failure

    def _run(self) -> None:
        async def script(t: Any, env: Any) -> None:
            self._loop, self._finish = asyncio.get_running_loop(), asyncio.Event()
            self._tester, self._env = t, env
            await t.until(lambda: self._emulator.recording.sessions, what="the session")
            self._ready.set()
            await self._finish.wait()

        try:
            run_scenario(self._props, script)
        except BaseException as error:  # reported to the test's thread
            self._failure = error
            self._ready.set()

    def call(self, action: Callable[[Any, Any], Coroutine[Any, Any, Any]]) -> Any:
        """Run `action(tester, ten_env)` on the tester's loop; its result."""
        if self._failure is not None:
            raise self._failure
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(action(self._tester, self._env), self._loop)
        return future.result(CALL_TIMEOUT_S)

    def check_still_serving(self) -> None:
        assert self.call(lambda t, env: t.cmd(env, "flush")) == StatusCode.OK
        record = last_run_record()
        if record is not None:
            assert not record.fatal_errors, record.fatal_errors[0].describe()
            # Only this example's catches: hypothesis replays examples while it shrinks.
            caught = guard_catches(record)
            new, self._guard_catches_seen = caught[self._guard_catches_seen :], len(caught)
            assert not new, new


# ----- strategies -----


def ten_objects(
    keys: st.SearchStrategy[str], values: st.SearchStrategy[Any], max_size: int
) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects a TEN message can hold. Its C core cuts every key at its first U+0000,
    so two keys equal up to there ("a\\u0000x" and "a", "\\u0000" and "") become one key
    twice; reading that object as JSON then aborts the process, in whichever node reads it
    (ten_json_object_set: "Should not happen"), and TEN's Python API has no other way to read
    an object. No receiver survives such a message (a known limit, in
    testbed/ten_runtime_standin/README.md). Keys with U+0000 that do not collide stay in."""
    return st.dictionaries(keys, values, max_size=max_size).filter(
        lambda obj: len({key.partition("\x00")[0] for key in obj}) == len(obj)
    )


# Integers beyond int64 too, but none in (int64 max, uint64 max]: TEN holds those as uint64
# and cannot write them back as JSON, so reading the object holding one as JSON aborts the
# process in whichever node reads it (see ten_objects; the stand-in's README).
json_ints = st.integers(-(2**70), 2**70).filter(lambda n: not 2**63 <= n < 2**64)
json_scalars = (
    st.none() | st.booleans() | json_ints | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | ten_objects(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
turn_ids = st.none() | st.integers(-3, 3) | st.text(max_size=6) | json_values

turn_metadata = st.fixed_dictionaries(
    {"turn_id": turn_ids},
    optional={"session_id": json_values, "request_id": json_values, "extra": json_values},
)
other_metadata = st.one_of(
    st.none(),
    st.fixed_dictionaries({}, optional={"session_id": json_values, "request_id": json_values}),
    ten_objects(st.text(max_size=12), json_values, max_size=5),
    # Not an object at all. Without U+0000: TEN's Python binding refuses a str argument
    # holding one (ValueError "Failed to parse arguments."), so no Python peer sends it (and
    # TEN's C API takes C strings, which end there).
    st.tuples(st.just("string"), st.text(st.characters(exclude_characters="\x00"), max_size=30)),
    st.tuples(st.just("json"), json_values),
)


def weighted(usual: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` three times out of four (one_of alone would pick each half the time)."""
    return st.sampled_from([True, True, True, False]).flatmap(
        lambda pick_usual: usual if pick_usual else rare
    )


# A frame's layout is usually a real one, so that most frames get past the format check
# and reach the turn gate, the conditioner and the session; the rest probe the check.
usual_layouts = st.fixed_dictionaries(
    {
        "rate": st.sampled_from(
            [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 96000, 192000]
        ),
        "channels": st.integers(1, 8),
        "width": st.just(2),
        "length": st.integers(2, 24_000),
    }
)
wild_layouts = st.fixed_dictionaries(
    {
        "rate": st.integers(-10, 400_000),
        "channels": st.integers(-1, 12),
        "width": st.integers(-1, 8),
        "length": st.integers(0, 24_000),
    }
)
frames = st.tuples(
    weighted(usual_layouts, wild_layouts),
    st.fixed_dictionaries(
        {
            "seed": st.integers(0, 2**16),
            "planar": st.booleans(),
            "metadata": weighted(turn_metadata, other_metadata),
        }
    ),
).map(lambda parts: {**parts[0], **parts[1]})

data_payloads = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["tts_audio_start", "tts_audio_end", "finalize"]),
        "payload": st.none()
        | st.fixed_dictionaries(
            {},
            optional={
                "request_id": json_values,
                "reason": json_values,
                "metadata": json_values,
                "request_event_interval_ms": json_values,
                "request_total_audio_duration_ms": json_values,
            },
        )
        | ten_objects(st.text(max_size=12), json_values, max_size=5),
    }
)


def build_frame(spec: dict[str, Any]) -> Any:
    pcm = (
        np.random.default_rng(spec["seed"])
        .integers(0, 256, spec["length"], dtype=np.uint8)
        .tobytes()
    )
    frame = make_frame(pcm, spec["rate"], spec["channels"], None, width=spec["width"])
    if spec["planar"]:
        frame.set_data_fmt(AudioFrameDataFmt.NON_INTERLEAVE)
    metadata = spec["metadata"]
    if isinstance(metadata, tuple):
        kind, value = metadata
        if kind == "string":
            frame.set_property_string("metadata", value)
        else:
            frame.set_property_from_json("metadata", json.dumps(value))
    elif metadata is not None:
        frame.set_property_from_json("metadata", json.dumps(metadata))
    return frame


def build_data(spec: dict[str, Any]) -> Any:
    message = Data.create(spec["name"])
    if spec["payload"] is not None:
        message.set_property_from_json(None, json.dumps(spec["payload"]))
    return message


async def good_utterance(t: Any, env: Any) -> None:
    await t.data(
        env,
        "tts_audio_start",
        {"request_id": "good-after-fuzz", "metadata": {"turn_id": "good-after-fuzz"}},
    )
    await t.frames(env, GOOD.pcm, RATE, metadata={"turn_id": "good-after-fuzz"})
    await t.data(
        env,
        "tts_audio_end",
        {"request_id": "good-after-fuzz", "reason": 1, "metadata": {"turn_id": "good-after-fuzz"}},
    )


def good_utterance_arrived(emulator: Any) -> bool:
    # Compared byte for byte: fuzzed random audio may hold samples of GOOD's value range.
    return any(
        r.ended and r.data == GOOD.pcm for c in emulator.recording.sessions for r in c.requests
    )


def finish_with_a_good_utterance(live: LiveExtension, emulator: Any) -> None:
    live.call(good_utterance)
    live.call(
        lambda t, env: t.until(
            lambda: good_utterance_arrived(emulator), what="the good utterance, whole"
        )
    )


def test_fuzzed_audio_frames_never_break_the_extension(emulator, pcm_props):
    with LiveExtension(pcm_props, emulator) as live:

        @FUZZ
        @given(batch=st.lists(frames, min_size=1, max_size=4))
        def example(batch: list[dict[str, Any]]) -> None:
            AUDIT.count("fuzz_examples_run")

            async def send(t: Any, env: Any) -> None:
                for spec in batch:
                    await env.send_audio_frame(build_frame(spec))

            live.call(send)
            live.check_still_serving()

        example()
        finish_with_a_good_utterance(live, emulator)


def test_fuzzed_tts_data_never_breaks_the_extension(emulator, pcm_props):
    with LiveExtension(pcm_props, emulator) as live:

        @FUZZ
        @given(batch=st.lists(data_payloads, min_size=1, max_size=4), with_audio=st.booleans())
        def example(batch: list[dict[str, Any]], with_audio: bool) -> None:
            AUDIT.count("fuzz_examples_run")

            async def send(t: Any, env: Any) -> None:
                for spec in batch:
                    if with_audio:  # so the fuzzed starts and ends meet an open turn
                        await t.frames(env, FILLER.pcm, RATE, metadata={"turn_id": "fuzz"})
                    await env.send_data(build_data(spec))

            live.call(send)
            live.check_still_serving()

        example()
        finish_with_a_good_utterance(live, emulator)
