"""Protobuf frames of the ingress protocol, built and read with the SDK's own schema."""

from __future__ import annotations

from typing import Any

from google.protobuf.json_format import MessageToDict
from spatius.proto.generated import message_pb2 as pb

Message = pb.Message

PCM_SAMPLE_RATES = frozenset({8000, 16000, 22050, 24000, 32000, 44100, 48000})
OGG_OPUS_SAMPLE_RATES = frozenset({8000, 12000, 16000, 24000, 48000})

AUDIO_FORMAT_NAMES = {
    pb.AUDIO_FORMAT_PCM_S16LE: "pcm_s16le",
    pb.AUDIO_FORMAT_OGG_OPUS: "ogg_opus",
}
EGRESS_TYPE_NAMES = {
    pb.EGRESS_TYPE_UNSPECIFIED: None,
    pb.EGRESS_TYPE_LIVEKIT: "livekit",
    pb.EGRESS_TYPE_AGORA: "agora",
}


def allowed_sample_rates(audio_format: str) -> frozenset[int]:
    return OGG_OPUS_SAMPLE_RATES if audio_format == "ogg_opus" else PCM_SAMPLE_RATES


def parse(data: bytes) -> pb.Message:
    """Parse one client frame (raises google.protobuf.message.DecodeError)."""
    msg = pb.Message()
    msg.ParseFromString(data)
    return msg


def configure_to_dict(configure: pb.ClientConfigureSession) -> dict[str, Any]:
    """The handshake payload as a plain dict, every field present, proto field names."""
    return MessageToDict(
        configure,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def confirm_session(connection_id: str) -> bytes:
    msg = pb.Message(type=pb.MESSAGE_SERVER_CONFIRM_SESSION)
    msg.server_confirm_session.connection_id = connection_id
    return msg.SerializeToString()


def server_error(code: int, message: str, *, connection_id: str = "", req_id: str = "") -> bytes:
    msg = pb.Message(type=pb.MESSAGE_SERVER_ERROR)
    err = msg.server_error
    err.code = code
    err.message = message
    err.connection_id = connection_id
    err.req_id = req_id
    return msg.SerializeToString()


def animation_frame(connection_id: str, req_id: str, end: bool) -> bytes:
    msg = pb.Message(type=pb.MESSAGE_SERVER_RESPONSE_ANIMATION)
    frame = msg.server_response_animation
    frame.connection_id = connection_id
    frame.req_id = req_id
    frame.end = end
    return msg.SerializeToString()
