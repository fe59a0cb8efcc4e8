"""The standard TEN AI module payloads this extension sends: data `error` and `metrics`."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

MODULE = "avatar"
VENDOR = "spatius"


def error_payload(
    code: int,
    message: str,
    *,
    vendor_code: str | None = None,
    vendor_message: str | None = None,
    turn_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": turn_id or str(uuid.uuid4()),
        "module": MODULE,
        "code": code,
        "message": message,
        "metadata": dict(metadata or {}),
    }
    if vendor_code is not None:
        payload["vendor_info"] = {
            "vendor": VENDOR,
            "code": vendor_code,
            "message": vendor_message if vendor_message is not None else message,
        }
    return payload


def metrics_payload(
    metrics: Mapping[str, float | int],
    *,
    turn_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "id": turn_id or str(uuid.uuid4()),
        "module": MODULE,
        "vendor": VENDOR,
        "metrics": dict(metrics),
        "metadata": dict(metadata or {}),
    }
