"""`check` on graphs as the TEN agent's playground writes them (the project's own graphs in
tests/cli/graphs/, modelled on a voice-assistant app: agora_rtc, stt, llm, tts,
main_control, message_collector, avatar): the injected channel, leftovers of an avatar
vendor swap, secrets written in as they are, another vendor's avatar node, and fixes that
use the graph's own values and blocks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spatius_avatar_python.cli import main

GRAPHS = Path(__file__).resolve().parent / "graphs"
ENV = {
    "SPATIUS_API_KEY": "sk-live-playground-0042",
    "SPATIUS_APP_ID": "app-test",
    "SPATIUS_AVATAR_ID": "avatar-test",
    "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
    "AGORA_APP_CERTIFICATE": "fedcba9876543210fedcba9876543210",
}


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)


def run_check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    code = main(["check", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


def of(level: str, lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith(level + " ")]


def test_an_empty_channel_the_server_injects_is_a_note(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_check(capsys, GRAPHS / "playground_property.json")
    assert code == 0, "\n".join(lines)
    assert of("ERROR", lines) == [] and of("WARN", lines) == []
    (note,) = [line for line in lines if "channel" in line and line.startswith("NOTE ")]
    assert note.startswith(
        'NOTE voice_assistant_avatar/avatar.channel is "": the TEN agent server fills in'
    )
    assert "--channel NAME" in note
    assert lines[-1].startswith("OK ") and "node voice_assistant_avatar/avatar" in lines[-1]


def test_channel_option_checks_as_if_the_server_injected_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, lines = run_check(capsys, GRAPHS / "playground_property.json", "--channel", "room_7")
    assert code == 0, "\n".join(lines)
    assert (
        "NOTE voice_assistant_avatar/avatar.channel: checked with the channel 'room_7' injected"
        in "\n".join(lines)
    )
    assert not any('is "": the TEN agent server' in line for line in lines)
    # The injected value is really used, on every node with a channel key: fixed values
    # that disagree without it agree with it.
    app = json.loads((GRAPHS / "playground_property.json").read_text())
    graph = app["ten"]["predefined_graphs"][0]["graph"]
    nodes = {n["name"]: n for n in graph["nodes"]}
    nodes["agora_rtc"]["property"]["channel"] = "fixed_room"
    nodes["avatar"]["property"]["params"]["agora_channel"] = "lobby"
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    assert (
        code == 0
        and "publishes into channel 'lobby' but agora_rtc joins 'fixed_room'"
        in of("WARN", lines)[0]
    )
    code, lines = run_check(capsys, path, "--channel", "room_7")
    assert code == 0 and not of("WARN", lines), "\n".join(lines)


def test_without_a_channel_key_nothing_is_injected_and_the_fix_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = run_check(capsys, GRAPHS / "no_channel_key.json")
    assert code == 1
    assert of("ERROR", lines) == [
        "ERROR avatar.params.agora_channel: missing Agora channel. Fix: set params.agora_channel, or add "
        '"channel": "" to the avatar node\'s property so that the TEN agent server injects each session\'s channel at start'
    ]
    code, lines = run_check(capsys, GRAPHS / "no_channel_key.json", "--channel", "room_7")
    assert code == 1  # --channel injects only where the server would


def test_a_fixed_avatar_channel_beside_an_injected_agora_rtc_is_a_warning(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads((GRAPHS / "no_channel_key.json").read_text())
    avatar = next(n for n in graph["nodes"] if n["name"] == "avatar")
    avatar["property"]["params"]["agora_channel"] = "lobby"
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    assert code == 0
    (warn,) = of("WARN", lines)
    assert "puts agora_rtc into each session's own channel" in warn and "'lobby'" in warn
    assert warn.endswith(
        'Fix: add "channel": "" to the property of avatar: the server then injects the session\'s channel there too'
    )


def test_leftovers_of_a_vendor_swap_are_named_with_where_to_remove_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = run_check(capsys, GRAPHS / "vendor_swap_leftovers.json")
    warns = of("WARN", lines)
    assert code == 0 and len(warns) == 3, "\n".join(lines)
    pcm, text, video = warns
    assert pcm.startswith(
        "WARN avatar -> agora_rtc wiring: the avatar never sends audio_frame pcm_frame"
    )
    assert (
        'remove the audio_frame item {"name": "pcm_frame", "dest": [{"extension": "agora_rtc"}]} from the connection of avatar'
        in pcm
    )
    assert text.startswith(
        "WARN main_control -> avatar wiring: main_control sends data tts_text_input to the avatar, "
        "which does not take it"
    )
    assert "send the text to the TTS node" in text
    assert (
        'remove the data item {"name": "tts_text_input", "dest": [{"extension": "avatar"}]} from the connection of main_control'
        in text
    )
    assert video.startswith(
        "WARN avatar -> agora_rtc wiring: the avatar never sends video_frame video_frame"
    )
    assert "a Spatius avatar sends no video" in video


def test_a_leftover_in_a_shared_item_is_taken_out_of_it_not_the_whole_item_removed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads((GRAPHS / "playground_property.json").read_text())["ten"][
        "predefined_graphs"
    ][0]["graph"]
    tts = next(c for c in graph["connections"] if c["extension"] == "tts")
    tts["data"] = [
        {
            "names": ["tts_audio_start", "tts_audio_end", "tts_text_result"],
            "dest": [{"extension": "main_control"}, {"extension": "avatar"}],
        }
    ]
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    (warn,) = of("WARN", lines)
    assert warn.startswith(
        "WARN tts -> avatar wiring: tts sends data tts_text_result to the avatar"
    )
    assert 'route "tts_text_result" in an item of its own without {"extension": "avatar"}' in warn


def test_declared_messages_raise_no_warning() -> None:
    manifest = json.loads((Path(__file__).resolve().parents[2] / "manifest.json").read_text())
    graph = json.loads((GRAPHS / "playground_property.json").read_text())["ten"][
        "predefined_graphs"
    ][0]["graph"]
    from spatius_avatar_python.cli.wiring import forward_routes

    routes = [r for r in forward_routes(graph) if "avatar" in (r.src, r.dst)]
    declared = {
        f"{k}": {i["name"] for i in v} for k, v in manifest["api"].items() if k != "property"
    }
    assert routes and all(
        r.name in declared[f"{r.kind}_{'in' if r.dst == 'avatar' else 'out'}"] for r in routes
    )


def test_secrets_written_into_the_graph_are_warned_and_never_shown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, lines = run_check(capsys, GRAPHS / "inline_secrets.json")
    text = "\n".join(lines)
    assert code == 0
    assert "sk_live_4f9d2c7a1b8e6053" not in text and "sk-proj-Zq81LmA0vT7c" not in text
    assert sorted(of("WARN", lines)) == [
        "WARN avatar.params.spatius_api_key: a secret is written into the file as it is: whoever reads the file, "
        'or its history, has it. Fix: write "${env:SPATIUS_API_KEY|}" instead and set SPATIUS_API_KEY in the '
        "environment (or the app's .env)",
        "WARN llm.api_key: a secret is written into the file as it is: whoever reads the file, or its history, has it. "
        'Fix: write "${env:NAME|}" instead, with NAME an environment variable of your choice, and set it in the '
        "environment (or the app's .env)",
    ]
    # Counts, ids and placeholders are not secrets (max_tokens, app_id, ${env:...}).
    assert not any("max_tokens" in line or ".app_id" in line for line in lines)


def test_a_secret_in_a_property_file_is_warned_too(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "avatar_property.json"
    path.write_text(
        json.dumps(
            {
                "channel": "room",
                "params": {"agora_token": "007eJxTYLiQ-token-literal", "agora_uid": "3001"},
            }
        )
    )
    code, lines = run_check(capsys, "--property", path)
    assert code == 0, "\n".join(lines)
    (warn,) = of("WARN", lines)
    assert warn.startswith("WARN params.agora_token: a secret is written into the file as it is")
    assert "007eJxTYLiQ-token-literal" not in "\n".join(lines)


def test_another_vendors_avatar_is_named_not_validated(capsys: pytest.CaptureFixture[str]) -> None:
    code, lines = run_check(capsys, GRAPHS / "other_vendor_avatar.json")
    assert code == 1
    (problem,) = of("ERROR", lines)
    assert "the avatar nodes here are another vendor's: avatar (heygen_avatar_python)" in problem
    assert 'set "addon": "spatius_avatar_python" on the avatar node' in problem
    code, lines = run_check(capsys, GRAPHS / "other_vendor_avatar.json", "--node", "avatar")
    assert code == 1
    assert of("ERROR", lines) == [
        "ERROR avatar: uses addon 'heygen_avatar_python', not spatius_avatar_python: check validates Spatius avatar "
        'nodes only. Fix: to swap the avatar vendor, set "addon": "spatius_avatar_python" on it and give it the '
        "Spatius property (see examples/graph.json), then check again"
    ]


def test_type_fixes_use_the_users_own_values(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads((GRAPHS / "playground_property.json").read_text())["ten"][
        "predefined_graphs"
    ][0]["graph"]
    avatar = next(n for n in graph["nodes"] if n["name"] == "avatar")
    avatar["property"]["params"].update(agora_uid=3001, sample_rate="16000")
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    assert code == 1
    uid, rate = of("ERROR", lines)
    assert uid.endswith('Fix: write params.agora_uid in quotes as a JSON string: "3001"')
    assert "Fix: write params.sample_rate as a JSON number without quotes, e.g. 16000 " in rate


def test_route_fixes_extend_the_graphs_own_blocks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads((GRAPHS / "playground_property.json").read_text())["ten"][
        "predefined_graphs"
    ][0]["graph"]
    tts = next(c for c in graph["connections"] if c["extension"] == "tts")
    tts["data"] = [
        {"names": ["tts_audio_start", "tts_audio_end"], "dest": [{"extension": "main_control"}]}
    ]
    del tts["audio_frame"]
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    assert code == 1
    audio, end = of("ERROR", lines)
    assert audio.endswith(
        "Fix: route the TTS node's pcm_frame to it: in the connection of tts, add to its "
        '"audio_frame" list: {"name": "pcm_frame", "dest": [{"extension": "avatar"}]}'
    )
    assert end.endswith(
        'in the connection of tts, add {"extension": "avatar"} to the dest of its data tts_audio_end '
        'route: {"names": ["tts_audio_start", "tts_audio_end"], "dest": [{"extension": "main_control"}, '
        '{"extension": "avatar"}]}'
    )


def test_unrouted_errors_and_metrics_are_worded_right(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    graph = json.loads((GRAPHS / "playground_property.json").read_text())["ten"][
        "predefined_graphs"
    ][0]["graph"]
    main_control = next(c for c in graph["connections"] if c["extension"] == "main_control")
    main_control["data"] = [
        d for d in main_control["data"] if d.get("names") != ["error", "metrics"]
    ]
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    errors_line, metrics_line = of("WARN", lines)
    assert "the avatar's data error goes nowhere, so its errors are lost" in errors_line
    assert "the avatar's data metrics goes nowhere, so its metrics are lost" in metrics_line
    assert (
        'in the connection of avatar, add to its "data" list: {"name": "error", "dest": [{"extension": "main_control"}]}'
        in errors_line
    )
