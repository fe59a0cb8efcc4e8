"""Failures in the fake graph: fatal classes, transient drops, bad configuration, stop."""

from __future__ import annotations

import asyncio
import time

import pytest
from scenario_kit import run_logs, run_scenario, speech
from spatius_emulator import service_errors as se
from spatius_emulator.faults import (
    Drop,
    HandshakeError,
    HandshakeSilence,
    RuntimeServerError,
    TokenRefusal,
    Trigger,
    UpgradeRefusal,
)
from ten_runtime import StatusCode

FATAL_FAULTS = [
    pytest.param(
        TokenRefusal(se.TOKEN_INVALID_API_KEY), "sessionTokenExpired", id="api-key-refused-401"
    ),
    pytest.param(TokenRefusal(se.TOKEN_BILLING_REQUIRED), "billingRequired", id="billing-402"),
    pytest.param(TokenRefusal(se.TOKEN_APP_NOT_FOUND), "appIDUnrecognized", id="app-404"),
    pytest.param(
        UpgradeRefusal(se.UPGRADE_INVALID_SESSION_TOKEN),
        "sessionTokenInvalid",
        id="session-token-400",
    ),
    pytest.param(UpgradeRefusal(se.UPGRADE_AVATAR_NOT_FOUND), "avatarNotFound", id="avatar-404"),
    pytest.param(UpgradeRefusal(se.UPGRADE_APP_ID_MISMATCH), "appIDMismatch", id="app-id-mismatch"),
    pytest.param(
        HandshakeError(se.CODE_UNAUTHENTICATED, "unauthorized"),
        "invalidEgressConfig",
        id="egress-16",
    ),
    pytest.param(
        HandshakeError(
            se.CODE_OUT_OF_RANGE, se.unsupported_sample_rate_message(24000, "pcm_s16le")
        ),
        "unsupportedSampleRate",
        id="sample-rate",
    ),
    pytest.param(
        RuntimeServerError(
            se.CODE_CREDITS_EXHAUSTED, se.server_error_message(se.CODE_CREDITS_EXHAUSTED), Trigger()
        ),
        "creditsExhausted",
        id="credits-4001",
    ),
]


@pytest.mark.parametrize("fault, vendor_code", FATAL_FAULTS)
def test_each_fatal_class_gives_one_fatal_error_and_no_retry(
    emulator, pcm_props, fault, vendor_code
):
    emulator.faults.add(fault, "every")

    async def script(t, env):
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.until(lambda: t.received.errors, what="the error")
        # Absence of retries can only be seen over time: wait past the first backoff step.
        await asyncio.sleep(0.8)
        assert await t.cmd(env, "flush") == StatusCode.OK  # still serving
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 2})

    tester = run_scenario(pcm_props, script)
    (error,) = tester.received.errors
    assert error["code"] == -1000 and error["module"] == "avatar"
    assert error["vendor_info"]["vendor"] == "spatius"
    assert error["vendor_info"]["code"] == vendor_code
    assert error["message"]
    attempts = len(emulator.recording.token_requests) + len(emulator.recording.connections)
    assert attempts <= 2  # one token request and at most one connection: no retry storm


def test_connection_drop_mid_utterance_reconnects_and_later_speech_arrives(emulator, pcm_props):
    emulator.faults.add(Drop(Trigger(after_audio_messages=10)), 1)

    async def script(t, env):
        await t.frames(env, speech(24000, 2.0), 24000, metadata={"turn_id": 1}, pace=2.0)
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(
            lambda: (
                len(emulator.recording.connections) >= 2
                and emulator.recording.connections[1].confirmed_at
            ),
            what="the reconnect",
        )
        await t.frames(env, speech(24000, 1.0), 24000, metadata={"turn_id": 2})
        await t.data(
            env, "tts_audio_end", {"request_id": "r2", "reason": 1, "metadata": {"turn_id": 2}}
        )
        await t.until(
            lambda: sum(r.ended for r in emulator.recording.connections[1].requests) == 2,
            what="both turns on the new session",
        )

    tester = run_scenario(pcm_props, script)
    first, second = emulator.recording.connections[:2]
    assert first.closed_by == "abort"
    transient = [e for e in tester.received.errors if e["code"] == 1000]
    assert transient and transient[0]["vendor_info"]["code"] == "connectionClosed"
    assert not [e for e in tester.received.errors if e["code"] == -1000]
    continued, turn_two = second.requests
    assert continued.ended and turn_two.data == speech(24000, 1.0)
    assert tester.received.metrics["reconnects"][-1] == 1


def test_runtime_session_duration_exceeded_reconnects(emulator, pcm_props):
    emulator.faults.add(
        RuntimeServerError(
            se.CODE_SESSION_DURATION_EXCEEDED,
            se.server_error_message(se.CODE_SESSION_DURATION_EXCEEDED),
            Trigger(after_audio_messages=1),
        ),
        1,
    )

    async def script(t, env):
        await t.frames(env, speech(24000, 1.0), 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(
            lambda: (
                len(emulator.recording.connections) >= 2
                and emulator.recording.connections[1].confirmed_at
            ),
            what="the new session",
        )
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 2})
        await t.data(
            env, "tts_audio_end", {"request_id": "r2", "reason": 1, "metadata": {"turn_id": 2}}
        )
        await t.until(
            lambda: any(r.ended for r in emulator.recording.connections[1].requests),
            what="turn 2 on the new session",
        )

    tester = run_scenario(pcm_props, script)
    codes = [e["vendor_info"]["code"] for e in tester.received.errors]
    assert codes[0] == "sessionDurationExceeded"
    assert all(e["code"] == 1000 for e in tester.received.errors)


def test_service_unreachable_at_start_keeps_serving_and_stops_promptly(pcm_props):
    pcm_props["console_endpoint_url"] = "http://127.0.0.1:9/v1/console"
    pcm_props["ingress_endpoint_url"] = "ws://127.0.0.1:9/v2/driveningress"

    async def script(t, env):
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.until(lambda: t.received.errors, what="the error")
        assert await t.cmd(env, "flush") == StatusCode.OK

    started = time.monotonic()
    tester = run_scenario(pcm_props, script)
    assert time.monotonic() - started < 20
    error = tester.received.errors[0]
    assert error["code"] == 1000 and error["vendor_info"]["code"] == "connectionFailed"


def test_stop_while_reconnecting_is_clean_and_bounded(emulator, pcm_props):
    emulator.faults.add(Drop(Trigger(after_audio_messages=1)), 1)
    for later in range(2, 6):
        emulator.faults.add(HandshakeSilence(), later)

    async def script(t, env):
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.until(
            lambda: len(emulator.recording.connections) >= 2, what="the reconnect attempt"
        )

    started = time.monotonic()
    run_scenario(pcm_props, script)  # the tester stops the graph mid-reconnect
    assert time.monotonic() - started < 20
    assert all(c.closed for c in emulator.wait_for_closed(2, 10))


def test_stop_without_a_successful_start_is_clean(emulator, pcm_props):
    emulator.faults.add(HandshakeSilence(), "every")

    async def script(t, env):
        return None  # stop at once, while the session is still connecting

    run_scenario(pcm_props, script)


INVALID_CONFIGS = [
    pytest.param({"agora_uid": "0"}, "params.agora_uid", id="uid-zero"),
    pytest.param({"agora_uid": "not-a-number"}, "params.agora_uid", id="uid-text"),
    pytest.param(
        {"agora_appcert": "", "agora_token": ""}, "params.agora_token", id="no-token-no-cert"
    ),
    pytest.param({"spatius_avatar_id": ""}, "params.spatius_avatar_id", id="no-avatar"),
    pytest.param({"sample_rate": 44100}, "params.sample_rate", id="opus-44100"),
    pytest.param({"audio_format": "wav"}, "params.audio_format", id="bad-format"),
    pytest.param(
        {"session_expire_minutes": -1}, "params.session_expire_minutes", id="negative-expiry"
    ),
]


@pytest.mark.parametrize("change, path", INVALID_CONFIGS)
def test_invalid_configuration_one_fatal_error_still_serving_never_connects(
    emulator, emulator_props, change, path
):
    props = {**emulator_props, "params": {**emulator_props["params"], **change}}

    async def script(t, env):
        await t.until(lambda: t.received.errors, what="the configuration error")
        await t.frames(env, speech(24000, 0.2), 24000, metadata={"turn_id": 1})
        await t.data(env, "tts_audio_end", {"request_id": "r1", "reason": 1})
        assert await t.cmd(env, "flush") == StatusCode.OK
        assert await t.cmd(env, "on_user_joined") == StatusCode.OK

    tester = run_scenario(props, script)
    (error,) = tester.received.errors
    assert error["code"] == -1000
    assert path in error["message"] and "Fix:" in error["message"]
    assert not emulator.recording.token_requests and not emulator.recording.connections


@pytest.mark.undeclared_input
def test_unknown_cmd_gets_an_error_result_with_a_reason(emulator, pcm_props):
    async def script(t, env):
        assert await t.cmd(env, "make_coffee") == StatusCode.ERROR
        assert await t.cmd(env, "flush") == StatusCode.OK

    run_scenario(pcm_props, script)


def test_secrets_never_reach_logs_or_messages(emulator, emulator_props):
    token_props = {
        **emulator_props,
        "params": {
            **emulator_props["params"],
            "agora_appcert": "",
            "agora_token": "007-secret-given-token-value",
        },
    }
    emulator.faults.add(TokenRefusal(se.TOKEN_INVALID_API_KEY), 1)

    async def script(t, env):
        await t.until(lambda: t.received.errors, what="the error")

    tester = run_scenario(token_props, script)
    secrets = [emulator.api_key, "007-secret-given-token-value"]
    everything = " ".join(m for _, m in run_logs()) + repr(tester.received.data)
    for secret in secrets:
        assert secret not in everything
