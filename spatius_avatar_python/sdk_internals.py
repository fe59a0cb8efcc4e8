"""The private parts of the Spatius SDK this extension relies on, checked before use.

Supported SDK: `spatius[opus]` 1.1.x (requirements.txt pins `>=1.1.1,<1.2`). Each private
attribute below is checked once per process for existence and behaviour; when one is
missing the extension falls back to public behaviour and says so once, never losing audio
silently. Moving to a new SDK version: run tests/lifecycle/test_sdk_internals.py against it,
then widen the pin.

- `AvatarSession._last_req_id`, read by `interrupt()`: pointing it at a request interrupts
  that request, not only the newest (fallback: `interrupt()` of the newest request only;
  older requests still playing are counted and said once).
- `OggOpusStreamEncoder._encoder.encoder_state` (libopus handle): sets complexity 5
  (fallback: the SDK's complexity 10, more CPU).
- `OggOpusStreamEncoder._DEFAULT_PRE_SKIP` (codec delay, for what a cut stream withholds)
  (fallback: 312, Opus' usual pre-skip).
- `OggOpusStreamEncoder._ogg_crc` (page checksum, replaced by a C one) (fallback: the
  SDK's own, slower, byte-identical pages).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

SUPPORTED_SDK = ">=1.1.1,<1.2"


@dataclass(frozen=True)
class SdkInternals:
    per_request_interrupt: bool
    opus_complexity: bool
    opus_pre_skip: bool
    opus_crc: bool
    version: str

    def problems(self) -> list[str]:
        missing = [
            name
            for name, ok in (
                (
                    "AvatarSession._last_req_id (per-request interrupt: "
                    "only the newest request of a session is interrupted)",
                    self.per_request_interrupt,
                ),
                (
                    "OggOpusStreamEncoder._encoder.encoder_state "
                    "(Opus complexity: the SDK's default is used)",
                    self.opus_complexity,
                ),
                ("OggOpusStreamEncoder._DEFAULT_PRE_SKIP (312 is assumed)", self.opus_pre_skip),
                (
                    "OggOpusStreamEncoder._ogg_crc (the SDK's slower checksum is used)",
                    self.opus_crc,
                ),
            )
            if not ok
        ]
        if not missing:
            return []
        return [
            f"Spatius SDK {self.version} is outside the supported range {SUPPORTED_SDK}: "
            f"falling back for {'; '.join(missing)}"
        ]


class _RecordingConnection:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    async def send(self, data: bytes) -> None:
        self.sent.append(data)


def interrupt_reads_last_req_id(session_class: Any) -> bool:
    """Whether `interrupt()` sends an interrupt for the request named by `_last_req_id`."""
    try:
        from spatius.proto.generated import message_pb2

        probe = session_class.__new__(session_class)
        connection = _RecordingConnection()
        for name, value in (
            ("_connection", connection),
            ("_last_req_id", "probe-req"),
            ("_current_req_id", None),
            ("_request_telemetry", {}),
            ("_audio_encoder", None),
        ):
            setattr(probe, name, value)
        coroutine = probe.interrupt()
        try:
            coroutine.send(None)  # the recording send never suspends: it completes at once
        except StopIteration:
            pass
        else:
            coroutine.close()
            return False
        message = message_pb2.Message()
        message.ParseFromString(connection.sent[-1])
        return message.client_interrupt.req_id == "probe-req"
    except Exception:
        return False


@functools.cache
def sdk_internals() -> SdkInternals:
    import spatius
    from spatius.audio_encoder import OggOpusStreamEncoder
    from spatius.avatar_session import AvatarSession

    from .opus import ogg_crc32, opus_library_problem

    if opus_library_problem() is not None:  # Opus cannot be used at all: nothing to check there
        return SdkInternals(
            interrupt_reads_last_req_id(AvatarSession),
            True,
            True,
            True,
            getattr(spatius, "__version__", "unknown"),
        )
    pre_skip = isinstance(getattr(OggOpusStreamEncoder, "_DEFAULT_PRE_SKIP", None), int)
    try:
        sample = b"OggS\x00\x02" + bytes(range(40))
        crc = callable(
            getattr(OggOpusStreamEncoder, "_ogg_crc", None)
        ) and OggOpusStreamEncoder._ogg_crc(sample) == ogg_crc32(sample)
    except Exception:
        crc = False
    try:
        encoder = OggOpusStreamEncoder(
            sample_rate=24000,
            bitrate=0,
            frame_duration_ms=20,
            application="voip",
            collect_encoded_output=False,
        )
        complexity = encoder._encoder.encoder_state is not None
    except Exception:
        complexity = False
    return SdkInternals(
        interrupt_reads_last_req_id(AvatarSession),
        complexity,
        pre_skip,
        crc,
        getattr(spatius, "__version__", "unknown"),
    )
