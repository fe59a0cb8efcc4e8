"""Summary counters for a benchmark in another process (`GET /_emulator/stats`).

Times are `time.monotonic()` seconds: CLOCK_MONOTONIC on Linux, shared by every process
on the machine, so a client can subtract its own `time.monotonic()` send times.
"""

from __future__ import annotations

import time
from typing import Any

from .recording import ConnectionRecord, Recording, RequestRecord

CLOCK = "time.monotonic() seconds (Linux CLOCK_MONOTONIC, system-wide)"


def _request_stats(request: RequestRecord, with_chunks: bool) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "req_id": request.req_id,
        "messages": request.message_count,
        "bytes": request.byte_count,
        "duration_s": request.duration_s,
        "first_arrival_s": request.first_arrival_at,
        "last_arrival_s": request.last_arrival_at,
        "ended": request.ended,
        "end_s": request.end_at,
        "interrupt_s": request.interrupted_at,
    }
    if with_chunks:
        stats["chunks"] = [[c.arrived_at, c.nbytes, c.duration_s] for c in request.chunks]
    return stats


def _connection_stats(conn: ConnectionRecord, with_chunks: bool) -> dict[str, Any]:
    return {
        "index": conn.index,
        "connection_id": conn.connection_id,
        "avatar_id": conn.avatar_id,
        "refused_status": conn.refused_status,
        "handshake_error": conn.handshake_error.code if conn.handshake_error else None,
        "sample_rate": conn.sample_rate,
        "audio_format": conn.audio_format,
        "opened_s": conn.opened_at,
        "confirmed_s": conn.confirmed_at,
        "closed_s": conn.closed_at,
        "closed_by": conn.closed_by,
        "close_code": conn.close_code,
        "audio_messages": conn.audio_messages,
        "bytes": conn.audio_bytes,
        "interrupts": len(conn.interrupts),
        "errors_sent": [[e.code, e.message] for e in conn.errors_sent],
        "requests": [_request_stats(r, with_chunks) for r in conn.requests],
    }


def build_stats(recording: Recording, *, with_chunks: bool = False) -> dict[str, Any]:
    connections = recording.connections
    return {
        "clock": CLOCK,
        "now_s": time.monotonic(),
        "token_requests": len(recording.token_requests),
        "open_connections": sum(1 for c in connections if c.closed_at is None),
        "connections": [_connection_stats(c, with_chunks) for c in connections],
    }
