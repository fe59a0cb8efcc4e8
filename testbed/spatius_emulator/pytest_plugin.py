"""pytest fixtures: an emulator per test, and extension properties pointing at it.

Register with `pytest_plugins = ["spatius_emulator.pytest_plugin"]`. Override
`emulator_config` in a test module to change what the emulator accepts.
"""

from __future__ import annotations

import json

from collections.abc import Iterator
from typing import Any

import pytest

from .config import EmulatorConfig
from .threaded import EmulatorThread

TEST_API_KEY = "test-api-key"
TEST_APP_ID = "test-app-id"
TEST_AVATAR_ID = "test-avatar"
TEST_AGORA_APP_ID = "0123456789abcdef0123456789abcdef"
TEST_AGORA_APP_CERT = "fedcba9876543210fedcba9876543210"
TEST_AGORA_CHANNEL = "test-channel"
TEST_AGORA_UID = "2001"


class TestEmulator(EmulatorThread):
    """An EmulatorThread with the fixed test credentials a client should use."""

    __test__ = False  # not a test class, despite the name

    api_key = TEST_API_KEY
    app_id = TEST_APP_ID
    avatar_id = TEST_AVATAR_ID
    agora_app_id = TEST_AGORA_APP_ID
    agora_app_cert = TEST_AGORA_APP_CERT
    agora_channel = TEST_AGORA_CHANNEL
    agora_uid = TEST_AGORA_UID

    def extension_properties(self) -> dict[str, Any]:
        """Extension properties (property.json shape) that point at this emulator."""
        return {
            "params": {
                "spatius_api_key": self.api_key,
                "spatius_app_id": self.app_id,
                "spatius_avatar_id": self.avatar_id,
                "agora_appid": self.agora_app_id,
                "agora_appcert": self.agora_app_cert,
                "agora_channel": self.agora_channel,
                "agora_uid": self.agora_uid,
            },
            "console_endpoint_url": self.console_url,
            "ingress_endpoint_url": self.ingress_url,
            "telemetry": "off",
        }


def make_test_config() -> EmulatorConfig:
    """Accepts exactly the test credentials and checks Agora tokens against them."""
    return EmulatorConfig(
        api_keys=(TEST_API_KEY,),
        app_ids=(TEST_APP_ID,),
        avatar_ids=(TEST_AVATAR_ID,),
        agora_app_id=TEST_AGORA_APP_ID,
        agora_app_cert=TEST_AGORA_APP_CERT,
    )


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return make_test_config()


@pytest.fixture
def emulator(emulator_config: EmulatorConfig) -> Iterator[TestEmulator]:
    """A running emulator on an ephemeral loopback port, stopped after the test."""
    with TestEmulator(emulator_config) as running:
        yield running


@pytest.fixture
def emulator_props(emulator: TestEmulator) -> dict[str, Any]:
    return emulator.extension_properties()


@pytest.fixture
def pcm_props(emulator_props: dict[str, Any]) -> dict[str, Any]:
    """`emulator_props` with PCM at 24 kHz: the audio arrives byte for byte as sent."""
    props = json.loads(json.dumps(emulator_props))
    props["params"].update(audio_format="pcm_s16le", sample_rate=24000)
    return props


@pytest.fixture
def opus_props(emulator_props: dict[str, Any]) -> dict[str, Any]:
    """`emulator_props` with Ogg Opus at 24 kHz (the extension's default)."""
    props = json.loads(json.dumps(emulator_props))
    props["params"].update(audio_format="ogg_opus", sample_rate=24000)
    return props


@pytest.fixture(scope="session")
def sdk_telemetry_off() -> None:
    """Turn the Spatius SDK's telemetry off before any session (nothing leaves the machine)."""
    import spatius

    spatius.configure_telemetry("")
