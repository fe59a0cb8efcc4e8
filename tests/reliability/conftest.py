"""Fixtures of the reliability tests (the helpers are in reliability_kit.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_sdk_telemetry(sdk_telemetry_off):
    return None


@pytest.fixture
def pcm_props(emulator_props) -> dict[str, Any]:
    """The extension pointed at the emulator, PCM at 24 kHz: the marked audio passes through exactly."""
    props = json.loads(json.dumps(emulator_props))
    props["params"]["audio_format"] = "pcm_s16le"
    props["params"]["sample_rate"] = 24000
    return props
