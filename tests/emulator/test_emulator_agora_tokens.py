"""Agora egress tokens: the emulator accepts a publisher token for this uid and channel only."""

from __future__ import annotations

import time
from typing import Any

import pytest
from agoraiotools.AccessToken2 import AccessToken2, ServiceRtc
from spatius import AvatarSDKError, AvatarSDKErrorCode as Code
from spatius_emulator import AgoraEgress
from spatius_emulator.agora_tokens import AgoraTokenRejected, verify_publisher_token
from spatius_emulator.config import EmulatorConfig
from spatius_emulator.pytest_plugin import (
    TEST_AGORA_APP_CERT as CERT,
    TEST_AGORA_APP_ID as APP_ID,
    TestEmulator,
)
from spatius_emulator.sdk_client import SUBSCRIBER_ROLE, new_sdk_session, publisher_token

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")

CHANNEL, UID = "test-channel", 2001


def expired_token() -> str:
    """A publisher token issued two hours ago for one hour (the builder cannot backdate)."""
    token = AccessToken2(APP_ID, CERT, issue_ts=int(time.time()) - 7200, expire=3600)
    rtc = ServiceRtc(CHANNEL, UID)
    for privilege in (1, 2, 3, 4):
        rtc.add_privilege(privilege, 3600)
    token.add_service(rtc)
    return token.build()


def check(token: str, **overrides: Any) -> None:
    args: dict[str, Any] = {
        "app_id": APP_ID,
        "app_cert": CERT,
        "channel_name": CHANNEL,
        "uid": UID,
    } | overrides
    verify_publisher_token(token, **args)


def test_publisher_token_for_this_uid_and_channel_passes():
    check(publisher_token(APP_ID, CERT, CHANNEL, UID))


def test_uid_zero_token_is_valid_for_any_uid():
    check(publisher_token(APP_ID, CERT, CHANNEL, 0), uid=4242)


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (lambda: publisher_token(APP_ID, CERT, CHANNEL, UID + 1), "another uid"),
        (lambda: publisher_token(APP_ID, CERT, "other-channel", UID), "another channel"),
        (lambda: publisher_token(APP_ID, CERT, CHANNEL, UID, role=SUBSCRIBER_ROLE), "publish"),
        (expired_token, "expired"),
        (lambda: publisher_token(APP_ID, "0" * 32, CHANNEL, UID), "signature"),
        (lambda: publisher_token("f" * 32, CERT, CHANNEL, UID), "another app id"),
        (lambda: "", "empty"),
        (lambda: "006garbage", "not an AccessToken2"),
        (lambda: "007%%%%", "malformed"),
    ],
)
def test_bad_tokens_are_rejected_with_a_reason(token, reason):
    with pytest.raises(AgoraTokenRejected, match=reason):
        check(token())


def test_privilege_expiry_is_checked():
    token = AccessToken2(APP_ID, CERT, issue_ts=int(time.time()) - 100, expire=3600)
    rtc = ServiceRtc(CHANNEL, UID)
    for privilege in (1, 2, 4):
        rtc.add_privilege(privilege, 50)  # the privileges lapsed 50 s ago
    token.add_service(rtc)
    with pytest.raises(AgoraTokenRejected, match="privilege is expired"):
        check(token.build())


async def start_with_token(emulator, token: str) -> str:
    session = new_sdk_session(emulator, agora_token=token)
    try:
        await session.init()
        return await session.start()
    finally:
        await session.close()


async def test_sdk_session_with_valid_token_is_confirmed(emulator):
    assert await start_with_token(emulator, publisher_token(APP_ID, CERT, CHANNEL, UID))
    assert emulator.recording.sessions[0].agora.token.startswith("007")


@pytest.mark.parametrize(
    "token",
    [
        lambda: publisher_token(APP_ID, CERT, CHANNEL, UID + 1),
        lambda: publisher_token(APP_ID, CERT, "other-channel", UID),
        lambda: publisher_token(APP_ID, CERT, CHANNEL, UID, role=SUBSCRIBER_ROLE),
        expired_token,
    ],
    ids=["wrong-uid", "wrong-channel", "subscriber", "expired"],
)
async def test_sdk_session_with_bad_token_is_invalid_egress_config(emulator, token):
    with pytest.raises(AvatarSDKError) as raised:
        await start_with_token(emulator, token())
    error = raised.value
    assert (error.code, error.phase, error.server_code) == (
        Code.invalidEgressConfig,
        "websocket_handshake",
        "16",
    )
    assert error.server_detail.startswith("unauthorized")


async def test_without_agora_credentials_any_token_is_accepted():
    config = EmulatorConfig(agora_app_id=None, agora_app_cert=None)
    with TestEmulator(config) as emulator:
        assert await start_with_token(emulator, "whatever")
        assert emulator.recording.sessions[0].agora == AgoraEgress(
            CHANNEL, UID, "whatever", f"spatius-avatar-{UID}"
        )
