"""The configuration model: every problem at once, with its path and its fix."""

import json
from pathlib import Path

import pytest

from spatius_avatar_python.config import ConfigError, load_config, parse_uid

ROOT = Path(__file__).resolve().parents[2]


def valid(**top):
    params = {
        "spatius_api_key": "sk-test-0123456789",
        "spatius_app_id": "app-1",
        "spatius_avatar_id": "avatar-1",
        "agora_appid": "0123456789abcdef0123456789abcdef",
        "agora_appcert": "fedcba9876543210fedcba9876543210",
        "agora_channel": "room",
        "agora_uid": "2001",
    }
    params.update(top.pop("params", {}))
    return {"params": params, **top}


def problems(props):
    with pytest.raises(ConfigError) as info:
        load_config(props)
    return {p.path: p for p in info.value.problems}


def test_defaults_from_property_json_complete_a_minimal_config():
    defaults = json.loads((ROOT / "property.json").read_text())
    merged = json.loads(json.dumps(defaults).replace("${env:", "unused${env:"))
    merged["params"].update(valid()["params"])
    config = load_config(merged)
    assert config.sample_rate == 24000
    assert config.audio_format == "ogg_opus"
    assert config.session_expire_minutes == 30
    assert config.uid == 2001
    assert config.publisher_id == "spatius-avatar-2001"
    assert config.builds_own_token


def test_top_level_channel_overrides_params_channel():
    assert load_config(valid(channel="playground-42")).channel == "playground-42"
    assert load_config(valid(channel="")).channel == "room"


def test_every_problem_is_reported_at_once_with_its_path_and_fix():
    found = problems(
        {"params": {"agora_uid": "0", "sample_rate": 44100, "session_expire_minutes": 0}}
    )
    assert set(found) >= {
        "params.spatius_api_key",
        "params.spatius_app_id",
        "params.spatius_avatar_id",
        "params.agora_channel",
        "params.agora_uid",
        "params.agora_token",
        "params.session_expire_minutes",
        "params.sample_rate",
    }
    assert "SPATIUS_API_KEY" in found["params.spatius_api_key"].fix
    assert (
        "44100" in found["params.sample_rate"].message
        and "ogg_opus" in found["params.sample_rate"].message
    )
    assert "24000" in found["params.sample_rate"].fix


@pytest.mark.parametrize("uid", ["", "0", "-5", "abc", "4294967296", "12.5", " "])
def test_uid_must_be_a_nonzero_uint32_string(uid):
    found = problems(valid(params={"agora_uid": uid}))
    assert "params.agora_uid" in found


def test_uid_parsing():
    assert parse_uid("2001") == 2001
    assert parse_uid(" 4294967295 ") == 4294967295
    assert parse_uid("4294967296") is None
    assert parse_uid("0") is None


def test_numbers_written_as_strings_are_refused_like_the_runtime_would():
    found = problems(valid(params={"sample_rate": "24000"}))
    assert "params.sample_rate" in found
    assert "JSON number" in found["params.sample_rate"].fix


def test_secret_given_as_number_is_a_type_problem():
    found = problems(valid(params={"spatius_api_key": 12345}))
    assert "params.spatius_api_key" in found


def test_token_or_certificate_is_required_and_a_certificate_needs_the_app_id():
    found = problems(valid(params={"agora_appcert": "", "agora_token": ""}))
    assert "params.agora_token" in found
    found = problems(valid(params={"agora_appid": ""}))
    assert "params.agora_appid" in found
    config = load_config(
        valid(params={"agora_appcert": "", "agora_appid": "", "agora_token": "007given"})
    )
    assert not config.builds_own_token


def test_pcm_accepts_rates_opus_refuses():
    assert (
        load_config(valid(params={"audio_format": "pcm_s16le", "sample_rate": 44100})).sample_rate
        == 44100
    )
    assert "params.sample_rate" in problems(
        valid(params={"audio_format": "pcm_s16le", "sample_rate": 12000})
    )
    assert load_config(valid(params={"sample_rate": 12000})).sample_rate == 12000


def test_unknown_audio_format():
    found = problems(valid(params={"audio_format": "mp3"}))
    assert "pcm_s16le" in found["params.audio_format"].fix


def test_endpoints_come_in_pairs_and_must_be_urls():
    found = problems(valid(console_endpoint_url="http://127.0.0.1:1/v1/console"))
    assert "ingress_endpoint_url" in found
    found = problems(valid(console_endpoint_url="127.0.0.1", ingress_endpoint_url="ftp://x"))
    assert {"console_endpoint_url", "ingress_endpoint_url"} <= set(found)


def test_telemetry_switch():
    assert load_config(valid(telemetry="off")).telemetry == "off"
    assert load_config(valid(telemetry="https://otel.example/v1")).telemetry.startswith("https://")
    assert "telemetry" in problems(valid(telemetry="sometimes"))


def test_unknown_keys_are_warned_about_not_fatal():
    config = load_config(valid(params={"spatius_apikey": "typo"}, extra_thing=1))
    assert any("params.spatius_apikey" in w for w in config.warnings)
    assert any("extra_thing" in w for w in config.warnings)


def test_not_an_object():
    with pytest.raises(ConfigError):
        load_config(["not", "an", "object"])  # type: ignore[arg-type]


def test_secrets_never_appear_in_the_errors_or_the_repr():
    secret_key, secret_cert = "sk-very-secret-key", "cert-very-secret-value"
    props = valid(
        params={"spatius_api_key": secret_key, "agora_appcert": secret_cert, "agora_uid": "nope"}
    )
    with pytest.raises(ConfigError) as info:
        load_config(props)
    assert secret_key not in str(info.value) and secret_cert not in str(info.value)
    props["params"]["agora_uid"] = "7"
    config = load_config(props)
    assert secret_key not in repr(config) and secret_cert not in repr(config)
    assert set(config.secrets()) == {secret_key, secret_cert}


# -- extra_params: a string map passed to the SDK as it is ----------------------------------


def test_extra_params_is_a_json_object_of_strings_kept_as_given():
    assert load_config(valid()).extra_params == {}
    given = {"motion_style": "calm", "trace": "on"}
    assert load_config(valid(params={"extra_params": given})).extra_params == given


@pytest.mark.parametrize(
    ("value", "path", "message"),
    [
        ({"level": 3}, "params.extra_params.level", "must be a string"),
        ({"nested": {"a": "b"}}, "params.extra_params.nested", "must be a string"),
        ('{"a": "b"}', "params.extra_params", "must be a JSON object of strings"),
        (["a"], "params.extra_params", "must be a JSON object of strings"),
    ],
)
def test_extra_params_that_are_not_strings_are_refused_with_a_clear_fix(value, path, message):
    found = problems(valid(params={"extra_params": value}))
    assert list(found) == [path]
    assert found[path].message == message
    assert (
        found[path].fix
        == 'write params.extra_params as a JSON object whose values are strings, e.g. {"key": "value"}'
    )


# -- region ----------------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["auto", "us-west", "ap-northeast", "cn-east", " us-west ", ""])
def test_region_names_are_accepted(region):
    assert load_config(valid(params={"region": region})).region == (region.strip() or "auto")


@pytest.mark.parametrize(
    "region", ["us_west", "US-West", "uswest", "us west", "https://api.us-west.spatius.ai"]
)
def test_a_region_that_cannot_be_one_is_refused_naming_the_valid_ones(region):
    found = problems(valid(params={"region": region}))
    assert found["params.region"].message == f"{region!r} is not a Spatius region name"
    assert '"auto"' in found["params.region"].fix and '"us-west"' in found["params.region"].fix


# -- migrating from upstream TEN's extension ------------------------------------------------

# What upstream TEN's spatius_avatar_python reads at the top level of the node's property
# (its manifest and its config dataclass): each is params.<same name> here.
UPSTREAM_TOP_LEVEL = [
    "agora_uid",
    "agora_token",
    "agora_appid",
    "agora_appcert",
    "agora_channel",
    "spatius_api_key",
    "spatius_app_id",
    "spatius_avatar_id",
    "region",
    "sample_rate",
    "session_expire_minutes",
    "audio_format",
]


@pytest.mark.parametrize("key", UPSTREAM_TOP_LEVEL)
def test_an_upstream_top_level_property_is_told_to_move_under_params(key):
    # As upstream's users write it: the value at the top level, nothing under params.
    props = valid()
    value = props["params"].pop(
        key, {"sample_rate": 16000, "session_expire_minutes": 20}.get(key, "x")
    )
    props[key] = value
    try:
        config = load_config(props)
    except ConfigError as error:  # required here: the problem names the move
        (problem,) = error.problems
        assert problem.path in (f"params.{key}", "params.agora_token")
        assert problem.fix == f"move the top-level {key} under params"
        assert f"the top-level {key} is set, where upstream's extension reads it" in problem.message
        return
    assert config.warnings == (
        f"{key} is where upstream TEN's spatius_avatar_python reads {key}; this extension reads params.{key} "
        f"and ignores a top-level one: move it under params (as params.{key})",
    )


def test_an_upstream_top_level_property_beside_its_params_one_is_told_to_replace_it():
    config = load_config(
        valid(sample_rate=16000, params={"sample_rate": 24000})
    )  # as TEN merges property.json in
    assert config.warnings[0].endswith(
        "move it under params, in place of params.sample_rate (which is what counts)"
    )
