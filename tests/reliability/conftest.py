"""Fixtures of the reliability tests (the helpers are in reliability_kit.py; `pcm_props`
and `opus_props` come with the emulator's pytest plugin)."""

import pytest


@pytest.fixture(autouse=True)
def _no_sdk_telemetry(sdk_telemetry_off):
    return None
