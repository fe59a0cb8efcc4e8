"""Reading what the TTS (or main_control) sends: the `tts_audio_start`, `tts_audio_end` and
`finalize` payloads and an audio frame's `metadata`, from their property JSON.

The manifest declares these inputs by name only, so the TEN runtime hands the extension
every payload exactly as sent (with a declared schema it would drop a payload that misfits
it, and abort the whole process on some, e.g. an empty-string key). This module is where
they are checked instead. Each reader returns typed values and the problems it found:

- a field of the wrong type (or an integer beyond int64) is read as missing, and named in
  a problem; `null` is read as missing without a problem;
- `metadata` that is not a JSON object is ignored (a problem); an empty-string key in it
  is dropped (a problem), because metadata is echoed in the `error` and `metrics` data the
  extension sends, whose declared schemas the runtime checks;
- an empty-string key at the top of a payload is a problem (the field is never read);
- anything else (unknown fields, huge values) is left alone.

A problem's `key` is the same for the same kind of problem, so the caller can report each
one once instead of once per message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Union

TTS_AUDIO_START = "tts_audio_start"
TTS_AUDIO_END = "tts_audio_end"
FINALIZE = "finalize"
TTS_DATA = (TTS_AUDIO_START, TTS_AUDIO_END, FINALIZE)
FRAME = "pcm_frame"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SHOWN_CHARS = 40  # of a wrong value, in a problem's message


@dataclass(frozen=True)
class InputProblem:
    key: str  # identifies the kind of problem: report each key once
    message: str


@dataclass(frozen=True)
class TtsStart:
    request_id: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class TtsEnd:
    request_id: str | None = None
    reason: int | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class Finalize:
    metadata: dict[str, Any] | None = None


TtsData = Union[TtsStart, TtsEnd, Finalize]


def read_tts_data(name: str, text: str | None) -> tuple[TtsData, list[InputProblem]]:
    """`name` is one of TTS_DATA; `text` the data's whole property JSON (None or "" when
    it has none)."""
    if name not in TTS_DATA:
        raise ValueError(f"not a TTS data name: {name!r}")
    problems: list[InputProblem] = []
    payload = _payload_object(name, text, problems)
    if "" in payload:
        problems.append(
            InputProblem(
                f"{name}:empty-key",
                f'{name} has a property with an empty name (""); it is ignored. '
                "Fix the sender: property names must not be empty.",
            )
        )
    metadata = _metadata(f"{name}.metadata", payload.get("metadata"), problems)
    if name == FINALIZE:
        return Finalize(metadata), problems
    request_id = _request_id(name, payload.get("request_id"), problems)
    if name == TTS_AUDIO_START:
        return TtsStart(request_id, metadata), problems
    reason = _reason(payload.get("reason"), problems)
    return TtsEnd(request_id, reason, metadata), problems


def read_frame_metadata(text: str | None) -> tuple[dict[str, Any] | None, list[InputProblem]]:
    """`text` is the frame's `metadata` property as JSON (None when it has none)."""
    if not text:
        return None, []
    problems: list[InputProblem] = []
    try:
        value = json.loads(text)
    except ValueError:
        problems.append(
            InputProblem(
                f"{FRAME}.metadata:not-json",
                f"{FRAME}.metadata is not JSON; it is ignored. Fix the sender: set it as a JSON object.",
            )
        )
        return None, problems
    return _metadata(f"{FRAME}.metadata", value, problems), problems


# ----- fields -----


def _payload_object(name: str, text: str | None, problems: list[InputProblem]) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        problems.append(
            InputProblem(
                f"{name}:not-json", f"{name}: the payload is not JSON; it is read as empty."
            )
        )
        return {}
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(
            InputProblem(
                f"{name}:{_json_type(value)}",
                f"{name}: the payload must be a JSON object, got {_shown(value)}; it is read as empty.",
            )
        )
        return {}
    return value


def _request_id(name: str, value: Any, problems: list[InputProblem]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    problems.append(
        InputProblem(
            f"{name}.request_id:{_json_type(value)}",
            f"{name}.request_id must be a string, got {_shown(value)}; it is read as missing. "
            "Fix the sender: send the TTS request id as a string.",
        )
    )
    return None


def _reason(value: Any, problems: list[InputProblem]) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if INT64_MIN <= value <= INT64_MAX:
            return value
        kind = "beyond-int64"
    else:
        kind = _json_type(value)
    problems.append(
        InputProblem(
            f"{TTS_AUDIO_END}.reason:{kind}",
            f"{TTS_AUDIO_END}.reason must be an integer (1 finished, 2 interrupted, 3 error), got "
            f"{_shown(value)}; it is read as missing, so the request ends as finished. "
            "Fix the sender: send reason as a JSON number.",
        )
    )
    return None


def _metadata(where: str, value: Any, problems: list[InputProblem]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        problems.append(
            InputProblem(
                f"{where}:{_json_type(value)}",
                f"{where} must be a JSON object, got {_shown(value)}; it is ignored. "
                'Fix the sender: set metadata as a JSON object (e.g. {"session_id": "...", "turn_id": 1}).',
            )
        )
        return None
    if "" in value:
        problems.append(
            InputProblem(
                f"{where}:empty-key",
                f'{where} has a key with an empty name (""); that entry is dropped. '
                "Fix the sender: metadata keys must not be empty.",
            )
        )
        return {key: item for key, item in value.items() if key != ""}
    return value


# ----- describing a wrong value -----


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _shown(value: Any) -> str:
    """`a string ("1")`, `an array ([7, 8])`: short even for a huge value."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    kind = _json_type(value)
    article = "an" if kind[0] in "aeiou" else "a"
    return f"{article} {kind} ({text})"
