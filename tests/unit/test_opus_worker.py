"""OpusWorker: one encoder thread per process, results handed to the loop in batches.

The stream it makes must be the one `OggOpusRequestEncoder` makes by itself (byte for byte
but the random serial and the checksum that covers it), in order, for many sessions at once,
with fewer hand-offs to the loop than jobs when jobs queue together."""

from __future__ import annotations

import asyncio
import struct
import threading

import pytest
from speech_fixtures import speech_pcm

from spatius_avatar_python.opus import OggOpusRequestEncoder
from spatius_avatar_python.opus_worker import OpusWorker, shared_worker

RATE = 24000
FRAME = RATE * 20 // 1000 * 2  # bytes per 20 ms


def pages_without_serial(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        assert data[pos : pos + 4] == b"OggS"
        n_segments = data[pos + 26]
        end = pos + 27 + n_segments + sum(data[pos + 27 : pos + 27 + n_segments])
        page = bytearray(data[pos:end])
        struct.pack_into("<I", page, 14, 0)  # serial: random per stream
        struct.pack_into("<I", page, 22, 0)  # checksum: covers the serial
        out.append(bytes(page))
        pos = end
    return out


def pieces(pcm: bytes, sizes: list[int]) -> list[bytes]:
    out, pos, k = [], 0, 0
    while pos < len(pcm):
        size = sizes[k % len(sizes)]
        out.append(pcm[pos : pos + size])
        pos += size
        k += 1
    return out


def reference(pcm_pieces: list[bytes]) -> bytes:
    encoder = OggOpusRequestEncoder(RATE)
    return b"".join(
        encoder.encode_blocking(p, end=i == len(pcm_pieces) - 1) for i, p in enumerate(pcm_pieces)
    )


@pytest.fixture
def worker():
    w = OpusWorker(name="test-opus-worker")
    yield w
    w.close()


async def stream_through(worker: OpusWorker, pcm_pieces: list[bytes]) -> bytes:
    encoder = OggOpusRequestEncoder(RATE)
    out = []
    for i, piece in enumerate(pcm_pieces):
        out.append(await worker.encode(encoder, piece, end=i == len(pcm_pieces) - 1))
    return b"".join(out)


@pytest.mark.parametrize(
    "sizes", [[FRAME], [2 * FRAME], [FRAME // 2, 3 * FRAME, 7]], ids=["20ms", "40ms", "odd"]
)
async def test_the_stream_is_the_encoders_own(worker, sizes):
    pcm = speech_pcm(RATE, 2.0)
    sizes = [s - s % 2 or 2 for s in sizes]  # whole samples
    parts = pieces(pcm, sizes)
    got = await stream_through(worker, parts)
    assert pages_without_serial(got) == pages_without_serial(reference(parts))
    assert worker.jobs > 0


async def test_twenty_sessions_at_once_each_get_their_own_stream_with_fewer_hand_offs(worker):
    pcms = [speech_pcm(RATE, 1.0 + 0.02 * i) for i in range(20)]
    parts = [pieces(p, [FRAME]) for p in pcms]
    got = await asyncio.gather(*(stream_through(worker, p) for p in parts))
    for stream, p in zip(got, parts, strict=True):
        assert pages_without_serial(stream) == pages_without_serial(reference(p))
    # 20 sessions submit in the same loop turn: jobs queue together, one hand-off serves many
    assert worker.batches < worker.jobs


async def test_an_encoder_error_reaches_the_caller_and_the_worker_goes_on(worker):
    class Broken(OggOpusRequestEncoder):
        def _encode_now(self, pcm: bytes, end: bool) -> bytes:
            raise ValueError("libopus said no")

    with pytest.raises(ValueError, match="libopus said no"):
        await worker.encode(Broken(RATE), b"\0" * FRAME, end=False)
    parts = pieces(speech_pcm(RATE, 0.5), [FRAME])
    assert pages_without_serial(await stream_through(worker, parts)) == pages_without_serial(
        reference(parts)
    )


async def test_a_cancelled_caller_does_not_stop_the_worker(worker):
    encoder = OggOpusRequestEncoder(RATE)
    task = asyncio.ensure_future(worker.encode(encoder, b"\1\0" * (FRAME // 2), end=False))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    parts = pieces(speech_pcm(RATE, 0.5), [FRAME])
    assert pages_without_serial(await stream_through(worker, parts)) == pages_without_serial(
        reference(parts)
    )


def test_two_loops_share_one_worker_and_each_gets_its_own_results(worker):
    parts = [pieces(speech_pcm(RATE, 1.0 + 0.1 * i), [FRAME]) for i in range(2)]
    got: dict[int, bytes] = {}

    def run(i: int) -> None:
        got[i] = asyncio.run(stream_through(worker, parts[i]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for i in range(2):
        assert pages_without_serial(got[i]) == pages_without_serial(reference(parts[i]))


async def test_a_piece_that_completes_no_frame_needs_no_hand_off(worker):
    encoder = OggOpusRequestEncoder(RATE)
    assert await worker.encode(encoder, b"\0" * (FRAME // 2), end=False) == b""
    assert worker.jobs == 0


def test_the_process_has_one_shared_worker():
    assert shared_worker() is shared_worker()
