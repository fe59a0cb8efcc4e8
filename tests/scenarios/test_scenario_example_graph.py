"""The shipped examples/graph.json, run in the fake graph: its wiring works end to end.

The graph's own routes are kept (rewritten in the forward form, route for route); only the
nodes around the avatar are replaced by the
fake graph's scripted peers (a TTS playing real speech, a main_control that barges in,
sinks), the avatar points at the emulator, and the tester's own node is added (the TEN
tester runs a graph as given and never starts without it; a user's graph has no such node).
"""

from __future__ import annotations

import json
from pathlib import Path

import fake_graph  # noqa: F401  (registers fake_tts, fake_main_control, fake_sink)
from fake_graph import run_graph_until, the_tester_node
from fake_graph.forward_form import forward_form
from spatius_avatar_python.cli.wiring import forward_routes
from speech_fixtures import fixture_path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "graph.json"


def example_in_fake_graph(emulator_props: dict, speech_file: Path) -> dict:
    graph = json.loads(EXAMPLE.read_text())
    for node in graph["nodes"]:
        name = node["name"]
        if name == "avatar":
            params = {**node["property"]["params"], **emulator_props["params"]}
            node["property"] = {**node["property"], **emulator_props, "params": params}
            node["property"]["channel"] = (
                ""  # the playground would inject it; params.agora_channel is used
            )
        elif name == "tts":
            node["addon"] = "fake_tts"
            node["property"] = {
                "session_id": "graph-test",
                "pace": 4.0,
                "pause_ms": 200,
                # The agent speaks once the avatar's session is ready (its first metrics reach
                # main_control): the barge-in below is scripted on what the TTS sent, and a
                # connect slower than the first utterance (a loaded machine) would otherwise
                # leave everything queued for the flush to drop, nothing to interrupt.
                "start_after_received": {"node": "main_control", "data": "metrics"},
                "utterances": [
                    {
                        "request_id": "r1",
                        "turn_id": 1,
                        "pcm_file": str(speech_file),
                        "max_ms": 1500,
                        "sample_rate": 24000,
                    },
                    # Long, so that it is still being sent when the flush comes round, however
                    # slowly (a loaded machine): the barge-in must find turn 2 unended.
                    {
                        "request_id": "r2",
                        "turn_id": 2,
                        "pcm_file": str(speech_file),
                        "offset_ms": 2000,
                        "max_ms": 8000,
                        "sample_rate": 24000,
                    },
                    {
                        "request_id": "r3",
                        "turn_id": 3,
                        "pcm_file": str(speech_file),
                        "offset_ms": 6000,
                        "max_ms": 1000,
                        "sample_rate": 24000,
                    },
                ],
            }
        elif name == "main_control":
            node["addon"] = "fake_main_control"
            node["property"] = {
                "flush_after_tts_frames": {"tts": "tts", "utterance": 1, "frames": 40}
            }
        else:
            node["addon"] = "fake_sink"
            node["property"] = {}
    graph["nodes"].append(the_tester_node())  # it only watches the records: no routes to it
    # The example mixes `source` items and `names` lists; written in the forward form every
    # runtime routes (a build without TEN's Rust part routes no other), route for route.
    flat = forward_form(graph)
    assert forward_routes(flat) == forward_routes(graph)
    return flat


def test_example_graph_wiring_carries_speech_barge_in_and_reports(
    emulator, emulator_props, sdk_telemetry_off
):
    speech_file = fixture_path(24000)  # FLAC: the scripted TTS decodes it
    graph = example_in_fake_graph(emulator_props, speech_file)

    def done(records) -> bool:
        connections = emulator.recording.connections
        return (
            bool(connections)
            and sum(r.ended for r in connections[0].requests) >= 2
            and bool(connections[0].interrupts)
        )

    outcome = run_graph_until(graph, done, timeout_s=60)
    assert outcome.error is None and outcome.satisfied
    connection = emulator.recording.connections[0]
    first, second, third = connection.requests
    assert first.ended and third.ended
    assert second.interrupt is not None and not second.ended  # the barge-in hit turn 2
    assert connection.audio_format == "ogg_opus"  # as the example configures
    assert abs(first.duration_s - 1.5) < 0.03
    # main_control heard the avatar's metrics (written in the example's `source` form), and
    # agora_rtc heard the flush the avatar passed on (its `dest` form).
    main_control = outcome.records.node("main_control")
    assert any(item.name == "metrics" for item in main_control.received)
    assert any(item.name == "flush" for item in outcome.records.node("agora_rtc").received)
