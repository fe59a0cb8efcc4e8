"""AudioConditioner and check_frame_format: TTS frames to mono s16le at the session rate."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise

import numpy as np
import pytest
import soxr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from speech_fixtures import speech_pcm

from spatius_avatar_python.audio import (
    AudioConditioner,
    AudioFormatError,
    PcmFormat,
    check_frame_format,
    downmix_to_mono,
)

OUT_RATE = 24000
# soxr dithers its int16 output, so a stream cut into frames and the same stream in one
# call differ by the dither alone: a couple of LSB.
DITHER_LSB = 3


def sine(rate: int, seconds: float, freq: float = 440.0, amplitude: float = 12000.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def interleave(*channels: np.ndarray) -> np.ndarray:
    return np.stack(channels, axis=1).reshape(-1)


def run_in_frames(
    conditioner: AudioConditioner, data: bytes, fmt: PcmFormat, cuts: list[int]
) -> bytes:
    """Feed `data` cut at byte offsets `cuts`, then flush."""
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(data))), len(data)]
    out = [conditioner.process(data[a:b], fmt) for a, b in pairwise(bounds)]
    out.append(conditioner.flush())
    return b"".join(out)


@pytest.fixture
def speech_fixture() -> Callable[[int], bytes]:
    """Raw mono s16le speech from the project's fixtures, at a given rate."""
    return speech_pcm


def as_int16(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.int16)


# --- check_frame_format -------------------------------------------------------------


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 24000, 44100, 48000, 96000, 192000])
@pytest.mark.parametrize("channels", [1, 2, 6, 8])
def test_accepted_formats(rate: int, channels: int) -> None:
    assert check_frame_format(rate, channels, 2) == PcmFormat(rate, channels, 2)


@pytest.mark.parametrize(
    ("rate", "channels", "width", "reason"),
    [
        (24000, 1, 1, "sample_width"),
        (24000, 1, 3, "sample_width"),
        (24000, 1, 4, "sample_width"),
        (24000, 1, 0, "sample_width"),
        (0, 1, 2, "sample_rate"),
        (-24000, 1, 2, "sample_rate"),
        (7999, 1, 2, "sample_rate"),
        (192001, 1, 2, "sample_rate"),
        (10**9, 1, 2, "sample_rate"),
        (24000, 0, 2, "channels"),
        (24000, -1, 2, "channels"),
        (24000, 9, 2, "channels"),
        (24000.0, 1, 2, "sample_rate"),
        (True, 1, 2, "sample_rate"),
    ],
)
def test_rejected_formats(rate: object, channels: object, width: object, reason: str) -> None:
    with pytest.raises(AudioFormatError) as caught:
        check_frame_format(rate, channels, width)  # type: ignore[arg-type]
    assert caught.value.reason == reason
    message = str(caught.value)
    assert (
        repr(rate if reason == "sample_rate" else channels if reason == "channels" else width)
        in message
    )
    assert "accepted" in message


def test_format_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="4 bytes per sample; only 16-bit PCM"):
        check_frame_format(24000, 1, 4)


def test_conditioner_rejects_bad_output_rate() -> None:
    with pytest.raises(ValueError, match="output sample rate"):
        AudioConditioner(0)


@pytest.mark.parametrize("fmt", [PcmFormat(0, 1), PcmFormat(24000, 0), PcmFormat(24000, 1, 4)])
def test_process_rejects_a_format_that_cannot_be_audio(fmt: PcmFormat) -> None:
    with pytest.raises(AudioFormatError):
        AudioConditioner(OUT_RATE).process(b"\x00" * 16, fmt)


# --- passthrough and carried bytes ------------------------------------------------


def test_mono_at_output_rate_passes_bytes_through_unchanged() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    frame = sine(OUT_RATE, 0.02).tobytes()
    assert conditioner.process(frame, PcmFormat(OUT_RATE, 1)) is frame
    assert conditioner.flush() == b""


def test_odd_trailing_byte_is_carried_to_the_next_frame() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    fmt = PcmFormat(OUT_RATE, 1)
    data = sine(OUT_RATE, 0.01).tobytes()
    first = conditioner.process(data[:101], fmt)
    assert len(first) == 100
    assert conditioner.carried_bytes == 1
    second = conditioner.process(memoryview(data)[101:], fmt)
    assert conditioner.carried_bytes == 0
    assert first + second == data


def test_partial_stereo_sample_is_carried() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    fmt = PcmFormat(OUT_RATE, 2)
    left = np.array([100, 200, 300], dtype=np.int16)
    right = np.array([300, 400, 500], dtype=np.int16)
    data = interleave(left, right).tobytes()
    out = conditioner.process(data[:7], fmt)  # one full stereo sample + 3 bytes
    assert conditioner.carried_bytes == 3
    out += conditioner.process(bytearray(data[7:]), fmt)
    assert as_int16(out).tolist() == [200, 300, 400]


def test_typed_memoryview_is_counted_in_bytes() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    samples = np.arange(10, dtype=np.int16)
    out = conditioner.process(samples.data, PcmFormat(OUT_RATE, 1))  # a memoryview of int16
    assert out == samples.tobytes()


def test_reset_drops_carried_bytes_and_resampler_state() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    fmt = PcmFormat(16000, 1)
    conditioner.process(sine(16000, 0.1).tobytes() + b"\x01", fmt)
    assert conditioner.carried_bytes == 1
    conditioner.reset()
    assert conditioner.carried_bytes == 0
    assert conditioner.flush() == b""  # nothing left to drain after a reset


def test_flush_drops_an_incomplete_final_sample() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    conditioner.process(b"\x01\x02\x03", PcmFormat(OUT_RATE, 1))
    assert conditioner.flush() == b""
    assert conditioner.carried_bytes == 0


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rate=st.sampled_from([8000, 16000, 22050, 24000, 44100, 48000]),
    channels=st.sampled_from([1, 2]),
    n_samples=st.integers(min_value=0, max_value=6000),
    cuts=st.lists(st.integers(min_value=1, max_value=24000), max_size=12),
    odd_tail=st.booleans(),
)
def test_output_duration_matches_input_for_any_frame_split(
    rate: int, channels: int, n_samples: int, cuts: list[int], odd_tail: bool
) -> None:
    rng = np.random.default_rng(n_samples)
    data = rng.integers(-20000, 20000, n_samples * channels, dtype=np.int16).tobytes()
    if odd_tail:
        data += b"\x7f"  # an incomplete sample at the very end is dropped
    out = run_in_frames(AudioConditioner(OUT_RATE), data, PcmFormat(rate, channels), cuts)
    assert len(out) % 2 == 0
    expected = n_samples * OUT_RATE / rate
    assert abs(len(out) // 2 - expected) <= 1
    if rate == OUT_RATE and channels == 1:
        assert out == data[: n_samples * 2]


# --- no clicks at frame boundaries ----------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    rate=st.sampled_from([16000, 22050, 44100, 48000]),
    cuts=st.lists(st.integers(min_value=1, max_value=64000), min_size=1, max_size=40),
)
def test_sine_in_random_frames_equals_sine_in_one_call(rate: int, cuts: list[int]) -> None:
    tone = sine(rate, 0.6).tobytes()
    framed = as_int16(run_in_frames(AudioConditioner(OUT_RATE), tone, PcmFormat(rate, 1), cuts))
    whole = as_int16(run_in_frames(AudioConditioner(OUT_RATE), tone, PcmFormat(rate, 1), []))
    assert len(framed) == len(whole)
    assert np.abs(framed.astype(np.int32) - whole).max() <= DITHER_LSB

    # Away from the stream's own start and end, the waveform is as smooth as a clean sine.
    clean = sine(OUT_RATE, 0.6)
    body = slice(OUT_RATE // 50, len(framed) - OUT_RATE // 50)
    clean_step = np.abs(np.diff(clean.astype(np.int32))).max()
    framed_step = np.abs(np.diff(framed[body].astype(np.int32))).max()
    assert framed_step <= clean_step * 1.02 + DITHER_LSB
    # And it is the same sine (the resampler's delay is compensated by soxr).
    assert np.abs(framed[body].astype(np.int32) - clean[body]).max() < 60


# --- downmix ------------------------------------------------------------------------


def test_stereo_with_different_channels_downmixes_to_the_mean() -> None:
    left = sine(OUT_RATE, 0.05, freq=300)
    right = sine(OUT_RATE, 0.05, freq=1000, amplitude=5000)
    out = AudioConditioner(OUT_RATE).process(
        interleave(left, right).tobytes(), PcmFormat(OUT_RATE, 2)
    )
    expected = np.floor((left.astype(np.int32) + right + 1) / 2)
    assert np.array_equal(as_int16(out), expected.astype(np.int16))


@pytest.mark.parametrize("channels", [2, 3, 6, 8])
def test_extremes_downmix_without_overflow(channels: int) -> None:
    highs = np.full((4, channels), 32767, dtype=np.int16)
    lows = np.full((4, channels), -32768, dtype=np.int16)
    mixed = np.tile(np.array([32767, -32768], dtype=np.int16), (4, channels))[:, :channels]
    for block, expected in ((highs, 32767), (lows, -32768)):
        assert downmix_to_mono(block.reshape(-1), channels).tolist() == [expected] * 4
    mean = downmix_to_mono(mixed.reshape(-1), channels)
    assert np.all(np.abs(mean.astype(np.int32)) <= 32768 // channels + 1)


def test_full_scale_square_wave_clips_instead_of_wrapping() -> None:
    # Resampling a full-scale square overshoots; int16 output must saturate, not wrap.
    period = np.concatenate([np.full(40, 32767), np.full(40, -32768)]).astype(np.int16)
    square = np.tile(period, 200)  # 16 kHz: 80 samples per period -> 120 at 24 kHz
    stereo = interleave(square, square).tobytes()
    out = as_int16(
        run_in_frames(AudioConditioner(OUT_RATE), stereo, PcmFormat(16000, 2), [999, 5001])
    )
    assert len(out) == 120 * 200
    phase = np.arange(len(out)) % 120
    assert np.all(out[(phase >= 15) & (phase < 45)] > 30000)
    assert np.all(out[(phase >= 75) & (phase < 105)] < -30000)
    assert out.max() == 32767 and out.min() == -32768


# --- format change ------------------------------------------------------------------


def test_format_change_drains_the_old_resampler_first() -> None:
    first = sine(16000, 0.3).tobytes()
    second = sine(48000, 0.3, freq=660)
    second_stereo = interleave(second, second).tobytes()

    conditioner = AudioConditioner(OUT_RATE)
    out = conditioner.process(first, PcmFormat(16000, 1))
    out += conditioner.process(second_stereo, PcmFormat(48000, 2))
    out += conditioner.flush()

    alone_first = run_in_frames(AudioConditioner(OUT_RATE), first, PcmFormat(16000, 1), [])
    alone_second = run_in_frames(AudioConditioner(OUT_RATE), second_stereo, PcmFormat(48000, 2), [])
    assert len(out) == len(alone_first) + len(alone_second)
    joined = as_int16(out).astype(np.int32)
    reference = np.concatenate([as_int16(alone_first), as_int16(alone_second)])
    assert np.abs(joined - reference).max() <= DITHER_LSB


def test_format_change_to_passthrough_keeps_order() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    resampled = conditioner.process(sine(16000, 0.1).tobytes(), PcmFormat(16000, 1))
    passthrough = sine(OUT_RATE, 0.1, freq=880).tobytes()
    out = conditioner.process(passthrough, PcmFormat(OUT_RATE, 1))
    assert out.endswith(passthrough)
    assert (len(resampled) + len(out) - len(passthrough)) // 2 == int(0.1 * OUT_RATE)
    assert conditioner.flush() == b""


def test_format_change_drops_the_old_layouts_partial_sample() -> None:
    conditioner = AudioConditioner(OUT_RATE)
    conditioner.process(b"\x00\x00\x00", PcmFormat(OUT_RATE, 2))
    assert conditioner.carried_bytes == 3
    out = conditioner.process(b"\x05\x00", PcmFormat(OUT_RATE, 1))
    assert out == b"\x05\x00"
    assert conditioner.carried_bytes == 0


def test_resampled_speech_matches_the_reference_rate(speech_fixture) -> None:
    # The 16 kHz and 24 kHz recordings are the same speech; converting one must track the other.
    src = speech_fixture(16000)
    ref = as_int16(speech_fixture(24000)).astype(np.float64)
    cuts = list(range(321, len(src), 641))  # odd-sized frames around 20 ms
    out = as_int16(run_in_frames(AudioConditioner(OUT_RATE), src, PcmFormat(16000, 1), cuts))
    n = min(len(out), len(ref))
    assert abs(len(out) - len(ref)) <= 2
    corr = np.corrcoef(out[:n].astype(np.float64), ref[:n])[0, 1]
    assert corr > 0.95


def test_soxr_is_what_does_the_resampling() -> None:
    # Guards against a silent fallback: one-call conversion equals soxr's own one-shot.
    tone = sine(44100, 0.2)
    out = as_int16(
        run_in_frames(AudioConditioner(OUT_RATE), tone.tobytes(), PcmFormat(44100, 1), [])
    )
    reference = soxr.resample(tone, 44100, OUT_RATE, "HQ")
    assert len(out) == len(reference)
    assert np.abs(out.astype(np.int32) - reference).max() <= DITHER_LSB
