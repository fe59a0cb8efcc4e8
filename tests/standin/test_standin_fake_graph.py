"""The scripted peers in a graph in the real format: fake_tts -> a test-local echo avatar
-> fake_sink, with fake_main_control's flush, wired with both dest and source forms."""

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ten_runtime.standin", reason="uses the stand-in's extension path")

from fake_graph import registry, run_graph_until, the_tester_node  # noqa: E402
from fake_graph.audio_source import frame_sizes, load_pcm, sine_pcm, to_channels  # noqa: E402
from speech_fixtures import fixture_path  # noqa: E402
from ten_runtime import standin  # noqa: E402

SPEECH_24K = fixture_path(24000)  # FLAC: the scripted TTS decodes it

ECHO_AVATAR = """
class TestedExtension(AsyncExtension):
    async def on_audio_frame(self, ten_env, frame):
        await ten_env.send_audio_frame(frame.clone())

    async def on_data(self, ten_env, data):
        if data.get_name() != "tts_audio_end":
            return
        end = json.loads(data.get_property_to_json(None)[0])
        metrics = Data.create("metrics")
        metrics.set_property_from_json(None, json.dumps({
            "id": end["request_id"], "module": "avatar", "vendor": "echo",
            "metrics": {"reason": end["reason"],
                        "audio_ms": end["request_total_audio_duration_ms"]},
            "metadata": end["metadata"]}))
        await ten_env.send_data(metrics)

    async def on_cmd(self, ten_env, cmd):
        if cmd.get_name() == "flush":
            await ten_env.send_cmd(Cmd.create("flush"))
        await ten_env.return_result(CmdResult.create(StatusCode.OK, cmd))
"""

REPO_MANIFEST = json.loads((Path(__file__).resolve().parents[2] / "manifest.json").read_text())
ECHO_API = {
    "cmd_in": [{"name": "flush"}],
    "cmd_out": [{"name": "flush"}],
    "data_in": [d for d in REPO_MANIFEST["api"]["data_in"] if d["name"].startswith("tts_")],
    "data_out": [d for d in REPO_MANIFEST["api"]["data_out"] if d["name"] == "metrics"],
    "audio_frame_in": REPO_MANIFEST["api"]["audio_frame_in"],
    "audio_frame_out": REPO_MANIFEST["api"]["audio_frame_in"],
}


def echo_graph(avatar_addon: str, tts_property: dict, main_property: dict | None = None) -> dict:
    nodes = [
        {
            "type": "extension",
            "name": "tts",
            "addon": "fake_tts",
            "extension_group": "tts",
            "property": tts_property,
        },
        {
            "type": "extension",
            "name": "avatar",
            "addon": avatar_addon,
            "extension_group": "avatar",
            "property": {},
        },
        {"type": "extension", "name": "sink", "addon": "fake_sink", "property": {}},
        the_tester_node(),  # the tester only watches the records: no connections to it
    ]
    connections = [
        {
            "extension": "tts",  # forward form
            "audio_frame": [{"name": "pcm_frame", "dest": [{"extension": "avatar"}]}],
            "data": [
                {"names": ["tts_audio_start", "tts_audio_end"], "dest": [{"extension": "avatar"}]}
            ],
        },
        {
            "extension": "sink",  # backward form
            "audio_frame": [{"name": "pcm_frame", "source": [{"extension": "avatar"}]}],
            "data": [{"name": "metrics", "source": [{"extension": "avatar"}]}],
            "cmd": [{"name": "flush", "source": [{"extension": "avatar"}]}],
        },
    ]
    if main_property is not None:
        nodes.append(
            {
                "type": "extension",
                "name": "main",
                "addon": "fake_main_control",
                "property": main_property,
            }
        )
        connections.append(
            {
                "extension": "main",
                "cmd": [{"name": "flush", "dest": [{"extension": "avatar"}, {"extension": "tts"}]}],
            }
        )
    return {"nodes": nodes, "connections": connections}


def sink_metrics(records) -> list[dict]:
    return [m.properties for m in records.node("sink").received_of("data", "metrics")]


def test_tts_audio_flows_through_the_avatar_to_the_sink_exactly(make_extension):
    avatar = make_extension("echo_avatar", ECHO_AVATAR, api=ECHO_API)
    tts = {
        "session_id": "s-1",
        "pace": 0,
        "pause_ms": 50,
        "utterances": [
            {
                "request_id": "r1",
                "turn_id": 1,
                "pcm_file": str(SPEECH_24K),
                "offset_ms": 1000,
                "max_ms": 300,
                "sample_rate": 24000,
                "channels": 1,
                "frame_ms": 20,
                "odd_frames": True,
            },
            {
                "request_id": "r2",
                "turn_id": 2,
                "tone_hz": 440,
                "duration_ms": 200,
                "sample_rate": 16000,
                "channels": 2,
                "frame_ms": 10,
                "end_reason": 3,
            },
        ],
    }
    outcome = run_graph_until(echo_graph(avatar, tts), lambda r: len(sink_metrics(r)) == 2)
    assert outcome.error is None and outcome.satisfied

    expected = {
        0: load_pcm(SPEECH_24K, 24000, 1000, 300),
        1: to_channels(sine_pcm(16000, 200, 440), 2),
    }
    frames = registry.node("sink").received_of("audio_frame", "pcm_frame")
    sent = registry.node("tts").sent_frames
    assert len(frames) == len(sent)
    for utterance, pcm in expected.items():
        mine = [f for f in frames if f.properties["metadata"]["utterance"] == utterance]
        assert b"".join(f.buf for f in mine) == pcm
        assert [len(f.buf) for f in mine] == list(
            frame_sizes(len(pcm), 960 if utterance == 0 else 640, odd=utterance == 0)
        )
    first = frames[0]
    assert (first.sample_rate, first.number_of_channels, first.bytes_per_sample) == (24000, 1, 2)
    assert len(first.buf) % 2 == 1  # odd frames arrive as sent
    assert first.samples_per_channel == len(first.buf) // 2
    assert first.properties["metadata"]["session_id"] == "s-1"
    assert first.properties["metadata"]["sent_at"] == sent[0].sent_at
    assert first.source == "avatar"
    stereo = next(f for f in frames if f.properties["metadata"]["utterance"] == 1)
    assert (stereo.sample_rate, stereo.number_of_channels) == (16000, 2)
    assert [
        (m["id"], m["metrics"]["reason"], m["metrics"]["audio_ms"]) for m in sink_metrics(registry)
    ] == [("r1", 1, 300), ("r2", 3, 200)]
    assert [d.name for d in registry.node("tts").sent_data] == [
        "tts_audio_start",
        "tts_audio_end",
        "tts_audio_start",
        "tts_audio_end",
    ]
    assert standin.undeclared_messages(standin.last_run(), avatar) == []


def test_main_control_flush_interrupts_the_tts_and_reaches_the_sink(make_extension):
    avatar = make_extension("echo_flush", ECHO_AVATAR, api=ECHO_API)
    tts = {
        "pace": 1.0,
        "utterances": [
            {"request_id": "long", "tone_hz": 300, "duration_ms": 10000, "sample_rate": 24000}
        ],
    }
    main = {"flush_after_tts_frames": {"tts": "tts", "utterance": 0, "frames": 5}}
    outcome = run_graph_until(
        echo_graph(avatar, tts, main),
        lambda r: len(sink_metrics(r)) == 1 and bool(r.node("main").cmd_results),
    )
    assert outcome.error is None and outcome.satisfied
    assert registry.node("main").cmd_results[0][:2] == ("flush", 0)
    assert len(registry.node("sink").received_of("cmd", "flush")) == 1
    (metrics,) = sink_metrics(registry)
    assert metrics["metrics"]["reason"] == 2  # interrupted
    assert metrics["metrics"]["audio_ms"] < 10000
    assert registry.node("tts").frames_sent_in(0) >= 5
    assert registry.node("main").events["flush_sent"] > registry.node("tts").sent_frames[4].sent_at


def test_tts_pace_follows_an_absolute_schedule(make_extension):
    avatar = make_extension("echo_pace", ECHO_AVATAR, api=ECHO_API)
    tts = {
        "pace": 2.0,
        "pause_ms": 100,
        "utterances": [
            {"tone_hz": 300, "duration_ms": 200, "sample_rate": 16000, "frame_ms": 20},
            {"tone_hz": 300, "duration_ms": 200, "sample_rate": 16000, "frame_ms": 20},
        ],
    }
    outcome = run_graph_until(echo_graph(avatar, tts), lambda r: len(sink_metrics(r)) == 2)
    assert outcome.error is None
    sent = registry.node("tts").sent_frames
    assert len(sent) == 20
    due = np.array([f.due_at for f in sent]) - sent[0].due_at
    # at pace 2: 10 ms of schedule per 20 ms frame, plus 50 ms for the pause
    expected = np.array([i * 0.010 for i in range(10)] + [0.150 + i * 0.010 for i in range(10)])
    assert np.allclose(due, expected, atol=1e-6)
    assert all(f.sent_at >= f.due_at for f in sent)  # never early


def test_run_graph_until_reports_a_timeout(make_extension):
    avatar = make_extension("echo_timeout", ECHO_AVATAR, api=ECHO_API)
    tts = {"pace": 0, "utterances": [{"tone_hz": 300, "duration_ms": 40, "sample_rate": 16000}]}
    outcome = run_graph_until(echo_graph(avatar, tts), lambda r: False, timeout_s=0.3)
    assert not outcome.satisfied and outcome.error.error_code() == 8


def test_run_graph_until_refuses_a_graph_without_the_tester_node_instead_of_hanging():
    graph = echo_graph("fake_sink", {"utterances": []})
    graph["nodes"] = [n for n in graph["nodes"] if n["name"] != standin.TESTER_NODE]
    with pytest.raises(ValueError, match="does not list the tester's node"):
        run_graph_until(graph, lambda r: True, timeout_s=1)
    with pytest.raises(ValueError, match="does not list the tester's node"):
        run_graph_until(json.dumps(graph), lambda r: True, timeout_s=1)
    assert standin.active_runs() == []  # refused before anything started
