"""Audio sent through the SDK arrives complete and in order; playback is modelled."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import spatius
from spatius_emulator.sdk_client import SessionEvents, new_sdk_session
from speech_fixtures import speech_pcm

pytestmark = pytest.mark.usefixtures("sdk_telemetry_off")


def speech(rate: int, seconds: float) -> bytes:
    return speech_pcm(rate, seconds)


async def send_request(session, pcm: bytes, chunk_bytes: int) -> str:
    req_id = ""
    for start in range(0, len(pcm), chunk_bytes):
        last = start + chunk_bytes >= len(pcm)
        req_id = await session.send_audio(pcm[start : start + chunk_bytes], end=last)
    return req_id


def best_lag_correlation(sent: np.ndarray, got: np.ndarray, max_lag: int) -> float:
    """Highest correlation over small shifts (Opus may delay the signal a little)."""
    n = min(len(sent), len(got)) - 2 * max_lag
    sent_f, got_f = sent.astype(float), got.astype(float)
    return max(
        np.corrcoef(sent_f[max_lag : max_lag + n], got_f[max_lag + lag : max_lag + lag + n])[0, 1]
        for lag in range(-max_lag, max_lag + 1)
    )


async def test_pcm_arrives_byte_exact_in_order(emulator):
    pcm_a, pcm_b = speech(24000, 3.0), speech(24000, 5.0)[48000 * 3 :]
    session = new_sdk_session(emulator)
    await session.init()
    await session.start()
    req_a = await send_request(session, pcm_a, 960)  # 20 ms chunks
    req_b = await send_request(session, pcm_b, 1234)  # odd sizes split samples too
    await session.close()

    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert [r.req_id for r in conn.requests] == [req_a, req_b]
    a, b = conn.request(req_a), conn.request(req_b)
    assert a.data == pcm_a and b.data == pcm_b
    assert a.message_count == len(pcm_a) // 960 and a.ended and b.ended
    assert a.duration_s == pytest.approx(3.0) and b.duration_s == pytest.approx(2.0)
    arrivals = [c.arrived_at for c in a.chunks + b.chunks]
    assert arrivals == sorted(arrivals)
    assert np.array_equal(a.pcm(), np.frombuffer(pcm_a, "<i2"))
    assert conn.audio_bytes == len(pcm_a) + len(pcm_b)


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
async def test_ogg_opus_arrives_complete(emulator, rate):
    pcm = speech(rate, 4.0)
    session = new_sdk_session(
        emulator,
        sample_rate=rate,
        audio_format=spatius.AudioFormat.OGG_OPUS,
        ogg_opus_encoder=spatius.OggOpusEncoderConfig(),
    )
    await session.init()
    await session.start()
    req_id = await send_request(session, pcm, rate // 50 * 2 + 2)  # not frame-aligned
    await session.close()

    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    assert conn.audio_format == "ogg_opus" and conn.sample_rate == rate
    request = conn.request(req_id)
    assert request.ended and request.data.startswith(b"OggS")
    sent = np.frombuffer(pcm, "<i2")
    got = request.pcm()
    frame = rate // 50
    assert abs(len(got) - len(sent)) <= frame
    assert request.duration_s == pytest.approx(len(sent) / rate, abs=frame / rate)
    assert best_lag_correlation(sent, got, max_lag=rate // 1000) > 0.85
    energy_ratio = np.sqrt(np.mean(got.astype(float) ** 2) / np.mean(sent.astype(float) ** 2))
    assert 0.7 < energy_ratio < 1.3


async def test_interrupt_records_played_and_queued_audio(emulator):
    session = new_sdk_session(emulator)
    await session.init()
    await session.start()
    req_id = await send_request(session, speech(24000, 2.0), 4800)  # 2 s, far faster than real time
    await asyncio.to_thread(emulator.wait_for_ended_requests, 1)
    assert await session.interrupt() == req_id
    (interrupt,) = await asyncio.to_thread(
        emulator.wait_for, lambda: emulator.recording.sessions[0].interrupts
    )
    await session.close()

    conn = emulator.recording.sessions[0]
    request = conn.request(req_id)
    assert request.interrupt is interrupt and interrupt.req_id == req_id
    # All audio was there from the start, so playback ran unstalled until the interrupt.
    elapsed = interrupt.at - request.first_arrival_at
    assert interrupt.played_s == pytest.approx(min(elapsed, 2.0), abs=1e-6)
    assert interrupt.played_s + interrupt.queued_s == pytest.approx(2.0)
    playback = conn.playback(req_id)
    assert playback.finished_at == pytest.approx(interrupt.at)
    assert playback.played_s(interrupt.at + 10) == pytest.approx(interrupt.played_s)


async def test_next_request_plays_after_the_previous_one(emulator):
    session = new_sdk_session(emulator)
    await session.init()
    await session.start()
    first = await send_request(session, speech(24000, 1.0), 9600)
    second = await send_request(session, speech(24000, 0.5), 9600)
    await session.close()

    (conn,) = await asyncio.to_thread(emulator.wait_for_closed, 1)
    one, two = conn.playback(first), conn.playback(second)
    r1, r2 = conn.request(first), conn.request(second)
    assert one.started_at == r1.first_arrival_at
    assert one.finished_at == pytest.approx(r1.first_arrival_at + 1.0, abs=1e-6)
    # The second request arrived while the first was playing: it waits for it.
    assert r2.first_arrival_at < one.finished_at
    assert two.started_at == one.finished_at
    assert two.finished_at == pytest.approx(one.finished_at + 0.5, abs=1e-6)
    assert conn.queued_s(at=r2.last_arrival_at) == pytest.approx(
        1.5 - (r2.last_arrival_at - r1.first_arrival_at), abs=1e-6
    )


async def test_plain_websocket_returns_animation_frames(emulator):
    emulator.config.allow_plain_websocket = True
    events = SessionEvents()
    session = new_sdk_session(emulator, events, egress=False)
    await session.init()
    await session.start()
    first = await send_request(session, speech(24000, 1.0), 4800)
    second = await send_request(session, speech(24000, 0.3), 4800)
    await asyncio.wait_for(_until(lambda: sum(last for _, last in events.frames) == 2), 5)
    await session.close()

    frames = [spatius.proto.generated.message_pb2.Message.FromString(d) for d, _ in events.frames]
    by_request = {first: [], second: []}
    for msg in frames:
        by_request[msg.server_response_animation.req_id].append(msg.server_response_animation.end)
    assert len(by_request[first]) == 25 and len(by_request[second]) == 8  # 25 fps
    for ends in by_request.values():
        assert ends[-1] and not any(ends[:-1])
    assert emulator.recording.sessions[0].animation_frames_sent == 33
    assert events.errors == []


async def _until(predicate) -> None:
    # The emulator's thread changes what `predicate` reads: there is no event of this loop
    # to wait on. pytest's timeout bounds a hang.
    while not predicate():  # noqa: ASYNC110 - polls another thread's state
        await asyncio.sleep(0.01)
