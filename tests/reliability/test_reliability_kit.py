"""The Ogg Opus identity check itself (reliability_kit.ToneMarking), on streams made by the
extension's own encoder and read back by the emulator's decoder: it must find whole
signals, prefixes and suffixes where they are, and see repeats, skips, mixes and foreign
audio (the PCM ramps are exact by construction)."""

from __future__ import annotations

import numpy as np
import pytest
from spatius_emulator.recording import AudioChunk, RequestRecord

from spatius_avatar_python.opus import OggOpusRequestEncoder
from tests.reliability.reliability_kit import RATE, Signal, ToneMarking

A = Signal("A", -32000, RATE)
B = Signal("B", -8000, RATE // 10)
C = Signal("C", 0, RATE // 2)
TONES = ToneMarking((A, B, C))
SIGNALS = (A, B, C)


def request(pcm: bytes, *, end: bool = True, batch: int = 1440) -> RequestRecord:
    """What the emulator records of one request whose PCM the extension encoded in batches."""
    encoder = OggOpusRequestEncoder(RATE)
    record = RequestRecord("r", RATE, "ogg_opus")
    for i in range(0, len(pcm), batch * 2):
        if data := encoder.encode_blocking(pcm[i : i + batch * 2], end=False):
            record._add(AudioChunk(0.0, len(data), 0.0, data), False)
    if end:
        data = encoder.encode_blocking(b"", end=True)
        record._add(AudioChunk(0.0, len(data), 0.0, data), True)
    return record


def part(signal: Signal, start: int, stop: int) -> bytes:
    return TONES.part(signal, start, stop)


def test_a_whole_signal_is_found_whole_at_its_start():
    found = TONES.request_pieces(1, request(TONES.audio(A)), SIGNALS)
    assert list(found) == [A]
    assert found[A].count == A.samples and found[A].contiguous and found[A].may_start_at(0)
    assert TONES.unidentified(request(TONES.audio(A)), SIGNALS) == 0


@pytest.mark.parametrize(
    "start, stop, end",
    [
        (0, 7000, False),
        (13333, 24000, True),
        (5000, 9000, True),
        (211, 23000, False),
        (0, 2400, True),
    ],
)
def test_a_slice_is_located_within_the_stated_slack(start, stop, end):
    piece = TONES.request_pieces(1, request(part(A, start, stop), end=end), SIGNALS)[A]
    assert piece.contiguous and piece.may_start_at(start)
    assert piece.start_latest - piece.start <= 2 * ToneMarking.WINDOW
    # Whole streams decode to exactly the samples sent; cut ones to whole pages, short
    # by the packet the encoder holds back and its look-ahead at most.
    sent = stop - start
    assert piece.count == sent if end else sent - 2 * 480 - TONES.cut_slack <= piece.count <= sent


@pytest.mark.parametrize(
    "pcm",
    [
        part(A, 0, 12000) + part(A, 6000, 24000),  # a repeat
        part(A, 0, 6000) + part(A, 12000, 24000),  # a skip
        part(A, 0, 6000) + part(A, 6600, 24000),  # a skip of 25 ms
        part(A, 12000, 24000) + part(A, 0, 12000),  # reordered
    ],
    ids=["repeat", "skip", "skip-25ms", "reordered"],
)
def test_repeats_skips_and_reordering_are_not_one_contiguous_slice(pcm):
    assert not TONES.request_pieces(1, request(pcm), SIGNALS)[A].contiguous


def test_two_signals_in_one_request_are_both_found():
    found = TONES.request_pieces(1, request(part(A, 0, 4800) + TONES.audio(C)), SIGNALS)
    assert set(found) == {A, C}


@pytest.mark.parametrize(
    "pcm",
    [
        b"\0" * 4800,
        np.random.default_rng(1).normal(0, 3000, 4800).astype("<i2").tobytes(),
        (np.sin(2 * np.pi * 9000 * np.arange(4800) / RATE) * 8000).astype("<i2").tobytes(),
    ],
    ids=["silence", "noise", "a foreign tone"],
)
def test_audio_of_no_signal_is_stray(pcm):
    record = request(pcm)
    assert TONES.request_pieces(1, record, SIGNALS) == {}
    assert TONES.unidentified(record, SIGNALS) >= 0.9 * len(pcm) // 2


def test_a_short_piece_is_found_by_identity():
    found = TONES.request_pieces(1, request(TONES.audio(B)[: 960 * 2], end=False), SIGNALS)
    assert list(found) == [B] and found[B].count > 0
