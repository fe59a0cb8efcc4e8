"""Runtime faults reach the SDK as the real service's would."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from spatius import AvatarSDKError, AvatarSDKErrorCode as Code
from spatius_emulator.sdk_client import SessionEvents, new_sdk_session

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")

CHUNK = b"\x01\x00" * 480  # 20 ms at 24 kHz


async def started(emulator, events: SessionEvents):
    session = new_sdk_session(emulator, events)
    await session.init()
    await session.start()
    return session


async def send_until_closed(session, events: SessionEvents, limit: int = 500) -> int:
    """Send 20 ms chunks until the SDK reports the close; return how many were sent."""
    sent = 0
    while sent < limit and not events.closed.is_set():
        try:
            await session.send_audio(CHUNK)
        except AvatarSDKError:
            break
        sent += 1
        await asyncio.sleep(0.005)
    await asyncio.wait_for(events.closed.wait(), 5)
    return sent


@pytest.mark.parametrize(
    ("code", "expected"), [(4001, Code.creditsExhausted), (4002, Code.sessionDurationExceeded)]
)
async def test_billing_errors_after_n_audio_messages(emulator, code, expected):
    emulator.faults.server_error(code, after_audio_messages=3)
    events = SessionEvents()
    session = await started(emulator, events)
    await send_until_closed(session, events)

    (error,) = events.errors  # a normal close follows: no connectionClosed on top
    assert (error.code, error.phase, error.server_code) == (
        expected,
        "websocket_runtime",
        str(code),
    )
    assert error.req_id  # the request that was running
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.audio_messages >= 3 and conn.errors_sent[0].code == code
    assert (conn.closed_by, conn.close_code) == ("server", 1000)
    assert error.connection_id == conn.connection_id


async def test_server_error_after_seconds_keeping_the_socket_open(emulator):
    emulator.faults.server_error(4002, after_seconds=0.1, close_code=None)
    events = SessionEvents()
    session = await started(emulator, events)
    await asyncio.wait_for(_until(lambda: events.errors), 5)
    assert events.errors[0].code == Code.sessionDurationExceeded
    await session.send_audio(CHUNK, end=True)  # still open
    await session.close()
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.closed_by == "client" and conn.audio_messages == 1


async def test_idle_timeout_closes_a_silent_session(emulator):
    emulator.faults.idle_timeout(0.3)
    events = SessionEvents()
    session = await started(emulator, events)
    await session.send_audio(CHUNK)
    await asyncio.wait_for(events.closed.wait(), 5)

    (error,) = events.errors
    assert error.code == Code.idleTimeout and "no audio input for" in error.server_detail
    (conn,) = emulator.recording.sessions
    assert conn.closed_at - conn.requests[0].last_arrival_at >= 0.3
    await session.close()


async def test_idle_timeout_from_config_is_reset_by_audio(emulator):
    emulator.config.idle_timeout_s = 0.5
    events = SessionEvents()
    session = await started(emulator, events)
    for _ in range(15):  # audio every ~50 ms for ~0.75 s: ten times inside the timeout
        await session.send_audio(CHUNK)
        await asyncio.sleep(0.05)
    assert not events.closed.is_set() and events.errors == []
    await asyncio.wait_for(events.closed.wait(), 5)  # then silence: closed

    assert [e.code for e in events.errors] == [Code.idleTimeout]
    (conn,) = emulator.recording.sessions
    assert conn.audio_messages == 15
    assert conn.closed_at - conn.requests[0].last_arrival_at >= 0.5


async def test_abrupt_drop_mid_request_is_connection_closed(emulator):
    emulator.faults.drop(after_audio_messages=5)
    events = SessionEvents()
    session = await started(emulator, events)
    await send_until_closed(session, events)

    assert [e.code for e in events.errors][-1:] == [Code.connectionClosed]
    error = events.errors[-1]
    assert error.close_code is None  # no close frame came
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.closed_by == "abort" and conn.audio_messages == 5
    assert not conn.requests[0].ended


async def test_close_1011_is_connection_closed_with_its_code(emulator):
    emulator.faults.close(1011, "internal error", after_seconds=0.05)
    events = SessionEvents()
    await started(emulator, events)
    await asyncio.wait_for(events.closed.wait(), 5)
    (error,) = events.errors
    assert (error.code, error.close_code, error.close_reason) == (
        Code.connectionClosed,
        1011,
        "internal error",
    )
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert (conn.closed_by, conn.close_code) == ("server", 1011)


async def test_slow_reading_makes_the_sender_wait(emulator):
    # The emulator reads one message per 0.5 s and drops the connection after 1.5 s.
    # Without backpressure 32 MB would be sent long before that; with it, sending is
    # still blocked when the drop comes and fails then.
    emulator.faults.slow_read(0.5)
    emulator.faults.drop(after_seconds=1.5)
    events = SessionEvents()
    session = await started(emulator, events)
    big = os.urandom(256 * 1024)  # random: permessage-deflate cannot shrink it

    async def send_32_mb() -> None:
        for _ in range(128):
            await session.send_audio(big)

    with pytest.raises(AvatarSDKError) as raised:
        await send_32_mb()
    assert raised.value.code == Code.connectionClosed and raised.value.phase == "websocket_send"
    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.audio_messages < 10
    await session.close()


async def test_delayed_token_answer(emulator):
    emulator.faults.delay_token(0.2)
    session = new_sdk_session(emulator)
    started_at = time.monotonic()
    await session.init()
    assert time.monotonic() - started_at >= 0.2
    await session.close()


async def test_emulator_stop_closes_open_sessions(emulator):
    events = SessionEvents()
    await started(emulator, events)
    await asyncio.to_thread(emulator.stop)
    await asyncio.wait_for(events.closed.wait(), 5)
    (conn,) = emulator.recording.sessions
    assert (conn.closed_by, conn.close_code) == ("server", 1001)


async def _until(predicate) -> None:
    # The emulator's thread changes what `predicate` reads: there is no event of this loop
    # to wait on. pytest's timeout bounds a hang.
    while not predicate():  # noqa: ASYNC110 - polls another thread's state
        await asyncio.sleep(0.01)
