"""Ogg Opus streams are read the same however they are cut into messages."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from spatius.audio_encoder import OggOpusStreamEncoder
from spatius_emulator.ogg_opus import OggOpusDurationMeter, OggPageReader, decode_ogg_opus

RATE = 16000


def encode(pcm: bytes) -> bytes:
    encoder = OggOpusStreamEncoder(
        sample_rate=RATE,
        bitrate=0,
        frame_duration_ms=20,
        application="voip",
        collect_encoded_output=False,
    )
    return encoder.encode(pcm, end=True).payload


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes()


STREAM = encode(tone(0.73))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=60))
def test_pages_and_duration_do_not_depend_on_the_cuts(cut_sizes):
    reader, meter = OggPageReader(), OggOpusDurationMeter()
    pages, seconds, pos, i = [], 0.0, 0, 0
    while pos < len(STREAM):
        size = cut_sizes[i % len(cut_sizes)]
        piece = STREAM[pos : pos + size]
        pages += reader.feed(piece)
        seconds += meter.feed(piece)
        pos, i = pos + size, i + 1
    assert pages == OggPageReader().feed(STREAM)
    assert seconds == pytest.approx(0.73)


def test_decoding_gives_back_every_sample_sent():
    pcm = tone(0.73)
    decoded = decode_ogg_opus(STREAM, RATE)
    assert len(decoded) == len(pcm) // 2
    sent = np.frombuffer(pcm, "<i2").astype(float)
    assert np.corrcoef(sent[200:-200], decoded[200:-200].astype(float))[0, 1] > 0.9


def test_incomplete_stream_decodes_its_complete_pages_only():
    half = decode_ogg_opus(STREAM[: len(STREAM) // 2], RATE)
    assert 0 < len(half) < int(RATE * 0.73)
    assert decode_ogg_opus(STREAM[:10], RATE).size == 0


def test_reader_skips_garbage_between_pages():
    pages = OggPageReader().feed(b"junk" + STREAM)
    assert pages == OggPageReader().feed(STREAM)
