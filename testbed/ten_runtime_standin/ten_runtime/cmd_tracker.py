"""Cmds in flight and their results: the first final result goes back to the sender's
loop, later ones are ignored; at stop every cmd still open is answered with ERROR."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable

from .cmd_result import CmdResult, StatusCode


@dataclass
class PendingCmd:
    cmd_id: str
    name: str
    sender: str
    receivers: tuple[str, ...]
    # Runs fn on the sender's loop; False once that loop is gone.
    call_on_sender_loop: Callable[..., bool]
    deliver: Callable[[CmdResult], None]


class CmdTracker:
    def __init__(self) -> None:
        self._pending: dict[str, PendingCmd] = {}
        self._lock = threading.Lock()
        self._silent = False

    def silence(self) -> None:
        """From now on no result is delivered (after a fatal error: the real process is gone)."""
        with self._lock:
            self._silent = True

    def open(self, pending: PendingCmd) -> None:
        with self._lock:
            self._pending[pending.cmd_id] = pending

    def resolve(self, result: CmdResult) -> PendingCmd | None:
        """Delivers `result` to the cmd's sender; None if the cmd is unknown or already has
        its final result (the result is then ignored)."""
        with self._lock:
            pending = self._pending.get(result._cmd_id)
            if pending is None:
                return None
            if result.is_final():
                del self._pending[result._cmd_id]
            if self._silent:
                return None
        pending.call_on_sender_loop(pending.deliver, result)
        return pending

    def close_all(self, detail: str) -> list[PendingCmd]:
        """Answers every open cmd with an automatic ERROR result; returns them."""
        with self._lock:
            left = list(self._pending.values())
            self._pending.clear()
            if self._silent:
                return []  # nothing is answered any more
        for pending in left:
            result = CmdResult.for_cmd(StatusCode.ERROR, pending.name, pending.cmd_id)
            result.set_property_string("detail", detail)
            pending.call_on_sender_loop(pending.deliver, result)
        return left
