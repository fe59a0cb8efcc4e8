"""`python -m spatius_avatar_python check`: the shipped examples pass, each broken file fails
with its own message, secrets never show, and the schema check degrades gracefully."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spatius_avatar_python.cli import main
from spatius_avatar_python.cli.paths import schema_dir

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
BROKEN = Path(__file__).resolve().parent / "broken"
HAVE_SCHEMAS = (schema_dir() or Path("/nonexistent")).joinpath("property.schema.json").is_file()

SECRET_API_KEY = "sk-live-7f3a9c0e51d24b6b"
ENV = {
    "SPATIUS_API_KEY": SECRET_API_KEY,
    "SPATIUS_APP_ID": "app-test",
    "SPATIUS_AVATAR_ID": "avatar-test",
    "AGORA_APP_ID": "0123456789abcdef0123456789abcdef",
    "AGORA_APP_CERTIFICATE": "fedcba9876543210fedcba9876543210",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("SPATIUS_APP_ID_TYPO", "SPATIUS_SESSION_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    return ENV


def run_check(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, list[str]]:
    code = main(["check", *map(str, args)])
    return code, capsys.readouterr().out.splitlines()


def errors(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("ERROR ")]


@pytest.mark.parametrize("name", ["graph.json", "property.json", "convoai_avatar.json"])
def test_shipped_examples_pass(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, lines = run_check(capsys, EXAMPLES / name)
    assert code == 0, "\n".join(lines)
    assert not errors(lines) and not [line for line in lines if line.startswith("WARN ")]
    assert lines[-1].startswith(f"OK {EXAMPLES / name}: 0 problem(s), 0 warning(s)")
    if HAVE_SCHEMAS and name != "convoai_avatar.json":
        assert "TEN schemas" in lines[-1]
    elif not HAVE_SCHEMAS:  # a clone alone: the note says where the schema files are
        assert any(
            line.startswith("NOTE TEN schema check skipped: ")
            and "core/src/ten_rust/src/json_schema/data/" in line
            for line in lines
        )


def test_examples_show_the_same_avatar() -> None:
    graph = json.loads((EXAMPLES / "graph.json").read_text())
    app = json.loads((EXAMPLES / "property.json").read_text())
    convo = json.loads((EXAMPLES / "convoai_avatar.json").read_text())
    assert app["ten"]["predefined_graphs"][0]["graph"] == graph
    node = next(n for n in graph["nodes"] if n["addon"] == "spatius_avatar_python")
    avatar = convo["properties"]["avatar"]
    assert avatar["vendor"] == "spatius"
    assert avatar["params"] == {
        **node["property"]["params"],
        "agora_channel": node["property"]["channel"],
    }


# One mistake per file, and the message that must name it.
BROKEN_CASES = {
    "string_sample_rate.json": "avatar.params.sample_rate: is a JSON string but manifest.json declares int32; "
    "the TEN runtime does not convert property types and aborts the app at start",
    "env_placeholder_in_int.json": "(the value comes from an ${env:...} placeholder, which always gives a string)",
    "out_of_range_int.json": "avatar.max_buffered_audio_ms: 4294967296 is out of the int32 range",
    "bool_as_string.json": "dump: is a JSON string but manifest.json declares bool",
    "uid_zero.json": "params.agora_uid: '0' is not a non-zero 32-bit unsigned integer",
    # The fix extends the graph's own flush route of main_control instead of proposing a new block.
    "no_flush_route.json": "cmd flush is not routed to the avatar: when the user interrupts, the avatar keeps "
    'speaking. Fix: route flush to it: in the connection of main_control, add {"extension": "avatar"} to the dest '
    'of its cmd flush route: {"name": "flush", "dest": [{"extension": "llm"}, {"extension": "tts"}, {"extension": "avatar"}]}',
    "no_pcm_route.json": "no audio_frame pcm_frame is routed to the avatar",
    "no_end_of_speech_route.json": "neither data tts_audio_end nor finalize is routed to the avatar",
    "tts_audio_to_agora_rtc.json": "ERROR tts -> agora_rtc wiring: the TTS audio (pcm_frame from tts) goes to both "
    "avatar and the agora_rtc node agora_rtc: the user hears the voice twice",
    "user_audio_to_avatar.json": "pcm_frame from agora_rtc (agora_rtc: the user's microphone) is routed to the avatar",
    "uid_equals_agent_stream_id.json": "avatar.params.agora_uid: 1234 is also agora_rtc's stream_id (the agent's UID)",
    "uid_equals_user_uid.json": "avatar.params.agora_uid: 123 is also agora_rtc's remote_stream_id (the user's UID)",
    "no_token_no_cert.json": "params.agora_token: neither an Agora token nor an app certificate is set",
    "opus_44100.json": "params.sample_rate: 44100 Hz is not supported with ogg_opus",
    "bad_audio_format.json": "params.audio_format: 'mp3' is not one of ogg_opus, pcm_s16le",
    "one_endpoint_url.json": "ingress_endpoint_url: only one of console_endpoint_url and ingress_endpoint_url is set",
    "unknown_env_var.json": "avatar.params.spatius_app_id: ${env:SPATIUS_APP_ID_TYPO} names an environment variable "
    "that is not set and has no fallback: the TEN app logs an error and exits at start",
    "convoai_wrong_vendor.json": "properties.avatar.vendor: is 'spatial', not \"spatius\"",
    "node_without_addon.json": "/nodes/3 (tts): 'addon' is a required property (TEN graph schema)",
    "app_graph_name_with_dash.json": "/ten/predefined_graphs/0/name: 'voice-assistant' does not match",
    # A region that cannot be one: the valid ones are named.
    "region_underscore.json": "avatar.params.region: 'us_west' is not a Spatius region name. Fix: use \"auto\" "
    '(Spatius picks the nearest region when a session starts) or one of its regions: "us-west", '
    '"ap-northeast", "cn-beijing"',
    # The avatar's token would be for another Agora project than the one the user's client joins.
    "appid_differs_from_rtc.json": "avatar.params.agora_appid: is '00112233445566778899aabbccddeeff' but agora_rtc "
    "(agora_rtc) joins the Agora project '0123456789abcdef0123456789abcdef': the avatar would publish into another "
    "Agora project, where the user's client never sees it. Fix: use agora_rtc's Agora project: write "
    '"${env:AGORA_APP_ID|}" there, as agora_rtc does',
    "two_avatars_one_uid.json": "avatar_2.params.agora_uid: 2001 is also the UID of the avatar node avatar in the same "
    "channel: two publishers with one UID push each other out of the channel, so only one avatar is ever seen. "
    'Fix: give avatar_2 its own UID, e.g. "2002"',
    # A misspelt node is named as such, and the fix replaces the name instead of keeping it.
    "route_to_missing_node.json": "ERROR tts -> avtar wiring: the audio_frame pcm_frame route in the connection of "
    'tts names "avtar" in its dest, which is not a node of this graph, so that route carries nothing (a typo of '
    '"avatar"?). Fix: in the connection of tts, write {"extension": "avatar"} instead of {"extension": "avtar"}',
}
NEEDS_SCHEMAS = {"node_without_addon.json", "app_graph_name_with_dash.json"}


def test_every_broken_file_has_a_case() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.json")) == sorted(BROKEN_CASES)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.ten_schemas) if name in NEEDS_SCHEMAS else name
        for name in sorted(BROKEN_CASES)
    ],
)
def test_broken_file_fails_with_its_own_message(
    env: dict[str, str], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    code, lines = run_check(capsys, BROKEN / name)
    assert code == 1
    found = errors(lines)
    assert len(found) == 1, "\n".join(lines)  # one mistake, one problem: no noise
    assert BROKEN_CASES[name] in found[0]
    assert ". Fix: " in found[0]
    assert lines[-1].startswith(f"FAILED {BROKEN / name}: 1 problem(s)")


def test_unset_secret_names_the_variable_to_set(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SPATIUS_API_KEY")
    code, lines = run_check(capsys, EXAMPLES / "graph.json")
    assert code == 1
    assert errors(lines) == [
        "ERROR avatar.params.spatius_api_key: missing Spatius API key. Fix: set the environment variable "
        "SPATIUS_API_KEY (params.spatius_api_key reads ${env:SPATIUS_API_KEY|} and SPATIUS_API_KEY is not set)"
    ]


def test_env_file_supplies_the_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    env_file = tmp_path / ".env"
    lines = ["# the app's .env", *(f"{k}={v}" for k, v in ENV.items())]
    env_file.write_text("\n".join(lines).replace("AGORA_APP_ID=", "export AGORA_APP_ID=") + "\n")
    code, out = run_check(capsys, EXAMPLES / "graph.json", "--env-file", env_file)
    assert code == 0, "\n".join(out)


def test_secret_values_are_masked(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy-paste slip puts the API key's placeholder on agora_uid, whose error echoes the value.
    graph = json.loads((EXAMPLES / "graph.json").read_text())
    avatar = next(n for n in graph["nodes"] if n["name"] == "avatar")
    avatar["property"]["params"]["agora_uid"] = "${env:SPATIUS_API_KEY|}"
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(graph))
    code, lines = run_check(capsys, path)
    assert code == 1
    assert any(line.startswith("ERROR avatar.params.agora_uid: '****' is not") for line in lines), (
        "\n".join(lines)
    )
    assert SECRET_API_KEY not in "\n".join(lines)


def test_without_schemas_the_schema_check_is_skipped_and_the_rest_runs(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, BROKEN / "opus_44100.json", "--schema-dir", tmp_path / "absent")
    assert code == 1
    assert any(line.startswith("NOTE TEN schema check skipped: ") for line in lines)
    assert "44100 Hz is not supported with ogg_opus" in errors(lines)[0]


def test_graph_option_refuses_a_property_file(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, "--graph", BROKEN / "uid_zero.json")
    assert code == 1
    assert "no graph found" in errors(lines)[0]


def test_node_option_names_the_avatar(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, "--graph", EXAMPLES / "graph.json", "--node", "missing_node")
    assert code == 1
    assert "no avatar node named 'missing_node' in the graph" in errors(lines)[0]


def test_unreadable_input_is_a_clear_problem(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, lines = run_check(capsys, bad)
    assert code == 1
    assert "is not valid JSON" in errors(lines)[0]


def test_help_describes_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--property", "--graph", "--node", "--env-file", "--schema-dir"):
        assert option in text


def test_runs_as_a_module(tmp_path: Path) -> None:
    environ = {**os.environ, **ENV}
    command = [sys.executable, "-m", "spatius_avatar_python", "check"]
    good = subprocess.run(
        [*command, "examples/graph.json"],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith("OK examples/graph.json")
    bad = subprocess.run(
        [*command, str(BROKEN / "uid_zero.json")],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1
    assert "params.agora_uid: '0' is not a non-zero 32-bit unsigned integer" in bad.stdout


def test_the_cli_is_the_inner_package_and_needs_no_ten_runtime(tmp_path: Path) -> None:
    # The extension's own __init__.py imports addon.py and so ten_runtime; the CLI is the
    # inner package `spatius_avatar_python/` and must run where no TEN runtime is installed.
    probe = (
        "import importlib.util, runpy, sys\n"
        "assert importlib.util.find_spec('ten_runtime') is None, 'ten_runtime is importable here'\n"
        "sys.argv = ['spatius_avatar_python', 'check', 'examples/graph.json']\n"
        "runpy.run_module('spatius_avatar_python', run_name='__main__')\n"
    )
    environ = {key: value for key, value in {**os.environ, **ENV}.items() if key != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("OK examples/graph.json")
    assert "ten_runtime" not in done.stderr
