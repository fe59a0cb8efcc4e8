"""Failure codes and phases: stable text that graph authors and dashboards match on."""

from __future__ import annotations

import inspect
import json
import re

import pytest
import spatius.avatar_session
from spatius import AvatarSDKErrorCode

from spatius_avatar_python.failure_codes import ExtensionErrorCode, Phase

# The released text. Changing a value breaks whoever matches on it: add, never edit.
RELEASED_CODES = {"AUDIO_DROPPED": "audioDropped", "INTERNAL_ERROR": "internalError"}
RELEASED_PHASES = {
    "SESSION_TOKEN": "session_token",
    "WEBSOCKET_CONNECT": "websocket_connect",
    "WEBSOCKET_HANDSHAKE": "websocket_handshake",
    "WEBSOCKET_RUNTIME": "websocket_runtime",
    "WEBSOCKET_SEND": "websocket_send",
    "UNKNOWN": "unknown",
    "CONNECT": "connect",
    "CONFIGURE": "configure",
    "BUFFER": "buffer",
    "TURNS": "turns",
    "INTERNAL": "internal",
}


def test_the_released_values_stay() -> None:
    assert {m.name: m.value for m in ExtensionErrorCode} == RELEASED_CODES
    assert {m.name: m.value for m in Phase} == RELEASED_PHASES


@pytest.mark.parametrize("member", [*ExtensionErrorCode, *Phase], ids=str)
def test_every_way_of_writing_a_member_gives_its_value(member: ExtensionErrorCode | Phase) -> None:
    # A plain (str, Enum) formats as "Phase.BUFFER" on Python 3.11+: logs would change.
    assert str(member) == f"{member}" == f"{member:>0}" == "%s" % member == member.value
    assert json.dumps({"code": member}) == json.dumps({"code": member.value})
    assert member == member.value


def test_the_extension_s_codes_mean_nothing_else_to_the_sdk() -> None:
    assert not {m.value for m in ExtensionErrorCode} & {m.value for m in AvatarSDKErrorCode}


def test_a_phase_is_read_from_its_text() -> None:
    assert Phase.of("websocket_send") is Phase.WEBSOCKET_SEND
    assert Phase.of("a phase of a newer SDK") is Phase.UNKNOWN


def test_every_phase_the_installed_sdk_reports_is_known() -> None:
    source = inspect.getsource(spatius.avatar_session)
    reported = set(re.findall(r'phase(?:: str)?\s*=\s*"([a-z_]+)"', source))
    assert {"session_token", "websocket_send"} <= reported, "the SDK's phases were not found"
    assert reported <= {m.value for m in Phase}, sorted(reported - {m.value for m in Phase})
