"""OggOpusRequestEncoder: one request's PCM to one Ogg Opus stream, encoded off the loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import struct
import sys
import threading
from dataclasses import dataclass

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st
from spatius.audio_encoder import OggOpusStreamEncoder
from spatius.session_config import OggOpusEncoderConfig
from speech_fixtures import speech_pcm

from spatius_avatar_python.opus import (
    OPUS_SAMPLE_RATES,
    OggOpusRequestEncoder,
    ogg_crc32,
    opus_library_problem,
    shared_executor,
)

PRE_SKIP_48K = 312  # what the SDK writes in OpusHead


@dataclass(frozen=True)
class OggPage:
    header_type: int
    granule: int
    serial: int
    sequence: int
    crc: int
    packet: bytes
    raw: bytes


def parse_ogg(data: bytes) -> list[OggPage]:
    """Split an Ogg stream into pages (one packet per page, as the SDK writes them)."""
    pages = []
    pos = 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS", f"no capture pattern at byte {pos}"
        version, header_type, granule, serial, sequence, crc, n_segments = struct.unpack_from(
            "<BBQIIIB", data, pos + 4
        )
        assert version == 0
        lacing = data[pos + 27 : pos + 27 + n_segments]
        body_start = pos + 27 + n_segments
        body_end = body_start + sum(lacing)
        assert body_end <= len(data), "truncated page"
        pages.append(
            OggPage(
                header_type,
                granule,
                serial,
                sequence,
                crc,
                data[body_start:body_end],
                data[pos:body_end],
            )
        )
        pos = body_end
    return pages


def without_serial_and_crc(data: bytes) -> list[bytes]:
    """Pages with the random stream serial and the CRC that depends on it zeroed."""
    normalized = []
    for page in parse_ogg(data):
        raw = bytearray(page.raw)
        raw[14:18] = bytes(4)
        raw[22:26] = bytes(4)
        normalized.append(bytes(raw))
    return normalized


def assert_valid_ogg_opus(data: bytes, sample_rate: int, n_samples: int) -> list[OggPage]:
    pages = parse_ogg(data)
    assert pages[0].packet.startswith(b"OpusHead") and pages[0].header_type == 0x02
    assert struct.unpack_from("<I", pages[0].packet, 12)[0] == sample_rate
    assert pages[1].packet.startswith(b"OpusTags")
    assert [p.sequence for p in pages] == list(range(len(pages)))
    assert len({p.serial for p in pages}) == 1
    assert pages[-1].header_type == 0x04
    assert all(p.header_type == 0 for p in pages[1:-1])
    for page in pages:
        zeroed = page.raw[:22] + bytes(4) + page.raw[26:]
        # The SDK's own (slow, reference) checksum must agree with every page's CRC.
        assert OggOpusStreamEncoder._ogg_crc(zeroed) == page.crc
    assert pages[-1].granule == PRE_SKIP_48K + n_samples * (48000 // sample_rate)
    return pages


def decode(data: bytes) -> np.ndarray:
    samples, _ = soundfile.read(io.BytesIO(data), dtype="int16")
    return samples


def best_correlation(reference: np.ndarray, decoded: np.ndarray, max_lag: int = 4) -> float:
    # The Opus decoder's resampling shifts the waveform by a sample or two.
    ref = reference.astype(np.float64)[max_lag:-max_lag]
    return max(
        np.corrcoef(ref, decoded[max_lag + lag : len(decoded) - max_lag + lag].astype(np.float64))[
            0, 1
        ]
        for lag in range(-max_lag, max_lag + 1)
    )


def speech(rate: int) -> bytes:
    return speech_pcm(rate)


def tone(rate: int, seconds: float, freq: float) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return np.round(10000 * np.sin(2 * np.pi * freq * t)).astype(np.int16).tobytes()


def chunks(data: bytes, sizes: list[int]) -> list[bytes]:
    """Cut `data` into even-sized pieces cycling through `sizes` (in samples)."""
    out, pos, i = [], 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)] * 2
        out.append(data[pos : pos + step])
        pos += step
        i += 1
    return out


def sdk_encoder(sample_rate: int) -> OggOpusStreamEncoder:
    """The encoder exactly as AvatarSession.send_audio builds it for a default config."""
    config = OggOpusEncoderConfig()
    return OggOpusStreamEncoder(
        sample_rate=sample_rate,
        bitrate=0,
        frame_duration_ms=config.frame_duration_ms,
        application=config.application,
        collect_encoded_output=False,
    )


class CountingExecutor(concurrent.futures.ThreadPoolExecutor):
    def __init__(self) -> None:
        super().__init__(max_workers=1, thread_name_prefix="counting")
        self.submitted = 0
        self.worker_threads: set[str] = set()

    def submit(self, fn, /, *args, **kwargs):
        self.submitted += 1

        def run():
            self.worker_threads.add(threading.current_thread().name)
            return fn(*args, **kwargs)

        return super().submit(run)


# --- the checksum -------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_ogg_crc32_equals_the_sdk_checksum(data: bytes) -> None:
    assert ogg_crc32(data) == OggOpusStreamEncoder._ogg_crc(data)


# --- streams ------------------------------------------------------------------------


async def test_speech_in_many_calls_is_one_valid_stream_that_decodes_to_the_input() -> None:
    pcm = speech(24000)
    encoder = OggOpusRequestEncoder(24000)
    parts = [
        await encoder.encode(piece, end=False) for piece in chunks(pcm, [480, 160, 2401, 7, 960])
    ]
    parts.append(await encoder.encode(b"", end=True))
    stream = b"".join(parts)

    n_samples = len(pcm) // 2
    assert_valid_ogg_opus(stream, 24000, n_samples)
    decoded = decode(stream)
    assert abs(len(decoded) - n_samples) <= 480 + PRE_SKIP_48K // 2
    assert best_correlation(np.frombuffer(pcm, np.int16), decoded[:n_samples]) > 0.9


@pytest.mark.parametrize("rate", sorted(OPUS_SAMPLE_RATES))
def test_every_opus_rate_round_trips(rate: int) -> None:
    pcm = tone(rate, 0.5, 440)
    encoder = OggOpusRequestEncoder(rate)
    stream = b"".join(encoder.encode_blocking(p, end=False) for p in chunks(pcm, [rate // 100]))
    stream += encoder.encode_blocking(b"", end=True)
    assert_valid_ogg_opus(stream, rate, len(pcm) // 2)
    decoded = decode(stream)
    assert abs(len(decoded) - len(pcm) // 2) <= rate // 50
    assert best_correlation(np.frombuffer(pcm, np.int16)[: len(decoded)], decoded) > 0.9


@pytest.mark.parametrize("sizes", [[480], [160, 7, 2401], [24000]])
async def test_output_is_what_the_sdk_would_send_call_for_call(sizes: list[int]) -> None:
    pcm = speech(24000)[: 24000 * 2 * 3]
    pieces = chunks(pcm, sizes)
    ours = OggOpusRequestEncoder(24000, complexity=10)  # at the SDK's settings: byte for byte
    theirs = sdk_encoder(24000)
    for i, piece in enumerate(pieces):
        end = i == len(pieces) - 1
        mine = await ours.encode(piece, end=end)
        sdk = theirs.encode(piece, end=end).payload
        assert without_serial_and_crc(mine) == without_serial_and_crc(sdk), f"call {i} differs"


async def test_empty_request_is_valid_and_matches_the_sdk() -> None:
    encoder = OggOpusRequestEncoder(24000)
    # Like the SDK: no audio, no pages; send_audio accepts the empty final chunk.
    assert (
        await encoder.encode(b"", end=True)
        == sdk_encoder(24000).encode(b"", end=True).payload
        == b""
    )
    assert encoder.ended


def test_request_shorter_than_one_frame_is_a_complete_stream() -> None:
    pcm = tone(24000, 0.005, 300)  # 120 samples, a quarter of a 20 ms frame
    encoder = OggOpusRequestEncoder(24000)
    assert encoder.encode_blocking(pcm, end=False) == b""
    stream = encoder.encode_blocking(b"", end=True)
    assert_valid_ogg_opus(stream, 24000, 120)
    assert len(decode(stream)) == 120


async def test_concurrent_requests_do_not_mix() -> None:
    signals = [tone(24000, 1.0, f) for f in (220, 550, 1300, 3100)]

    async def encode_all(pcm: bytes, sizes: list[int]) -> bytes:
        encoder = OggOpusRequestEncoder(24000)
        out = [await encoder.encode(p, end=False) for p in chunks(pcm, sizes)]
        return b"".join(out) + await encoder.encode(b"", end=True)

    together = await asyncio.gather(
        *(encode_all(s, [480, 240 * (i + 1)]) for i, s in enumerate(signals))
    )
    for pcm, stream in zip(signals, together, strict=True):
        alone = OggOpusRequestEncoder(24000).encode_blocking(pcm, end=True)
        assert without_serial_and_crc(stream) == without_serial_and_crc(alone)


# --- off the loop -------------------------------------------------------------------


async def test_encoding_runs_in_the_executor_and_skips_it_when_no_frame_completes() -> None:
    executor = CountingExecutor()
    try:
        encoder = OggOpusRequestEncoder(24000, executor=executor)
        ten_ms = tone(24000, 0.01, 440)
        assert await encoder.encode(ten_ms, end=False) == b""  # half a frame: stays on the loop
        assert executor.submitted == 0
        assert await encoder.encode(ten_ms, end=False) != b""  # completes the first frame
        assert executor.submitted == 1
        await encoder.encode(b"", end=True)
        assert executor.submitted == 2
        assert executor.worker_threads
        assert all(name.startswith("counting") for name in executor.worker_threads)
    finally:
        executor.shutdown()


def test_shared_executor_is_one_small_pool() -> None:
    pool = shared_executor()
    assert pool is shared_executor()
    assert pool._max_workers <= 2


# --- misuse and configuration -------------------------------------------------------


def test_encoder_refuses_use_after_end() -> None:
    encoder = OggOpusRequestEncoder(16000)
    encoder.encode_blocking(tone(16000, 0.1, 440), end=True)
    with pytest.raises(RuntimeError, match="already ended"):
        encoder.encode_blocking(b"", end=True)


def test_odd_byte_count_is_rejected_before_encoding() -> None:
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        OggOpusRequestEncoder(24000).encode_blocking(b"\x00\x01\x02", end=False)


@pytest.mark.parametrize("rate", [0, 22050, 44100, 32000])
def test_unsupported_rates_are_rejected(rate: int) -> None:
    with pytest.raises(ValueError, match="Ogg Opus sample rate"):
        OggOpusRequestEncoder(rate)


def test_opus_library_is_available_here() -> None:
    assert opus_library_problem() is None


def test_missing_opus_library_is_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "opuslib_next", None)  # makes the import fail
    problem = opus_library_problem.__wrapped__()
    assert problem is not None
    assert "apt-get install libopus0" in problem
    assert "brew install opus" in problem
    assert '"pcm_s16le"' in problem


def test_the_encoder_runs_at_the_measured_complexity_and_decodes_exactly() -> None:
    # Complexity 5 instead of the SDK's 10: ~40% less CPU for the same stream (see opus.py).
    from spatius_avatar_python.opus import OPUS_COMPLEXITY, encoder_complexity
    from spatius_emulator.ogg_opus import decode_ogg_opus

    encoder = OggOpusRequestEncoder(24000)
    assert encoder_complexity(encoder) == OPUS_COMPLEXITY == 5
    assert encoder_complexity(OggOpusRequestEncoder(24000, complexity=10)) == 10
    pcm = speech_pcm(24000, 2.0)
    stream = encoder.encode_blocking(pcm, end=True)
    full = OggOpusRequestEncoder(24000, complexity=10).encode_blocking(pcm, end=True)
    assert stream != full  # the setting took effect
    assert len(decode_ogg_opus(stream, 24000)) == len(pcm) // 2
