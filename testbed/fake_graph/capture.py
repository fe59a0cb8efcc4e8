"""Turns a received TEN message into a ReceivedMessage for the records."""

from __future__ import annotations

import json
import time
from typing import Any

from ten_runtime import AudioFrame, Data, VideoFrame

from .records import ReceivedMessage


def capture(kind: str, msg: Any) -> ReceivedMessage:
    received_at = time.perf_counter()
    text, error = msg.get_property_to_json(None)
    properties = json.loads(text) if error is None and text else {}
    source = msg.get_source().extension_name
    if isinstance(msg, AudioFrame):
        return ReceivedMessage(
            kind,
            msg.get_name(),
            properties,
            source,
            received_at,
            bytes(msg.get_buf()),
            msg.get_sample_rate(),
            msg.get_number_of_channels(),
            msg.get_bytes_per_sample(),
            msg.get_samples_per_channel(),
        )
    if isinstance(msg, (Data, VideoFrame)):
        buf = bytes(msg.get_buf())
        return ReceivedMessage(kind, msg.get_name(), properties, source, received_at, buf or None)
    return ReceivedMessage(kind, msg.get_name(), properties, source, received_at)
