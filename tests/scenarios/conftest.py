"""Fixtures of the scenario tests (the kit itself is testbed/scenario_kit.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_sdk_telemetry(sdk_telemetry_off):
    return None


@pytest.fixture
def pcm_props(emulator_props) -> dict[str, Any]:
    props = json.loads(json.dumps(emulator_props))
    props["params"]["audio_format"] = "pcm_s16le"
    return props


@pytest.fixture
def opus_props(emulator_props) -> dict[str, Any]:
    props = json.loads(json.dumps(emulator_props))
    props["params"]["audio_format"] = "ogg_opus"
    return props
