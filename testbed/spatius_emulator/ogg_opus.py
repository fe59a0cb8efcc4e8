"""Reading Ogg Opus streams as they arrive: page durations cheaply, PCM on demand.

Ogg pages are parsed by hand because the stream reaches the emulator a few pages per
WebSocket message and its duration is needed per message; libsndfile (soundfile) only
reads whole files. Page CRCs are not checked: the bytes come over loopback TCP.
Decoding uses opuslib_next (the SDK's own Opus binding), lazily, when a test asks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

OPUS_GRANULE_RATE = 48000  # Ogg Opus granule positions always count 48 kHz samples
_PAGE_HEADER = struct.Struct(
    "<4sBBqIIIB"
)  # capture, version, type, granule, serial, seq, crc, nsegs
_NO_PACKET_ENDS = -1  # granule of a page on which no packet completes
_EOS_FLAG = 0x04


@dataclass(frozen=True)
class OggPage:
    header_type: int
    granule: int
    segments: bytes  # lacing values
    body: bytes

    @property
    def end_of_stream(self) -> bool:
        return bool(self.header_type & _EOS_FLAG)


class OggPageReader:
    """Cuts a byte stream fed in arbitrary pieces into complete Ogg pages."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[OggPage]:
        self._buffer += data
        pages: list[OggPage] = []
        buf = self._buffer
        start = 0
        while True:
            if len(buf) - start < _PAGE_HEADER.size:
                break
            if buf[start : start + 4] != b"OggS":
                found = buf.find(b"OggS", start + 1)  # resynchronise past garbage
                start = found if found >= 0 else len(buf) - 3
                continue
            _, _, header_type, granule, _, _, _, nsegs = _PAGE_HEADER.unpack_from(buf, start)
            seg_start = start + _PAGE_HEADER.size
            body_start = seg_start + nsegs
            if len(buf) < body_start:
                break
            segments = bytes(buf[seg_start:body_start])
            body_end = body_start + sum(segments)
            if len(buf) < body_end:
                break
            pages.append(OggPage(header_type, granule, segments, bytes(buf[body_start:body_end])))
            start = body_end
        del buf[:start]
        return pages


def iter_packets(
    pages: list[OggPage], carry: bytearray | None = None
) -> tuple[list[bytes], bytearray]:
    """Join page segments into packets; a packet may continue onto the next page."""
    packets: list[bytes] = []
    partial = carry if carry is not None else bytearray()
    for page in pages:
        offset = 0
        for lacing in page.segments:
            partial += page.body[offset : offset + lacing]
            offset += lacing
            if lacing < 255:
                packets.append(bytes(partial))
                partial = bytearray()
    return packets, partial


def opus_pre_skip(head_packet: bytes) -> int:
    """Pre-skip (48 kHz samples) from an OpusHead packet."""
    if not head_packet.startswith(b"OpusHead") or len(head_packet) < 12:
        raise ValueError("first Ogg packet is not an OpusHead")
    return struct.unpack_from("<H", head_packet, 10)[0]


class OggOpusDurationMeter:
    """Seconds of playable audio completed by each fed piece, from granule positions."""

    def __init__(self) -> None:
        self._reader = OggPageReader()
        self._pre_skip: int | None = None
        self._played_granule = 0

    def feed(self, data: bytes) -> float:
        added = 0
        for page in self._reader.feed(data):
            if self._pre_skip is None:
                try:
                    self._pre_skip = opus_pre_skip(page.body)
                except ValueError:
                    self._pre_skip = 0
                continue
            if page.granule == _NO_PACKET_ENDS:
                continue
            playable = max(0, page.granule - self._pre_skip)
            if playable > self._played_granule:
                added += playable - self._played_granule
                self._played_granule = playable
        return added / OPUS_GRANULE_RATE


def decode_ogg_opus(stream: bytes, sample_rate: int) -> np.ndarray:
    """Decode a (possibly still incomplete) mono Ogg Opus stream to int16 samples.

    Trims the encoder's pre-skip at the start and, per RFC 7845, the padding after the
    last page's granule position, so a complete stream gives back exactly the samples
    the sender encoded.
    """
    import opuslib_next  # loads libopus; only needed when a test looks at Opus audio

    pages = OggPageReader().feed(stream)
    packets, _ = iter_packets(pages)
    if len(packets) < 2:
        return np.zeros(0, dtype=np.int16)
    pre_skip = opus_pre_skip(packets[0]) * sample_rate // OPUS_GRANULE_RATE
    decoder = opuslib_next.Decoder(sample_rate, 1)
    max_frame = sample_rate * 120 // 1000
    pieces = [decoder.decode(packet, max_frame) for packet in packets[2:] if packet]
    pcm = np.frombuffer(b"".join(pieces), dtype=np.int16)
    last_granule = max((p.granule for p in pages if p.granule != _NO_PACKET_ENDS), default=0)
    stream_end = last_granule * sample_rate // OPUS_GRANULE_RATE
    return pcm[pre_skip:stream_end].copy()
