"""Reading TTS payloads and frame metadata (spatius_avatar_python.tts_messages): typed values
for what fits, and one named problem per thing that does not."""

from __future__ import annotations

import json

import pytest

from spatius_avatar_python.tts_messages import (
    Finalize,
    TtsEnd,
    TtsStart,
    read_frame_metadata,
    read_tts_data,
)

HUGE = "x" * 1_000_000


def read(name: str, payload: object) -> tuple[object, list]:
    return read_tts_data(name, json.dumps(payload))


def test_well_formed_payloads_read_without_problems() -> None:
    start, problems = read(
        "tts_audio_start", {"request_id": "r1", "metadata": {"session_id": "s", "turn_id": 3}}
    )
    assert (start, problems) == (TtsStart("r1", {"session_id": "s", "turn_id": 3}), [])
    end, problems = read(
        "tts_audio_end",
        {
            "request_id": "r1",
            "request_event_interval_ms": 40,
            "request_total_audio_duration_ms": 900,
            "reason": 2,
            "metadata": {"turn_id": 3},
        },
    )
    assert (end, problems) == (TtsEnd("r1", 2, {"turn_id": 3}), [])
    assert read("finalize", {"metadata": {"turn_id": 3}}) == (Finalize({"turn_id": 3}), [])


@pytest.mark.parametrize("text", [None, "", "{}", "null"])
def test_no_payload_reads_as_all_missing(text: str | None) -> None:
    assert read_tts_data("tts_audio_end", text) == (TtsEnd(None, None, None), [])
    assert read_tts_data("finalize", text) == (Finalize(None), [])


def test_nulls_and_unknown_fields_are_not_problems() -> None:
    end, problems = read(
        "tts_audio_end",
        {"request_id": None, "reason": None, "metadata": None, "text": [1, {"a": 2}]},
    )
    assert (end, problems) == (TtsEnd(None, None, None), [])


@pytest.mark.parametrize(
    ("payload", "expected", "key", "words"),
    [
        (
            {"request_id": "r", "reason": "1"},
            TtsEnd("r", None, None),
            "tts_audio_end.reason:string",
            'must be an integer (1 finished, 2 interrupted, 3 error), got a string ("1")',
        ),
        (
            {"request_id": "r", "reason": True},
            TtsEnd("r", None, None),
            "tts_audio_end.reason:boolean",
            "got a boolean (true)",
        ),
        (
            {"request_id": "r", "reason": 1.0},
            TtsEnd("r", None, None),
            "tts_audio_end.reason:number",
            "got a number (1.0)",
        ),
        (
            {"request_id": "r", "reason": 2**70},
            TtsEnd("r", None, None),
            "tts_audio_end.reason:beyond-int64",
            "1180591620717411303424",
        ),
        (
            {"request_id": 5, "reason": 1},
            TtsEnd(None, 1, None),
            "tts_audio_end.request_id:number",
            "must be a string, got a number (5)",
        ),
        (
            {"reason": 3, "metadata": [1]},
            TtsEnd(None, 3, None),
            "tts_audio_end.metadata:array",
            "must be a JSON object, got an array ([1])",
        ),
    ],
)
def test_a_wrong_field_is_read_as_missing_and_named(payload, expected, key, words) -> None:
    end, problems = read("tts_audio_end", payload)
    assert end == expected
    (problem,) = problems
    assert problem.key == key
    assert words in problem.message and "Fix the sender" in problem.message


def test_reasons_within_int64_are_kept_even_unknown_ones() -> None:
    for reason in (0, 4, 99, -1, 2**63 - 1, -(2**63)):
        assert read("tts_audio_end", {"reason": reason}) == (TtsEnd(None, reason, None), [])


def test_metadata_that_is_a_string_is_ignored_even_when_it_holds_json() -> None:
    start, problems = read("tts_audio_start", {"request_id": "r", "metadata": '{"turn_id": 3}'})
    assert start == TtsStart("r", None)
    assert [p.key for p in problems] == ["tts_audio_start.metadata:string"]


def test_empty_keys_are_problems_and_are_dropped_from_metadata() -> None:
    start, problems = read(
        "tts_audio_start", {"": 1, "request_id": "r", "metadata": {"": 2, "turn_id": 4}}
    )
    assert start == TtsStart("r", {"turn_id": 4})  # metadata is echoed in error/metrics data
    assert [p.key for p in problems] == [
        "tts_audio_start:empty-key",
        "tts_audio_start.metadata:empty-key",
    ]
    finalize, problems = read("finalize", {"": None})
    assert finalize == Finalize(None) and [p.key for p in problems] == ["finalize:empty-key"]
    # deeper levels are left alone: nothing downstream checks them
    assert read("finalize", {"metadata": {"a": {"": 1}}}) == (Finalize({"a": {"": 1}}), [])


def test_the_same_kind_of_problem_has_the_same_key_whatever_the_value() -> None:
    _, first = read("tts_audio_end", {"reason": "1"})
    _, second = read("tts_audio_end", {"reason": "two", "request_id": "other"})
    assert first[0].key == second[0].key
    _, third = read("tts_audio_end", {"reason": [2]})
    assert third[0].key != first[0].key


def test_huge_values_are_kept_but_never_shown_whole() -> None:
    end, problems = read("tts_audio_end", {"request_id": HUGE, "reason": 1})
    assert end == TtsEnd(HUGE, 1, None) and problems == []
    _, problems = read("tts_audio_end", {"reason": HUGE})
    assert len(problems[0].message) < 400


def test_a_payload_that_is_not_an_object_or_not_json_reads_as_empty() -> None:
    end, problems = read_tts_data("tts_audio_end", "[1, 2]")
    assert end == TtsEnd(None, None, None) and [p.key for p in problems] == ["tts_audio_end:array"]
    start, problems = read_tts_data("tts_audio_start", "{not json")
    assert start == TtsStart(None, None) and [p.key for p in problems] == [
        "tts_audio_start:not-json"
    ]


def test_only_tts_data_names_are_read() -> None:
    with pytest.raises(ValueError):
        read_tts_data("asr_result", "{}")


@pytest.mark.parametrize(
    ("text", "expected", "keys"),
    [
        (None, None, []),
        (
            '{"session_id": "s", "turn_id": [1, 2], "request_id": 12}',
            {"session_id": "s", "turn_id": [1, 2], "request_id": 12},
            [],
        ),
        ("null", None, []),
        ('"{turn_id: 7"', None, ["pcm_frame.metadata:string"]),
        ("[7, 8]", None, ["pcm_frame.metadata:array"]),
        ("3", None, ["pcm_frame.metadata:number"]),
        ('{"": 1, "turn_id": 7}', {"turn_id": 7}, ["pcm_frame.metadata:empty-key"]),
        ("{oops", None, ["pcm_frame.metadata:not-json"]),
    ],
)
def test_frame_metadata(text, expected, keys) -> None:
    metadata, problems = read_frame_metadata(text)
    assert metadata == expected
    assert [p.key for p in problems] == keys
