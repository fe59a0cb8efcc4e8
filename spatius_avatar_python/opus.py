"""Ogg Opus encoding of conditioned mono PCM in worker threads, off the shared event loop.

The SDK can encode inside `AvatarSession.send_audio`, but that runs on the asyncio loop
every TEN Python extension shares (~17 ms CPU per audio second). Here the SDK's own
encoder class runs in a small thread pool instead and the session, created with
`AudioFormat.OGG_OPUS` and no `ogg_opus_encoder`, passes the Ogg bytes through.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import threading
import zlib

from spatius.audio_encoder import OggOpusStreamEncoder

OPUS_SAMPLE_RATES = frozenset({8000, 12000, 16000, 24000, 48000})
# libopus complexity. The SDK sets 10 (the maximum). Measured on our speech at 24 kHz in 20 ms
# frames (benchmarks/opus_settings.py): 10 costs 21.4 ms CPU per audio second, 5 costs 12.4 ms,
# for the same stream within 2% (35.9 vs 35.3 kbit/s) and the same reconstruction (SNR 10.2 vs
# 10.1 dB against the input). Below 5 the quality starts to drop (3: 9.7 dB, 0: 9.5 dB).
OPUS_COMPLEXITY = 5

_SHARED_WORKERS = 2
_shared_executor: concurrent.futures.ThreadPoolExecutor | None = None
_shared_executor_lock = threading.Lock()


@functools.cache
def opus_library_problem() -> str | None:
    """None when libopus loads; otherwise a sentence saying what is wrong and how to fix it."""
    try:
        import opuslib_next  # noqa: F401  (loads the system libopus at import)
    except Exception as exc:  # it raises a bare Exception or OSError when libopus is missing
        return (
            f"Ogg Opus audio needs the system Opus library, which could not be loaded ({exc}). "
            "Install it (Debian/Ubuntu: `apt-get install libopus0`, macOS: `brew install opus`) "
            'or set params.audio_format to "pcm_s16le".'
        )
    return None


def shared_executor() -> concurrent.futures.ThreadPoolExecutor:
    """The process-wide encoding pool, created on first use."""
    global _shared_executor
    with _shared_executor_lock:
        if _shared_executor is None:
            # ThreadPoolExecutor workers are joined at interpreter exit; encode jobs take
            # milliseconds, so exit never waits noticeably.
            _shared_executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=_SHARED_WORKERS, thread_name_prefix="spatius-opus"
            )
        return _shared_executor


_BIT_REVERSED_BYTES = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def ogg_crc32(data: bytes) -> int:
    """Ogg's page checksum (CRC-32, poly 0x04C11DB7, MSB-first, init 0, no final xor).

    The SDK computes it with a per-bit Python loop (~135 us per page, holding the GIL
    in the worker and so stealing it from the loop). zlib's CRC-32 is the bit-reflected
    form of the same polynomial: reflecting the input bytes and the result, and undoing
    zlib's init/final xor, gives the identical value in C (~1 us per page).
    """
    reflected = zlib.crc32(data.translate(_BIT_REVERSED_BYTES), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{reflected:032b}"[::-1], 2)


class _StreamEncoder(OggOpusStreamEncoder):
    """The SDK's encoder, byte for byte, with its page checksum computed by zlib."""

    @classmethod
    def _ogg_crc(cls, data: bytes) -> int:
        return ogg_crc32(data)


# Opus' usual pre-skip (48 kHz samples), should the SDK stop keeping it where we read it.
_FALLBACK_PRE_SKIP = 312


def _set_complexity(encoder: OggOpusStreamEncoder, complexity: int) -> None:
    """Set libopus' complexity on the SDK encoder, after the SDK's own quality controls.

    Relies on an SDK private (sdk_internals.py checks it once and says so when it is gone):
    without it the SDK's own complexity stays, at more CPU, with nothing lost."""
    import opuslib_next as opuslib

    state = getattr(
        getattr(encoder, "_encoder", None), "encoder_state", None
    )  # the SDK keeps its libopus encoder there
    if state is not None:
        opuslib.api.encoder.encoder_ctl(state, opuslib.api.ctl.set_complexity, complexity)


def encoder_complexity(encoder: "OggOpusRequestEncoder") -> int:
    """The libopus complexity an encoder runs at (for tests and diagnostics)."""
    import opuslib_next as opuslib

    complexity: int = opuslib.api.encoder.encoder_ctl(
        encoder._encoder._encoder.encoder_state, opuslib.api.ctl.get_complexity
    )
    return complexity


class OggOpusRequestEncoder:
    """Encodes one request's mono s16le PCM to one continuous Ogg Opus stream, off the loop.

    Calls are sequential: await each `encode` before the next. The request ends with the
    first call passing end=True; the encoder cannot be used after that. If an awaited
    `encode` is cancelled, its output is lost and the stream is broken: abandon the request.
    """

    def __init__(
        self,
        sample_rate: int,
        *,
        bitrate: int = 0,
        frame_duration_ms: int = 20,
        application: str = "voip",
        complexity: int = OPUS_COMPLEXITY,
        executor: concurrent.futures.Executor | None = None,
    ) -> None:
        if sample_rate not in OPUS_SAMPLE_RATES:
            raise ValueError(
                f"Ogg Opus sample rate must be one of {sorted(OPUS_SAMPLE_RATES)}, "
                f"got {sample_rate!r}"
            )
        problem = opus_library_problem()
        if problem is not None:
            raise RuntimeError(problem)
        # Same settings the SDK uses for its in-send_audio encoder (OggOpusEncoderConfig).
        self._encoder = _StreamEncoder(
            sample_rate=sample_rate,
            bitrate=bitrate,
            frame_duration_ms=frame_duration_ms,
            application=application,
            collect_encoded_output=False,
        )
        _set_complexity(self._encoder, complexity)
        self._executor = executor
        self._frame_bytes = sample_rate * frame_duration_ms // 1000 * 2
        self._pre_skip_samples = -(
            -getattr(_StreamEncoder, "_DEFAULT_PRE_SKIP", _FALLBACK_PRE_SKIP) * sample_rate // 48000
        )
        self._recent = bytearray()
        self._recent_limit = 2 * self._frame_bytes + 2 * self._pre_skip_samples
        # PCM not yet turned into a packet, here or inside the SDK encoder.
        self._unencoded_bytes = 0
        self._held = bytearray()  # PCM kept on the loop side until it completes a frame
        self._ended = False
        self._encoded_any = False  # a packet exists, so the Ogg writer holds one back
        # Only guards against misuse (a call started while a cancelled one still runs).
        self._lock = threading.Lock()

    @property
    def ended(self) -> bool:
        return self._ended

    def withheld_pcm(self) -> bytes:
        """The PCM of `withheld_samples`: what a listener of this stream, were it cut now,
        would never hear. Sent again on another request, nothing is lost."""
        withheld = 2 * self.withheld_samples
        return bytes(self._recent[max(0, len(self._recent) - withheld) :]) if withheld else b""

    @property
    def withheld_samples(self) -> int:
        """PCM accepted but not yet out in Ogg pages: the partial frame, plus the one packet
        the SDK's Ogg writer holds back until the next (or the end) arrives."""
        if self._ended or not self._encoded_any:
            return self._unencoded_bytes // 2 if not self._ended else 0
        # ... and the codec's delay: the decoder drops the stream's pre-skip (given in 48 kHz
        # samples), so the newest audio of a stream cut short is not heard.
        return self._unencoded_bytes // 2 + self._frame_bytes // 2 + self._pre_skip_samples

    async def encode(self, pcm: bytes, *, end: bool) -> bytes:
        """Ogg pages ready to send (may be b"" while a frame fills)."""
        chunk = self._take(pcm, end)
        if chunk is None:
            return b""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor or shared_executor(), self._encode_now, chunk, end
        )

    def encode_blocking(self, pcm: bytes, *, end: bool) -> bytes:
        """Same as `encode`, in the caller's thread."""
        chunk = self._take(pcm, end)
        if chunk is None:
            return b""
        return self._encode_now(chunk, end)

    def _take(self, pcm: bytes, end: bool) -> bytes | None:
        """Account for `pcm`; return what to hand the encoder now, or None when it would
        not complete a frame (kept here: no thread hop for a call that yields nothing)."""
        if self._ended:
            raise RuntimeError("this Ogg Opus request already ended; use a new encoder per request")
        if len(pcm) % 2:
            raise ValueError(f"PCM for Opus must be whole 16-bit samples, got {len(pcm)} bytes")
        if end:
            self._ended = True
        if pcm:  # the newest PCM, as much as can be withheld: a lost stream gives it back
            recent = self._recent
            recent += pcm
            if len(recent) > self._recent_limit:
                del recent[: len(recent) - self._recent_limit]
        self._unencoded_bytes += len(pcm)
        if not end and self._unencoded_bytes < self._frame_bytes:
            self._held += pcm
            return None
        self._unencoded_bytes %= self._frame_bytes
        self._encoded_any = True
        if self._held:
            self._held += pcm
            chunk = bytes(self._held)
            self._held.clear()
            return chunk
        return bytes(pcm)

    def _encode_now(self, pcm: bytes, end: bool) -> bytes:
        with self._lock:
            return self._encoder.encode(pcm, end=end).payload
