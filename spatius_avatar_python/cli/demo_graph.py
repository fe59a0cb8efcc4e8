"""The demo's voice-agent graph: a scripted TTS speaking real speech into the real avatar
extension, a main_control that barges in, and a sink for what the avatar sends out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ADDON = "spatius_avatar_python"
TTS, AVATAR, MAIN, SINK = "tts", "avatar", "main_control", "sink"
# The tester that runs the graph is a node of it: the TEN tester takes the graph as given and
# never starts without this node. It only watches the records, so nothing is routed to it.
TESTER = "ten:test_extension"
SESSION_ID = "demo"
FRAME_MS = 20
INTERRUPTED_UTTERANCE = 1  # the second one (0-based)


def tts_script(
    pcm_files: list[Path], sample_rate: int, *, pace: float, pause_ms: int, start_delay_ms: int
) -> dict[str, Any]:
    """fake_tts property: one utterance per raw mono s16le file, paced like a real TTS."""
    return {
        "session_id": SESSION_ID,
        "pace": pace,
        "pause_ms": pause_ms,
        "start_delay_ms": start_delay_ms,
        "utterances": [
            {
                "request_id": f"demo-{index + 1}",
                "turn_id": index + 1,
                "pcm_file": str(path),
                "sample_rate": sample_rate,
                "channels": 1,
                "frame_ms": FRAME_MS,
            }
            for index, path in enumerate(pcm_files)
        ],
    }


def barge_in_script(frames_before_flush: int) -> dict[str, Any]:
    """fake_main_control property: flush once the TTS is that far into the second utterance."""
    return {
        "flush_after_tts_frames": {
            "tts": TTS,
            "utterance": INTERRUPTED_UTTERANCE,
            "frames": frames_before_flush,
        }
    }


def demo_graph(
    avatar: dict[str, Any], tts: dict[str, Any], main_control: dict[str, Any]
) -> dict[str, Any]:
    nodes = [
        {
            "type": "extension",
            "name": TTS,
            "addon": "fake_tts",
            "extension_group": "tts",
            "property": tts,
        },
        {
            "type": "extension",
            "name": AVATAR,
            "addon": ADDON,
            "extension_group": "avatar",
            "property": avatar,
        },
        {
            "type": "extension",
            "name": MAIN,
            "addon": "fake_main_control",
            "extension_group": "control",
            "property": main_control,
        },
        {
            "type": "extension",
            "name": SINK,
            "addon": "fake_sink",
            "extension_group": "sink",
            "property": {},
        },
        {"type": "extension", "name": TESTER, "addon": TESTER},
    ]
    # One forward `name` item per message: a runtime built without its Rust graph flattener
    # (which expands `names` lists and `source` items) routes only this form.
    connections = [
        {
            "extension": TTS,
            "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": AVATAR}]}],
            "data": [
                {"name": name, "dest": [{"extension": AVATAR}]}
                for name in ("tts_audio_start", "tts_audio_end")
            ],
        },
        {
            "extension": MAIN,
            "cmd": [{"name": "flush", "dest": [{"extension": AVATAR}, {"extension": TTS}]}],
        },
        {
            "extension": AVATAR,
            "data": [
                {"name": name, "dest": [{"extension": SINK}]} for name in ("error", "metrics")
            ],
            "cmd": [{"name": "flush", "dest": [{"extension": SINK}]}],
        },
    ]
    return {"nodes": nodes, "connections": connections}
