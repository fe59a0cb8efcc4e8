"""`check` for a graph author adopting this extension: a configuration written for upstream
TEN's spatius_avatar_python gets a precise migration message per property, regions are
checked, a missing tts_audio_start route is noted, the env var names suggested for secrets
are only names already in use, and params.extra_params is checked and reaches Spatius."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from spatius_avatar_python.cli import main

REPO = Path(__file__).resolve().parents[2]
GRAPH = json.loads((REPO / "examples" / "graph.json").read_text())
ENV = {
    "SPATIUS_API_KEY": "sk-adopt-0042",
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


def node(graph: dict, name: str) -> dict:
    return next(n for n in graph["nodes"] if n["name"] == name)


def write(tmp_path: Path, document: dict, name: str = "graph.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


# What upstream TEN's spatius_avatar_python reads at the top level of its property: its
# manifest declares these at the top level (dump, dump_path and channel mean the same here)...
UPSTREAM_MANIFEST_TOP_LEVEL = [
    "dump",
    "dump_path",
    "channel",
    "agora_uid",
    "agora_token",
    "agora_appid",
    "agora_appcert",
    "agora_channel",
]
# ...and its config dataclass takes these at the top level too (then params override them).
UPSTREAM_CONFIG_TOP_LEVEL = [
    "spatius_api_key",
    "spatius_app_id",
    "spatius_avatar_id",
    "region",
    "sample_rate",
    "session_expire_minutes",
    "audio_format",
]
SAME_HERE = {"dump", "dump_path", "channel"}


def test_an_upstream_style_property_gets_a_migration_message_for_every_property(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An upstream user's avatar property: everything at the top level, as upstream reads it.
    values = {
        "dump": False,
        "dump_path": "",
        "channel": "room",
        "agora_uid": "2001",
        "agora_token": "",
        "agora_appid": "${env:AGORA_APP_ID|}",
        "agora_appcert": "${env:AGORA_APP_CERTIFICATE|}",
        "agora_channel": "room",
        "spatius_api_key": "${env:SPATIUS_API_KEY|}",
        "spatius_app_id": "${env:SPATIUS_APP_ID|}",
        "spatius_avatar_id": "${env:SPATIUS_AVATAR_ID|}",
        "region": "us-west",
        "sample_rate": 16000,
        "session_expire_minutes": 20,
        "audio_format": "pcm_s16le",
    }
    assert sorted(values) == sorted(UPSTREAM_MANIFEST_TOP_LEVEL + UPSTREAM_CONFIG_TOP_LEVEL)
    path = write(tmp_path, {**values, "params": {}}, "avatar_property.json")
    code, lines = run_check(capsys, "--property", path)
    text = "\n".join(lines)
    moved = [key for key in values if key not in SAME_HERE]
    for key in moved:
        (line,) = [line for line in lines if line.startswith(f"WARN {key}: ")]
        assert line == (
            f"WARN {key}: is where upstream TEN's spatius_avatar_python reads {key}; this extension reads "
            f"params.{key} and ignores a top-level one. Fix: move it under params (as params.{key})"
        )
    for key in SAME_HERE:
        assert not any(line.startswith(f"WARN {key}:") for line in lines), text
    assert "a typo?" not in text
    # What is required here but only set at the top level: the error says to move it.
    assert code == 1
    (uid_error,) = [
        line for line in of("ERROR", lines) if line.startswith("ERROR params.agora_uid:")
    ]
    assert uid_error.endswith("Fix: move the top-level agora_uid under params")
    # Moved under params, the same values pass.
    path.write_text(
        json.dumps(
            {k: v for k, v in values.items() if k in SAME_HERE}
            | {"params": {k: v for k, v in values.items() if k not in SAME_HERE}}
        )
    )
    code, lines = run_check(capsys, "--property", path)
    assert code == 0 and not of("WARN", lines), "\n".join(lines)


@pytest.mark.parametrize("region", ["us-west", "ap-northeast", "cn-beijing", "auto"])
def test_documented_regions_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], region: str
) -> None:
    graph = copy.deepcopy(GRAPH)
    node(graph, "avatar")["property"]["params"]["region"] = region
    code, lines = run_check(capsys, write(tmp_path, graph))
    assert code == 0 and not of("WARN", lines), "\n".join(lines)


def test_an_undocumented_region_is_a_warning_naming_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = copy.deepcopy(GRAPH)
    node(graph, "avatar")["property"]["params"]["region"] = "eu-central"
    code, lines = run_check(capsys, write(tmp_path, graph))
    assert code == 0
    (warn,) = of("WARN", lines)
    assert warn.startswith(
        "WARN avatar.params.region: 'eu-central' is not a region Spatius documents"
    )
    assert '"auto"' in warn and '"us-west"' in warn


def test_an_unrouted_tts_audio_start_is_a_note_with_the_route_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    graph = copy.deepcopy(GRAPH)
    tts = next(c for c in graph["connections"] if c["extension"] == "tts")
    tts["data"] = [
        {"name": "tts_audio_end", "dest": [{"extension": "main_control"}, {"extension": "avatar"}]}
    ]
    code, lines = run_check(capsys, write(tmp_path, graph))
    assert code == 0 and not of("ERROR", lines) and not of("WARN", lines), "\n".join(lines)
    (note,) = [line for line in lines if line.startswith("NOTE avatar wiring:")]
    assert "data tts_audio_start is not routed to the avatar" in note
    assert note.endswith(
        'Fix: route tts_audio_start from the TTS node: in the connection of tts, add to its "data" '
        'list: {"name": "tts_audio_start", "dest": [{"extension": "avatar"}]}'
    )
    assert lines[-1].startswith("OK ") and "0 warning(s)" in lines[-1]
    # Routed (as the example does): no note.
    code, lines = run_check(capsys, REPO / "examples" / "graph.json")
    assert not [line for line in lines if line.startswith("NOTE avatar wiring:")]


def literal_secret_graph() -> dict:
    graph = copy.deepcopy(GRAPH)
    node(graph, "tts")["property"]["params"]["key"] = "el-literal-0042"  # written in as it is
    node(graph, "agora_rtc")["property"]["app_certificate"] = "cert-literal-0042"
    node(graph, "avatar")["property"]["params"]["agora_token"] = "007-literal-token-0042"
    return graph


def fixes(lines: list[str]) -> dict[str, str]:
    return {
        line.split(":")[0].removeprefix("WARN "): line.split(". Fix: ")[1]
        for line in of("WARN", lines)
    }


YOUR_CHOICE = (
    'write "${env:NAME|}" instead, with NAME an environment variable of your choice, and set it in the '
    "environment (or the app's .env)"
)


def test_no_env_var_name_is_invented_for_a_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(capsys, write(tmp_path, literal_secret_graph()))
    assert code == 0  # warnings only
    assert fixes(lines) == {
        "tts.params.key": YOUR_CHOICE,
        "agora_rtc.app_certificate": YOUR_CHOICE,
        "avatar.params.agora_token": YOUR_CHOICE,
    }
    assert "literal" not in "\n".join(lines)


def test_env_var_names_come_from_the_file_and_the_nodes_own_property_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The app: its property.json with two graphs; the second names the TTS key's variable. The
    # agora_rtc package's own property.json (ten_packages/extension/agora_rtc) names its certificate's.
    other = copy.deepcopy(GRAPH)
    node(other, "tts")["property"]["params"]["key"] = "${env:MY_ELEVENLABS_KEY|}"
    node(other, "agora_rtc")["property"]["app_certificate"] = (
        ""  # the package's own property.json names it
    )
    app = {
        "ten": {
            "predefined_graphs": [
                {"name": "literal", "auto_start": False, "graph": literal_secret_graph()},
                {"name": "placeholders", "auto_start": False, "graph": other},
            ]
        }
    }
    package = tmp_path / "ten_packages" / "extension" / "agora_rtc"
    package.mkdir(parents=True)
    (package / "property.json").write_text(
        json.dumps({"app_certificate": "${env:AGORA_RTC_CERT_FROM_PACKAGE|}"})
    )
    code, lines = run_check(capsys, write(tmp_path, app, "property.json"))
    assert code == 0  # warnings only
    assert fixes(lines) == {
        "literal/tts.params.key": 'write "${env:MY_ELEVENLABS_KEY|}" instead and set MY_ELEVENLABS_KEY in the '
        "environment (or the app's .env)",
        "literal/agora_rtc.app_certificate": 'write "${env:AGORA_RTC_CERT_FROM_PACKAGE|}" instead and set '
        "AGORA_RTC_CERT_FROM_PACKAGE in the environment (or the app's .env)",
        "literal/avatar.params.agora_token": YOUR_CHOICE,
    }


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"level": 3}, "ERROR avatar.params.extra_params.level: must be a string"),
        (
            "a=b",
            "ERROR avatar.params.extra_params: is a JSON string but manifest.json declares object; the TEN runtime "
            "does not convert property types and aborts the app at start",
        ),
    ],
)
def test_extra_params_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra, expected: str
) -> None:
    graph = copy.deepcopy(GRAPH)
    node(graph, "avatar")["property"]["params"]["extra_params"] = extra
    code, lines = run_check(capsys, write(tmp_path, graph))
    assert code == 1
    (problem,) = of("ERROR", lines)
    assert problem.startswith(expected), problem
    node(graph, "avatar")["property"]["params"]["extra_params"] = {"level": "3", "style": "calm"}
    code, lines = run_check(capsys, write(tmp_path, graph))
    assert code == 0 and not of("WARN", lines), "\n".join(lines)


@pytest.mark.parametrize("audio_format", ["ogg_opus", "pcm_s16le"])
def test_extra_params_reach_the_session_configuration(
    emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str], audio_format: str
) -> None:
    props = emulator.extension_properties()
    extra = {"motion_style": "calm", "trace_id": "abc-123"}
    props["params"].update(audio_format=audio_format, extra_params=extra)
    path = write(tmp_path, props, "avatar_property.json")
    speech = tmp_path / "speech.wav"
    sf.write(
        speech, (np.sin(np.arange(24000) / 24000 * 2 * np.pi * 190) * 8000).astype(np.int16), 24000
    )
    code = main(["stream", str(speech), "--property", str(path), "--pace", "20"])
    assert code == 0, capsys.readouterr().out
    (session,) = emulator.recording.sessions
    assert session.configure["extra_params"] == extra
    assert session.audio_format == audio_format


def test_without_extra_params_the_session_configuration_has_none(
    emulator, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, emulator.extension_properties(), "avatar_property.json")
    speech = tmp_path / "speech.wav"
    sf.write(
        speech, (np.sin(np.arange(12000) / 24000 * 2 * np.pi * 190) * 8000).astype(np.int16), 24000
    )
    assert main(["stream", str(speech), "--property", str(path), "--pace", "20"]) == 0, (
        capsys.readouterr().out
    )
    (session,) = emulator.recording.sessions
    assert session.configure["extra_params"] == {}


@pytest.mark.parametrize("props_fixture", ["opus_props", "pcm_props"])
def test_extra_params_reach_the_session_through_the_ten_runtime(
    emulator, request: pytest.FixtureRequest, props_fixture: str
) -> None:
    # The whole path of a graph's property: the runtime hands it to the extension, which
    # validates it and passes the map to the SDK's session configuration.
    from scenario_kit import run_scenario, speech

    props = copy.deepcopy(request.getfixturevalue(props_fixture))
    extra = {"motion_style": "calm", "trace_id": "abc-123"}
    props["params"]["extra_params"] = extra

    async def script(t, env):
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(
            lambda: any(r.ended for c in emulator.recording.connections for r in c.requests),
            what="the request to end",
        )

    run_scenario(props, script)
    (connection,) = emulator.recording.connections
    assert connection.configure["extra_params"] == extra
