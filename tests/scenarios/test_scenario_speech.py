"""The extension in the fake graph against the emulator: speech in, Spatius requests out."""

from __future__ import annotations

import numpy as np
import soxr
from agoraiotools.AccessToken2 import AccessToken
from scenario_kit import make_frame, run_logs, run_scenario, speech, stereo
from ten_runtime import StatusCode


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    a, b = a[:n].astype(np.float64), b[:n].astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def requests(emulator) -> list:
    connections = emulator.recording.connections
    return connections[0].requests if connections else []


def ended(emulator) -> bool:
    return any(r.ended for r in requests(emulator))


def envelope(samples: np.ndarray, window: int = 480) -> np.ndarray:
    n = len(samples) // window
    blocks = samples[: n * window].astype(np.float64).reshape(n, window)
    return np.sqrt((blocks**2).mean(axis=1))


def test_handshake_carries_agora_egress_with_a_valid_publisher_token(emulator, pcm_props):
    async def script(t, env):
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(lambda: ended(emulator), what="the request to end")

    run_scenario(pcm_props, script)
    (connection,) = emulator.recording.connections
    assert connection.egress_type == "agora"
    assert connection.agora.channel_name == emulator.agora_channel
    assert connection.agora.uid == 2001
    assert connection.agora.publisher_id == "spatius-avatar-2001"
    assert connection.sample_rate == 24000 and connection.audio_format == "pcm_s16le"
    token = AccessToken()
    assert token.from_string(connection.agora.token)  # an AccessToken2 the emulator also verified
    assert connection.confirmed_at is not None


def test_16k_stereo_tts_feeds_a_24k_mono_session_without_loss(emulator, pcm_props):
    source = speech(16000, 3.0)
    # Odd frame sizes, an odd trailing byte carried across frames, 10 ms to 200 ms frames.
    sizes = [641, 1279, 3, 6400, 1, 2559, 12800, 639]

    async def script(t, env):
        await t.data(env, "tts_audio_start", {"request_id": "r1", "metadata": {"turn_id": 7}})
        await t.frames(env, stereo(source), 16000, channels=2, metadata={"turn_id": 7}, sizes=sizes)
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 7}}
        )
        await t.until(lambda: ended(emulator), what="the request to end")

    run_scenario(pcm_props, script)
    (request,) = emulator.recording.connections[0].requests
    received = np.frombuffer(request.data, dtype=np.int16)
    assert abs(len(received) - 3.0 * 24000) <= 2  # every sample made it (within resampler rounding)
    reference = soxr.resample(np.frombuffer(source, dtype=np.int16), 16000, 24000)
    assert correlation(received, reference) > 0.99
    # No clicks at the frame boundaries: no jump larger than the reference's own largest.
    assert (
        np.max(np.abs(np.diff(received.astype(np.int32))))
        <= np.max(np.abs(np.diff(reference.astype(np.int32)))) * 1.1 + 64
    )


def test_opus_session_receives_the_speech(emulator, opus_props):
    source = speech(24000, 2.0)

    async def script(t, env):
        await t.frames(env, source, 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(lambda: ended(emulator), what="the request to end")

    run_scenario(opus_props, script)
    connection = emulator.recording.connections[0]
    assert connection.audio_format == "ogg_opus"
    (request,) = connection.requests
    decoded = request.pcm()
    assert abs(len(decoded) / 24000 - 2.0) < 0.04
    # Opus is lossy (phase, fine detail): compare the 20 ms loudness envelopes.
    assert correlation(envelope(decoded), envelope(np.frombuffer(source, dtype=np.int16))) > 0.97


def test_barge_in_drops_late_frames_of_the_old_turn_and_keeps_the_next_turn(emulator, pcm_props):
    first = speech(24000, 4.0)
    late = (np.full(24000, 12345, dtype=np.int16)).tobytes()  # a marker no speech contains
    second = speech(24000, 1.0)

    async def script(t, env):
        await t.data(env, "tts_audio_start", {"request_id": "r1", "metadata": {"turn_id": 1}})
        await t.frames(env, first[: 24000 * 2], 24000, metadata={"turn_id": 1}, pace=4.0)
        # The barge-in is on a request that is playing: its audio reached Spatius first (a
        # slow connect could otherwise leave all of it waiting, dropped by the flush unsent).
        await t.until(lambda: requests(emulator), what="turn 1's first audio")
        status = await t.cmd(env, "flush")
        assert status == StatusCode.OK
        await t.frames(env, late, 24000, metadata={"turn_id": 1})  # the TTS had not stopped yet
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 2, "metadata": {"turn_id": 1}}
        )
        await t.data(env, "tts_audio_start", {"request_id": "r2", "metadata": {"turn_id": 2}})
        await t.frames(env, second, 24000, metadata={"turn_id": 2})
        await t.data(
            env, "tts_audio_end", {"request_id": "r2", "reason": 1, "metadata": {"turn_id": 2}}
        )
        await t.until(lambda: ended(emulator), what="turn 2 to end")
        await t.until(lambda: "flush" in t.received.cmds, what="the flush to be passed on")

    tester = run_scenario(pcm_props, script)
    connection = emulator.recording.connections[0]
    old, new = connection.requests
    assert old.interrupt is not None and not old.ended
    assert len(old.data) <= 24000 * 2 * 2
    marker = np.int16(12345).tobytes() * 4
    assert marker not in old.data and marker not in new.data
    assert new.ended and new.data == second
    assert [i.req_id for i in connection.interrupts] == [old.req_id]
    assert tester.received.metrics["interrupts"] == [1]
    assert "flush" in tester.received.cmds  # passed on after handling it


def test_flush_interrupts_a_request_that_has_ended_but_is_still_playing(emulator, pcm_props):
    async def script(t, env):
        # 6 s sent at once: it still plays (by more than the 1 s asserted below) however
        # long the flush takes to come round on a loaded machine.
        await t.frames(env, speech(24000, 6.0), 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(lambda: ended(emulator), what="the end")
        assert await t.cmd(env, "flush") == StatusCode.OK
        await t.until(lambda: emulator.recording.connections[0].interrupts, what="the interrupt")

    run_scenario(pcm_props, script)
    (interrupt,) = emulator.recording.connections[0].interrupts
    assert interrupt.queued_s > 1.0  # it was still playing when the barge-in came


def test_ends_duplicates_late_ends_and_interrupted_reason(emulator, pcm_props):
    async def script(t, env):
        await t.data(
            env, "tts_audio_end", {"request_id": "none", "reason": 1}
        )  # an end with no audio
        await t.data(env, "finalize", {})
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )  # duplicate
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 2})
        await t.data(env, "finalize", {"metadata": {"turn_id": 2}})
        await t.frames(env, speech(24000, 0.5), 24000, metadata={"turn_id": 3})
        await t.until(lambda: len(requests(emulator)) == 3, what="turn 3 to reach Spatius")
        await t.data(
            env, "tts_audio_end", {"request_id": "r3", "reason": 2, "metadata": {"turn_id": 3}}
        )
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1}
        )  # a late end of turn 1
        await t.until(
            lambda: len(requests(emulator)) == 3 and emulator.recording.connections[0].interrupts,
            what="three requests and an interrupt",
        )

    run_scenario(pcm_props, script)
    connection = emulator.recording.connections[0]
    one, two, three = connection.requests
    assert one.ended and two.ended
    assert not three.ended and three.interrupt is not None  # reason 2 interrupts, never ends
    assert len(one.data) == len(two.data) == 24000
    # The barge-in stops turn 3 and whatever of turns 1 and 2 still plays, each once.
    interrupted = [i.req_id for i in connection.interrupts]
    assert three.req_id in interrupted and len(interrupted) == len(set(interrupted))
    assert not connection.errors_sent


def test_bad_frames_get_one_clear_error_each_and_the_extension_keeps_serving(emulator, pcm_props):
    async def script(t, env):
        good = speech(24000, 0.2)
        for _ in range(5):
            await env.send_audio_frame(make_frame(good, 24000, 1, {"turn_id": 1}, width=4))
            await env.send_audio_frame(make_frame(good, 0, 1, {"turn_id": 1}))
            await env.send_audio_frame(make_frame(good, 24000, 0, {"turn_id": 1}))
            await env.send_audio_frame(make_frame(good, 10_000_000, 1, {"turn_id": 1}))
        await t.frames(env, good, 24000, metadata={"turn_id": 1})
        await t.data(
            env, "tts_audio_end", {"request_id": "r1", "reason": 1, "metadata": {"turn_id": 1}}
        )
        await t.until(lambda: ended(emulator), what="the good audio to arrive")
        assert await t.cmd(env, "flush") == StatusCode.OK

    tester = run_scenario(pcm_props, script)
    frame_errors = [e for e in tester.received.errors if "dropped audio frame" in e["message"]]
    assert (
        len(frame_errors) == 3
    )  # sample width, sample rate, channels: one each, not one per frame
    assert all(e["code"] == 1000 and e["module"] == "avatar" for e in frame_errors)
    assert "sample" in " ".join(e["message"] for e in frame_errors)
    (request,) = emulator.recording.connections[0].requests
    assert request.data == speech(24000, 0.2)


def test_metrics_and_lifecycle_logs(emulator, pcm_props):
    async def script(t, env):
        await t.frames(env, speech(24000, 1.0), 24000, metadata={"session_id": "s", "turn_id": 4})
        await t.data(
            env,
            "tts_audio_end",
            {"request_id": "r4", "reason": 1, "metadata": {"session_id": "s", "turn_id": 4}},
        )
        await t.until(lambda: "request_audio_seconds" in t.received.metrics, what="request metrics")

    tester = run_scenario(pcm_props, script)
    metrics = tester.received.metrics
    assert metrics["connect_ms"][0] > 0
    assert metrics["request_audio_seconds"] == [1.0]
    request_metrics = [
        p for p in tester.received.of("metrics") if "request_audio_seconds" in p["metrics"]
    ]
    assert request_metrics[0]["metadata"] == {"session_id": "s", "turn_id": 4}
    assert request_metrics[0]["vendor"] == "spatius" and request_metrics[0]["module"] == "avatar"
    logs = run_logs()
    info_and_up = [m for level, m in logs if level in ("INFO", "WARN", "ERROR")]
    assert len(info_and_up) < 15  # lifecycle lines only: 50 frames must not mean 50 lines
    assert any("ready" in m for m in info_and_up)
